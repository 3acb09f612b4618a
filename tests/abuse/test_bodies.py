"""Oversized bodies and odd encodings get a clean page with a clear status, never a 500."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from referrals.models import Referral
from tests.referrals.wizard import SELF_PREFIX, SELF_STEPS, Wizard, routine_answers

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"
ABOUT_YOU = "/refer/about-you/"


def text(response) -> str:
    return response.content.decode(errors="replace")


@pytest.fixture
def wizard(reference_data) -> Wizard:
    """A person who has answered every step before "about you"."""
    wizard = Wizard(Client())
    wizard.walk(routine_answers(), SELF_STEPS[: SELF_STEPS.index("about-you")])
    return wizard


def about_you_body(**fields: bytes) -> bytes:
    answers = {
        key: value.encode() for key, value in routine_answers()["about-you"].items()
    } | fields
    parts = [f"{SELF_PREFIX}-current_step=about-you".encode()]
    parts += [b"about-you-" + key.encode() + b"=" + value for key, value in answers.items()]
    return b"&".join(parts)


def post_raw(client, path: str, body: bytes, content_type: str = FORM):
    return client.generic("POST", path, body, content_type=content_type)


def test_a_body_over_the_upload_limit_gets_a_clear_413_page(wizard, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = about_you_body(given_name=b"A" * 20_000)
    response = post_raw(wizard.client, ABOUT_YOU, body)
    assert response.status_code == 413
    assert "too large" in text(response)
    assert "If you need help now" in text(response)  # the site's own page, with crisis lines


def test_too_many_fields_get_a_clear_400_page(wizard, settings):
    body = about_you_body() + b"".join(
        b"&x%d=1" % n for n in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)
    )
    response = post_raw(wizard.client, ABOUT_YOU, body)
    assert response.status_code == 400
    assert "could not be read" in text(response)


def test_a_body_that_is_not_utf8_is_answered_with_the_form_not_an_error(wizard):
    response = post_raw(wizard.client, ABOUT_YOU, about_you_body(given_name=b"%C3%28Al%FFex"))
    assert response.status_code in (200, 302)
    assert not Referral.objects.exists()


def test_a_form_declared_latin1_is_refused_with_a_clear_400_page_and_nothing_changes(wizard):
    # Django reads urlencoded forms as UTF-8 only (browsers send them so).
    body = about_you_body(given_name="Zoë".encode("latin-1"))
    response = post_raw(wizard.client, ABOUT_YOU, body, f"{FORM}; charset=ISO-8859-1")
    assert response.status_code == 400
    assert "could not be read" in text(response)
    assert "If you need help now" in text(response)
    assert "Zo" not in given_name_input(wizard.get("about-you"))


def given_name_input(response) -> str:
    """The given-name field's tag: a page's CSRF token is random letters and digits, so a
    check of the whole page for two letters failed about once in sixty runs."""
    tag = re.search(r'<input[^>]*name="about-you-given_name"[^>]*>', text(response))
    assert tag is not None, "no given-name field on the page"
    return tag.group(0)


def test_an_unknown_charset_is_ignored(wizard):
    response = post_raw(wizard.client, ABOUT_YOU, about_you_body(), f"{FORM}; charset=x-nonsense")
    assert response.status_code == 302


def test_nul_bytes_are_refused_with_a_message_and_the_rest_is_kept(wizard):
    response = post_raw(
        wizard.client, ABOUT_YOU, about_you_body(given_name=b"Al%00ex", family_name=b"Kept")
    )
    assert response.status_code == 200
    assert "Null characters are not allowed." in text(response)
    assert 'value="Kept"' in text(response)


def test_an_overlong_name_is_refused_with_the_limit_and_kept(wizard):
    response = post_raw(wizard.client, ABOUT_YOU, about_you_body(given_name=b"N" * 5000))
    assert response.status_code == 200
    assert "at most" in text(response)
    assert "N" * 5000 in text(response)


def test_a_multipart_body_with_the_wrong_boundary_is_read_as_empty(wizard):
    response = post_raw(
        wizard.client, ABOUT_YOU, b"--nope\r\ngarbage", "multipart/form-data; boundary=x"
    )
    assert response.status_code == 302  # back to the step, nothing stored
    assert not Referral.objects.exists()


def test_a_multipart_body_without_a_boundary_gets_a_clear_400_page(wizard):
    response = post_raw(wizard.client, ABOUT_YOU, b"garbage", "multipart/form-data")
    assert response.status_code == 400
    assert "could not be read" in text(response)
