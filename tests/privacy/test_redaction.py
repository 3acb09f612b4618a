import io
import logging
import sys

import pytest
from django.conf import settings

from privacy.redaction import RedactPersonalData, Sensitive, redact

EMAIL = "marker.person+tag@example-hospital.nsw.gov.au"


@pytest.mark.parametrize(
    "phone",
    [
        "0412 345 678",
        "0412345678",
        "+61 412 345 678",
        "+61412345678",
        "61412345678",
        "(02) 9876 5432",
        "02 9876 5432",
        "+61 2 9876 5432",
        "+61 (0)2 9876 5432",
        "0412-345-678",
    ],
)
def test_australian_phone_numbers_are_replaced(phone):
    assert redact(f"call {phone} after 5") == "call [phone] after 5"


def test_email_addresses_are_replaced():
    assert redact(f"sent to {EMAIL}.") == "sent to [email]."


@pytest.mark.parametrize(
    "text",
    [
        "Lifeline 13 11 14, Drs4Drs 1300 374 377, emergency 000",
        "referral 123456789 moved to proposed",
        "slot 2026-12-01T09:00:00+11:00",
    ],
)
def test_service_numbers_ids_and_times_are_left_alone(text):
    assert redact(text) == text


def _record(message, *args, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("referrals", logging.ERROR, __file__, 1, message, args, exc_info)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def _formatted(record: logging.LogRecord) -> str:
    RedactPersonalData().filter(record)
    return logging.Formatter("%(message)s %(note)s").format(record)


def test_the_filter_redacts_arguments_marked_values_extras_and_tracebacks():
    try:
        raise ValueError(f"duplicate key (email)=({EMAIL})")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record(
        "lookup %s by %s failed",
        Sensitive("MARKER-free-text"),
        "0412 345 678",
        exc_info=exc_info,
        note=Sensitive("MARKER-extra"),
    )
    output = _formatted(record)
    assert "MARKER" not in output and EMAIL not in output and "0412" not in output
    assert "lookup [redacted] by [phone] failed [redacted]" in output
    assert "duplicate key (email)=([email])" in output


def test_a_record_whose_arguments_do_not_format_is_still_logged_without_them():
    output = _formatted(_record("count %d", "MARKER-not-a-number", note=""))
    assert "MARKER" not in output and "count %d" in output


def test_every_configured_handler_carries_the_redaction_filter():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact_personal_data" in handler.get("filters", []), name
    configured = {
        logging.getLogger(),
        logging.getLogger("django"),
        logging.getLogger("django.server"),
    }
    for logger in configured:
        for handler in logger.handlers:
            if type(handler).__module__.startswith("_pytest"):
                continue
            assert any(isinstance(f, RedactPersonalData) for f in handler.filters), handler


@pytest.fixture
def console_output():
    """What the configured console handler writes, for the length of one test."""
    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactPersonalData) for f in handler.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_a_log_line_with_contact_details_reaches_the_console_without_them(console_output):
    logging.getLogger("referrals.views").warning("could not reach %s on %s", EMAIL, "0412345678")
    logging.getLogger("django.request").error("Bad request for %s", EMAIL)
    err = console_output.getvalue()
    assert "could not reach [email] on [phone]" in err
    assert "Bad request for [email]" in err
    assert EMAIL not in err and "0412345678" not in err
