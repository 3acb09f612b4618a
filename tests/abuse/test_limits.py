"""The submission rate limit and the staff lock-out, at their edges: windows and cool-offs end,
forged addresses change nothing, and no one can be locked out for good or for everyone.

The basics (the limit's page keeps the answers, a lock-out ends after the cool-off, failures
from elsewhere lock no colleague out) are in tests/referrals/test_wizard.py and
tests/staff/test_sign_in.py; tests/abuse/test_limits_on_gunicorn.py runs both against gunicorn.
"""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from referrals.models import Referral
from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers
from tests.staff.factories import PASSWORD, current_code, staff_user, totp_device

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def send(client: Client, email: str):
    """One person through the wizard; returns the check page's answer."""
    wizard = Wizard(client)
    answers = routine_answers(email=email)
    wizard.walk(answers, SELF_STEPS[:-1])
    return wizard.post("check", {})


def password_step(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        reverse("staff:sign_in"), {"username": username, "password": password}, **extra
    )


def signs_in(client: Client, user, device, **extra) -> bool:
    password_step(client, user.username, **extra)
    client.post(reverse("staff:verify"), {"token": current_code(device)}, **extra)
    return client.get(reverse("coordinate:counts"), **extra).status_code == 200


@pytest.fixture
def casey():
    user = staff_user("coordinator", username="casey")
    return user, totp_device(user)


# The submission rate limit


def test_a_client_over_the_submission_limit_can_send_again_in_the_next_window(
    reference_data, settings
):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 2
    settings.REFERRAL_SUBMISSION_WINDOW_SECONDS = 3600
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        statuses = [send(client, f"p{n}@example.test").status_code for n in range(3)]
        assert statuses == [302, 302, 429]
        clock.shift(dt.timedelta(minutes=59))
        assert send(client, "p3@example.test").status_code == 429
        clock.shift(dt.timedelta(minutes=2))
        assert send(client, "p4@example.test")["Location"] == reverse("referrals:refer_sent")
    assert Referral.objects.count() == 3


def test_forged_forwarded_for_entries_do_not_escape_the_submission_limit(reference_data, settings):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 2
    settings.TRUSTED_PROXY_COUNT = 1
    statuses = []
    for n in range(4):
        # The sender writes a new left-hand entry each time; our proxy appends the real address.
        forged = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"198.18.0.{n}, 203.0.113.9")
        statuses.append(send(forged, f"p{n}@example.test").status_code)
    assert statuses == [302, 302, 429, 429]
    neighbour = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert send(neighbour, "other@example.test").status_code == 302


def test_with_the_cache_unreachable_a_referral_is_still_sent(reference_data, settings):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    statuses = [send(Client(), f"p{n}@example.test").status_code for n in range(2)]
    assert statuses == [302, 302]
    assert Referral.objects.count() == 2


def test_asking_for_the_link_again_opens_up_in_the_next_window(db, settings):
    settings.REFERRER_LINK_REQUESTS_PER_ADDRESS = 1
    client, url = Client(), reverse("referrals:my_link")
    with time_machine.travel(START, tick=False) as clock:
        assert client.post(url, {"email": "sam@example.test"}).status_code == 302
        assert client.post(url, {"email": "sam@example.test"}).status_code == 429
        clock.shift(dt.timedelta(seconds=settings.REFERRER_LINK_REQUEST_WINDOW_SECONDS))
        assert client.post(url, {"email": "sam@example.test"}).status_code == 302


# The staff lock-out


def test_failing_on_during_a_lock_out_does_not_make_it_last_longer(casey, settings):
    settings.AXES_FAILURE_LIMIT = 5
    user, device = casey
    attacker = Client()
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            password_step(attacker, "casey", "guess")
        for _ in range(14):  # a guess a minute for the whole cool-off
            clock.shift(dt.timedelta(minutes=1))
            assert password_step(attacker, "casey", "guess").status_code == 429
        clock.shift(dt.timedelta(minutes=1, seconds=1))
        assert signs_in(attacker, user, device)


def test_guessing_every_account_from_one_address_locks_no_owner_out(settings):
    owners = [staff_user("coordinator", username=f"staff{n}") for n in range(3)]
    devices = [totp_device(user) for user in owners]
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for user in owners:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            password_step(attacker, user.username, "guess")
        assert password_step(attacker, user.username).status_code == 429
    for n, (user, device) in enumerate(zip(owners, devices, strict=True)):
        assert signs_in(Client(REMOTE_ADDR=f"198.51.100.{n + 1}"), user, device)


@pytest.mark.parametrize(
    ("trusted_proxies", "colleague_signs_in"),
    [(1, True), (0, False)],  # 0 behind a proxy is the misconfiguration the setting prevents
)
def test_behind_the_proxy_only_the_real_client_is_locked_out(
    casey, settings, trusted_proxies, colleague_signs_in
):
    settings.TRUSTED_PROXY_COUNT = trusted_proxies
    user, device = casey
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_step(attacker, "casey", "guess")
    assert password_step(attacker, "casey").status_code == 429
    colleague = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert signs_in(colleague, user, device) is colleague_signs_in
