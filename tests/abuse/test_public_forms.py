"""Every page a visitor without an account can post to, fuzzed: never a server error; bad input
gets a clear message and keeps what was typed.

The wizard's own steps are fuzzed field by field in tests/referrals/test_wizard_fuzz.py; here
every public URL (the wizard's included) takes arbitrary posts, and the list of public URLs is
checked against the URL configuration, so a new public page fails here until it is fuzzed.
"""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.services import response_token
from referrals.links import referrer_token
from scheduling.services import Response
from tests.referrals.factories import ReferralFactory
from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers
from tests.scheduling.factories import AppointmentFactory
from tests.staff.factories import PASSWORD, staff_user, totp_device

pytestmark = pytest.mark.django_db

# Namespaces and names that need a staff account: the access matrix covers them.
STAFF_NAMESPACES = {"admin", "coordinate", "clinician"}
STAFF_ONLY = {
    "staff:home",
    "staff:backup_codes",
    "staff:clinician_week",
    "referrals:intake",
    "referrals:intake_step",
    "referrals:intake_sent",
    "referrals:intake_urgent",
}
# Every public URL name → the keyword arguments of a real, working address for it.
PUBLIC = {
    "referrals:home": None,
    "referrals:collection_notice": None,
    "referrals:refer": None,
    "referrals:refer_step": "step",
    "referrals:refer_sent": None,
    "referrals:refer_urgent": None,
    "referrals:my_link": None,
    "referrals:my_link_sent": None,
    "referrals:my_referral": "token",
    "referrals:my_next": "token",
    "referrals:my_withdraw": "token",
    "referrals:my_delete": "token",
    "referrals:my_session_ics": "session",
    "referrals:my_cancel": "session",
    "referrals:my_reschedule": "session",
    "notifications:inbound": None,
    "notifications:respond": "respond",
    "notifications:feed": "feed",
    "staff:sign_in": None,
    "staff:verify": None,
    "staff:enrol": None,
    "staff:sign_out": None,
    "staff:password_reset": None,
    "staff:password_reset_sent": None,
    "staff:password_reset_confirm": "reset",
    "staff:password_reset_done": None,
}

ODD = ["", " ", "\x00", "a\x00b", "é", "😀", "<script>x</script>", "' OR 1=1 --", "%", "\r\n"]
ODD += ["x" * 5000, "@", "a@b", "1" * 40, "-1", "0", "on", "yes", "accepted", "declined"]
value = st.sampled_from(ODD) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
FIELD_NAMES = ["email", "username", "password", "token", "next", "slot", "talk_now", "reason"]
FIELD_NAMES += ["new_password1", "new_password2", "confirm", "csrfmiddlewaretoken", "unexpected"]
form_data = st.dictionaries(
    st.sampled_from(FIELD_NAMES) | value, value | st.lists(value, max_size=3)
)
# What typed text may hold where the test checks it is shown again (escaped) on the page.
TYPED = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters=" .-_'&<>\""),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() == s and s)
# Every form, public and staff, opens its errors with this summary box.
ERROR_SUMMARY = 'class="error-summary" role="alert"'
FUZZ = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def public_url_names() -> set[str]:
    names = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, None)
    return {n for n in names if n.split(":")[0] not in STAFF_NAMESPACES and n not in STAFF_ONLY}


def test_every_public_url_is_fuzzed_here():
    assert public_url_names() == set(PUBLIC)


@pytest.fixture
def addresses(reference_data, settings):
    """Real keyword arguments for every kind of public address."""
    settings.INBOUND_MAIL_SECRET = "inbound-secret"
    appointment = AppointmentFactory(referral=ReferralFactory(status="booked"), status="accepted")
    referral_token = referrer_token(appointment.referral_id)
    staff = staff_user("coordinator", username="casey")
    return {
        None: {},
        "step": {"step": "about-you"},
        "token": {"token": referral_token},
        "session": {"token": referral_token, "appointment_id": appointment.pk},
        "respond": {
            "token": response_token(appointment.pk, Response.ACCEPTED, appointment.ical_sequence)
        },
        "feed": {"token": "not-a-feed"},
        "reset": {
            "uidb64": urlsafe_base64_encode(force_bytes(staff.pk)),
            "token": default_token_generator.make_token(staff),
        },
    }


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_any_post_to_a_public_page_is_answered_without_a_server_error(name, addresses):
    url = reverse(name, kwargs=addresses[PUBLIC[name]])
    client = Client()

    @settings(FUZZ, max_examples=6)
    @given(data=form_data)
    def post(data):
        response = client.post(url, data, HTTP_X_INBOUND_SECRET="inbound-secret")
        assert response.status_code < 500

    post()


@pytest.mark.parametrize("name", ["notifications:respond", "referrals:my_referral"])
def test_any_token_in_a_signed_address_is_answered_without_a_server_error(name, db):
    client = Client()

    @FUZZ
    @given(token=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
    def open_and_post(token):
        for method in (client.get, client.post):
            try:
                url = reverse(name, kwargs={"token": token})
            except NoReverseMatch:  # not a valid address at all: nothing to request
                return
            assert method(url).status_code in (400, 404, 405, 410)

    open_and_post()


# Clear messages, and what was typed is kept


def test_a_mistyped_address_asking_for_the_link_is_explained_and_kept(db):
    client = Client()

    @FUZZ
    @given(typed=TYPED.filter(lambda s: "@" not in s))
    def ask(typed):
        response = client.post(reverse("referrals:my_link"), {"email": typed})
        assert response.status_code == 400
        page = response.content.decode()
        assert "Enter an email address like name@example.com." in page
        assert f'value="{escape(typed)}"' in page

    ask()


def test_a_wrong_sign_in_says_so_and_keeps_the_username(db, settings):
    settings.AXES_FAILURE_LIMIT = 10_000  # the lock-out has tests of its own
    staff_user("coordinator", username="casey")
    client = Client()

    @FUZZ
    @given(username=TYPED, password=value)
    def sign_in(username, password):
        response = client.post(
            reverse("staff:sign_in"), {"username": username, "password": password}
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert ERROR_SUMMARY in page
        assert f'value="{escape(username)}"' in page

    sign_in()


def test_a_wrong_code_says_so_and_never_signs_in(db, settings):
    settings.AXES_FAILURE_LIMIT = 10_000
    user = staff_user("coordinator", username="casey")
    totp_device(user)
    client = Client()
    assert client.post(reverse("staff:sign_in"), {"username": "casey", "password": PASSWORD})[
        "Location"
    ].startswith(reverse("staff:verify"))

    @FUZZ
    @given(token=value)
    def code(token):
        response = client.post(reverse("staff:verify"), {"token": token})
        assert response.status_code == 200
        assert ERROR_SUMMARY in response.content.decode()
        assert client.get(reverse("coordinate:counts")).status_code == 302

    code()


def test_a_password_reset_for_any_text_is_answered_the_same_or_explained(db):
    client = Client()

    @FUZZ
    @given(email=value)
    def reset(email):
        response = client.post(reverse("staff:password_reset"), {"email": email})
        if response.status_code == 302:
            assert response["Location"] == reverse("staff:password_reset_sent")
        else:
            assert response.status_code == 200
            assert ERROR_SUMMARY in response.content.decode()

    reset()


def test_bad_details_in_the_wizard_are_explained_and_what_was_typed_is_kept(reference_data):
    wizard = Wizard(Client())
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[: SELF_STEPS.index("about-you")])

    @FUZZ
    @given(given_name=TYPED, email=TYPED.filter(lambda s: "@" not in s))
    def about_you(given_name, email):
        response = wizard.post("about-you", {**answers["about-you"], "given_name": given_name,
                                             "email": email})  # fmt: skip
        assert response.status_code == 200
        page = response.content.decode()
        assert ERROR_SUMMARY in page
        assert f'value="{escape(given_name)}"' in page
        assert f'value="{escape(email)}"' in page

    about_you()


# The inbound mail endpoint


CONTENT_TYPES = [
    "message/rfc822",
    "text/plain; charset=utf-8",
    "text/calendar; method=REPLY; charset=latin-1",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=x-nonsense",
    "multipart/form-data; boundary=zzz",
    "multipart/form-data",
    "application/octet-stream",
    "",
]


def test_any_body_posted_to_the_inbound_endpoint_gets_a_clear_json_answer(client, settings):
    settings.INBOUND_MAIL_SECRET = "inbound-secret"
    settings.INBOUND_MAIL_MAX_BYTES = 4000

    @FUZZ
    @given(
        body=st.binary(max_size=6000)
        | st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass")),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    def post(body, content_type):
        response = client.generic(
            "POST",
            reverse("notifications:inbound"),
            body,
            content_type=content_type,
            HTTP_X_INBOUND_SECRET="inbound-secret",
        )
        assert response.status_code in (200, 400, 413)
        assert response["Content-Type"] == "application/json"
        if len(body) > settings.INBOUND_MAIL_MAX_BYTES:
            assert response.status_code == 413

    post()
