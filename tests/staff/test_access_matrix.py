"""Every URL against every kind of visitor: who gets in, who is sent to sign in or to the code
step, and who is refused.

The URL list is checked against the URL configuration, so a new URL fails here until it has a
row (the admin's own URLs, generated per model, are walked in a test of their own). Roles are
built in ROLES. "referrer_link" is a person who has opened their signed link in this browser:
on staff pages they are treated like "anonymous" (a signed link grants a referrer their own
case only, never a staff page). Public pages answer everyone the same; pages behind a signed
address (the referrer's page, a clinician's Accept/Decline link and feed) answer whoever holds
the address, the same for every role, and nobody with an altered one.
"""

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from notifications.services import response_token
from referrals.links import referrer_token
from scheduling.models import AvailabilityRule, TimeOff
from scheduling.services import Response
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.staff.factories import MODEL_BACKEND, sign_in_verified, staff_user

# Who may reach a URL:
PUBLIC = "public"  # no check: sign-in and password reset
SIGNING_IN = "signing_in"  # the code and set-up steps: someone part-way through signing in
VERIFIED = "verified"  # any account with a verified second factor
OWN_WEEK = "own_week"  # coordinators, and the clinician whose week it is
COORDINATOR = "coordinator"  # coordinators and admins only
CLINICIAN = "clinician"  # clinicians only (their portal works on their own objects)
OWN_OBJECT = "own_object"  # clinician A, whose session, rule or leave it is; B gets a 404
DJANGO_ADMIN = "django_admin"  # verified accounts with Django's is_staff
ANYONE = "anyone"  # public pages: the same answer for every role
SIGNED_ADDRESS = "signed_address"  # whoever holds the signed address, the same for every role

# (url name, kwargs key, audience, status a permitted GET gets, whether POST is tried)
URLS = [
    ("staff:sign_in", None, PUBLIC, 200, False),
    ("staff:verify", None, SIGNING_IN, 200, False),
    ("staff:enrol", None, SIGNING_IN, 200, False),
    ("staff:sign_out", None, PUBLIC, 405, False),
    ("staff:password_reset", None, PUBLIC, 200, False),
    ("staff:password_reset_sent", None, PUBLIC, 200, False),
    ("staff:password_reset_confirm", "reset", PUBLIC, 302, False),
    ("staff:password_reset_done", None, PUBLIC, 200, False),
    ("staff:home", None, VERIFIED, 302, False),
    ("staff:backup_codes", None, VERIFIED, 200, True),
    ("staff:clinician_week", "clinician", OWN_WEEK, 200, False),
    ("coordinate:dashboard", None, COORDINATOR, 200, False),
    ("coordinate:counts", None, COORDINATOR, 200, False),
    ("coordinate:case", "case", COORDINATOR, 200, False),
    ("coordinate:case_reveal", "case", COORDINATOR, 405, True),
    ("coordinate:case_acknowledge", "case", COORDINATOR, 405, True),
    ("coordinate:case_assign", "case", COORDINATOR, 200, True),
    ("coordinate:case_match", "case", COORDINATOR, 405, True),
    ("coordinate:case_limit", "case", COORDINATOR, 405, True),
    ("coordinate:case_note", "case", COORDINATOR, 405, True),
    ("coordinate:case_close", "case", COORDINATOR, 405, True),
    ("coordinate:appointment_cancel", "appointment", COORDINATOR, 405, True),
    ("coordinate:appointment_resend", "appointment", COORDINATOR, 405, True),
    # Before the re-match, which ends the session these rows share.
    ("coordinate:appointment_reschedule", "appointment", COORDINATOR, 200, True),
    ("coordinate:appointment_rematch", "appointment", COORDINATOR, 405, True),
    ("coordinate:deletion_requests", None, COORDINATOR, 200, False),
    ("coordinate:deletion_confirm", "case", COORDINATOR, 405, True),
    ("coordinate:clinicians", None, COORDINATOR, 200, False),
    ("coordinate:clinician_create", None, COORDINATOR, 200, True),
    ("coordinate:clinician", "clinician", COORDINATOR, 200, True),
    ("coordinate:availability", "clinician", COORDINATOR, 200, True),
    ("coordinate:availability_delete", "rule", COORDINATOR, 405, True),
    ("coordinate:leave", "clinician", COORDINATOR, 200, True),
    ("coordinate:leave_delete", "time_off", COORDINATOR, 405, True),
    ("coordinate:clinician_deactivate", "clinician", COORDINATOR, 200, True),
    ("coordinate:stats", None, COORDINATOR, 200, False),
    ("coordinate:stats_csv", None, COORDINATOR, 200, False),
    ("clinician:sessions", None, CLINICIAN, 200, False),
    ("clinician:session", "appointment_id", OWN_OBJECT, 200, False),
    ("clinician:respond", "appointment_id", OWN_OBJECT, 405, True),
    ("clinician:complete", "appointment_id", OWN_OBJECT, 405, True),
    ("clinician:no_show", "appointment_id", OWN_OBJECT, 405, True),
    ("clinician:availability", None, CLINICIAN, 200, True),
    ("clinician:availability_delete", "rule_id", OWN_OBJECT, 405, True),
    ("clinician:leave", None, CLINICIAN, 200, True),
    ("clinician:leave_delete", "time_off_id", OWN_OBJECT, 405, True),
    ("clinician:capacity", None, CLINICIAN, 200, True),
    ("clinician:feed", None, CLINICIAN, 200, False),
    ("clinician:feed_rotate", None, CLINICIAN, 405, True),
    ("admin:index", None, DJANGO_ADMIN, 200, False),
    ("referrals:home", None, ANYONE, 200, False),
    ("referrals:collection_notice", None, ANYONE, 200, False),
    ("referrals:refer", None, ANYONE, 302, False),
    ("referrals:refer_step", "step", ANYONE, 200, False),
    ("referrals:refer_sent", None, ANYONE, 302, False),  # nothing sent in this session
    ("referrals:refer_urgent", None, ANYONE, 200, False),
    ("referrals:my_link", None, ANYONE, 200, False),
    ("referrals:my_link_sent", None, ANYONE, 200, False),
    ("referrals:my_referral", "link", SIGNED_ADDRESS, 200, False),
    ("referrals:my_next", "link", SIGNED_ADDRESS, 302, False),
    ("referrals:my_withdraw", "link", SIGNED_ADDRESS, 200, False),
    ("referrals:my_delete", "link", SIGNED_ADDRESS, 200, False),
    ("referrals:my_session_ics", "link_session", SIGNED_ADDRESS, 200, False),
    ("referrals:my_cancel", "link_session", SIGNED_ADDRESS, 200, False),
    ("referrals:my_reschedule", "link_session", SIGNED_ADDRESS, 200, False),
    ("referrals:intake", None, COORDINATOR, 302, False),
    ("referrals:intake_step", "step", COORDINATOR, 200, False),
    ("referrals:intake_sent", None, COORDINATOR, 302, False),
    ("referrals:intake_urgent", None, COORDINATOR, 200, False),
    ("notifications:inbound", None, ANYONE, 405, False),  # a POST with the shared secret only
    ("notifications:respond", "respond", SIGNED_ADDRESS, 200, False),
    ("notifications:feed", "feed", SIGNED_ADDRESS, 200, False),
]

STAFF_NAMESPACES = ("staff", "coordinate", "clinician")
MATRIX_NAMESPACES = (*STAFF_NAMESPACES, "referrals", "notifications")
ROLES = [
    "anonymous",
    "referrer_link",
    "unverified",
    "clinician_a",
    "clinician_b",
    "coordinator",
    "admin",
]


def _sign_in(user) -> Client:
    return sign_in_verified(Client(), user)


def _client_for(role: str, people: dict) -> Client:
    if role == "anonymous":
        return Client()
    if role == "referrer_link":
        client = Client()
        token = referrer_token(people["referral"].pk)
        assert client.get(reverse("referrals:my_referral", args=[token])).status_code == 200
        return client
    if role == "unverified":
        client = Client()
        client.force_login(people["coordinator"], backend=MODEL_BACKEND)
        return client
    return _sign_in(people[role])


def _expected(role: str, audience: str, status_if_allowed: int) -> object:
    """What this role should get: a status, or where it is redirected."""
    if audience in (ANYONE, SIGNED_ADDRESS):
        return status_if_allowed
    if audience == PUBLIC:
        return None  # anyone; checked only for never being refused or failing
    if role in ("anonymous", "referrer_link"):
        return "sign_in"
    if audience == SIGNING_IN:
        # part-way through: shown the step (or sent on to the other step); signed in: sent on
        return None if role == "unverified" else 302
    if role == "unverified":
        return "verify"
    if audience == OWN_OBJECT and role == "clinician_b":
        # Let in as a clinician, then nothing of A's is found; a POST-only page says so first.
        return 405 if status_if_allowed == 405 else 404
    allowed = {
        VERIFIED: True,
        OWN_WEEK: role in ("clinician_a", "coordinator", "admin"),
        COORDINATOR: role in ("coordinator", "admin"),
        CLINICIAN: role in ("clinician_a", "clinician_b"),
        OWN_OBJECT: role == "clinician_a",
        DJANGO_ADMIN: role == "admin",
    }[audience]
    return status_if_allowed if allowed else 403


def _expected_post(role: str, audience: str, expected: object) -> object:
    """What a POST should get: a permitted one is handled (200, 302 or 400); clinician B's
    POST to A's object finds nothing."""
    if audience == OWN_OBJECT and role == "clinician_b":
        return 404
    return "allowed" if expected in (200, 405, 302) else expected


def _altered(token: str) -> str:
    """The token with one character changed, as a guess or a typo would."""
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def _outcome(response) -> object:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith(reverse("staff:sign_in")):
            return "sign_in"
        if location.startswith(reverse("staff:verify")):
            return "verify"
    return response.status_code


@pytest.fixture
def people(db, clinician_a, clinician_b):
    return {
        "coordinator": staff_user("coordinator", username="coord"),
        "admin": staff_user("admin", username="admin1", is_staff=True),
        "clinician_a": clinician_a.user,
        "clinician_b": clinician_b.user,
        "clinician_profile": clinician_a,
        "referral": ReferralFactory(status="new"),
    }


def _kwargs(people) -> dict:
    clinician = people["clinician_profile"]
    referral = ReferralFactory(status="proposed")
    appointment = AppointmentFactory(referral=referral, slot=SlotFactory(clinician=clinician))
    rule = AvailabilityRule.objects.create(
        clinician=clinician,
        weekday=0,
        starts_at_time="09:00",
        ends_at_time="10:00",
        valid_from_on="2026-01-05",
    )
    time_off = TimeOff.objects.create(
        clinician=clinician, starts_at=appointment.slot.starts_at, ends_at=appointment.slot.ends_at
    )
    user = people["coordinator"]
    # The signed addresses name objects of their own, which the staff rows' POSTs (a
    # re-match, a deactivation) leave alone.
    elsewhere = ClinicianFactory()
    booked = AppointmentFactory(
        referral=ReferralFactory(status="booked"),
        slot=SlotFactory(clinician=elsewhere),
        status="accepted",
    )
    invited = AppointmentFactory(
        referral=ReferralFactory(status="proposed"), slot=SlotFactory(clinician=elsewhere)
    )
    link = referrer_token(booked.referral_id)
    return {
        None: {},
        "step": {"step": "service"},
        "link": {"token": link},
        "link_session": {"token": link, "appointment_id": booked.pk},
        "respond": {"token": response_token(invited.pk, Response.ACCEPTED, invited.ical_sequence)},
        "feed": {"token": elsewhere.feed_token},
        "case": {"reference": referral.reference},
        "appointment": {"reference": referral.reference, "appointment_id": appointment.pk},
        "appointment_id": {"appointment_id": appointment.pk},
        "rule_id": {"rule_id": rule.pk},
        "time_off_id": {"time_off_id": time_off.pk},
        "clinician": {"clinician_id": clinician.pk},
        "rule": {"clinician_id": clinician.pk, "rule_id": rule.pk},
        "time_off": {"clinician_id": clinician.pk, "time_off_id": time_off.pk},
        "reset": {
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    }


def _url_names(namespaces) -> set[str]:
    names = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in namespaces:
                names.add(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, None)
    return names


def test_every_url_is_in_the_matrix():
    assert _url_names((None,)) == set()  # every URL lives in a namespace the matrix knows
    assert _url_names(MATRIX_NAMESPACES) == {
        name for name, *_rest in URLS if not name.startswith("admin:")
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_the_pages_meant_for_it(role, people):
    kwargs = _kwargs(people)
    client = _client_for(role, people)
    wrong = []
    for name, key, audience, status_if_allowed, try_post in URLS:
        url = reverse(name, kwargs=kwargs[key])
        expected = _expected(role, audience, status_if_allowed)
        got = _outcome(client.get(url))
        if (expected is None and got in (403, 500)) or (expected is not None and got != expected):
            wrong.append(f"GET {name}: expected {expected}, got {got}")
        if audience == SIGNED_ADDRESS:
            altered = {**kwargs[key], "token": _altered(kwargs[key]["token"])}
            got = _outcome(client.get(reverse(name, kwargs=altered)))
            if got not in (400, 404):
                wrong.append(f"GET {name} with an altered address: expected 400/404, got {got}")
        if try_post:
            got = _outcome(client.post(url, {}))
            post_expected = _expected_post(role, audience, expected)
            if post_expected == "allowed" and got in (200, 302, 400):
                continue
            if got != post_expected:
                wrong.append(f"POST {name}: expected {post_expected}, got {got}")
    assert wrong == []


ADMIN_ARGUMENTS = {
    "id": "1",
    "object_id": "1",
    "app_label": "referrals",
    "content_type_id": "1",
    "url": "x",
}


def _admin_urls() -> list[str]:
    """Every URL of the admin, each model's included, with a made-up id where one is needed."""
    urls = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace == "admin":
                parameters = pattern.pattern.regex.groupindex
                kwargs = {name: ADMIN_ARGUMENTS.get(name, "1") for name in parameters}
                if pattern.name:
                    urls.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
                else:  # the catch-all: any unknown admin address
                    urls.append(f"/{settings.ADMIN_URL}no-such-page/")

    walk(get_resolver().url_patterns, None)
    return urls


# What an admin gets on the admin's own special pages: the sign-in page forwards to the staff
# sign-in (which sends a signed-in person on), signing out takes a POST, and the autocomplete
# refuses a request without its query.
ADMIN_SPECIAL = {"login": "sign_in", "logout": 405, "autocomplete": 403}


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_reach_any_admin_url(role, people):
    if role == "admin":  # with every model's permissions, so each page really opens
        people["admin"].is_superuser = True
        people["admin"].save(update_fields=["is_superuser"])
    client = _client_for(role, people)
    special = {reverse(f"admin:{name}"): status for name, status in ADMIN_SPECIAL.items()}
    changelists = {reverse(n) for n in _url_names(("admin",)) if n.endswith("_changelist")}
    wrong = []
    for url in _admin_urls():
        got = _outcome(client.get(url))
        if role in ("anonymous", "referrer_link"):
            expected = {"sign_in"}
        elif role == "unverified":
            expected = {"verify"}
        elif role == "admin" and url in special:
            expected = {special[url]}
        elif role == "admin" and url in changelists:
            expected = {200}
        elif role == "admin":
            # 403: the read-only admins (the audit log, clinician weeks) refuse every change;
            # 302/404: the made-up id names nothing
            expected = {200, 302, 403, 404}
        else:
            expected = {403}
        if got not in expected:
            wrong.append(f"{url}: {got}")
    assert wrong == []
