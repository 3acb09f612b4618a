import sys

from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class, get_exception_reporter_filter

MARKER_EMAIL = "marker.person@example.test"
MARKER_TEXT = "MARKER-what-is-going-on"
MARKER_TOKEN = "MARKER-token"
# Reports show the source lines around the failure, so the markers live in these names only.
POSTED = {"details-details": MARKER_TEXT, "contact-email": MARKER_EMAIL, "wizard-current_step": "x"}


def _report(settings) -> str:
    request = RequestFactory().post(f"/refer/dup/?token={MARKER_TOKEN}", POSTED)
    details = MARKER_TEXT  # noqa: F841  (a local variable in the failing frame)
    count = 3
    try:
        raise ValueError(f"duplicate key value (email)=({MARKER_EMAIL}) after {count} tries")
    except ValueError:
        exc_info = sys.exc_info()
    reporter = get_exception_reporter_class(request)(request, *exc_info)
    assert type(reporter.filter) is type(get_exception_reporter_filter(request))
    return reporter.get_traceback_text() + reporter.get_traceback_html()


def test_error_reports_carry_no_posted_answers_query_tokens_locals_or_addresses(settings):
    report = _report(settings)
    assert MARKER_TEXT not in report
    assert MARKER_EMAIL not in report
    assert MARKER_TOKEN not in report
    assert "details-details" in report  # the field names stay, to help debugging
    assert "duplicate key value (email)=([email])" in report


def test_error_reports_hide_keys_and_service_addresses(settings):
    settings.CELERY_BROKER_URL = "redis://:MARKER-password@127.0.0.1:6379/0"
    report = _report(settings)
    assert "MARKER-password" not in report
    assert settings.FIELD_ENCRYPTION_KEYS[0] not in report
