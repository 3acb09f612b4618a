import base64
import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from staff.demo import demo_staff_prepare
from tests.staff.factories import (
    PASSWORD,
    current_code,
    sign_in_verified,
    staff_user,
    totp_device,
)

pytestmark = pytest.mark.django_db
DASHBOARD = "/coordinate/"


def _password_step(client, username, password=PASSWORD, next_url=DASHBOARD, **extra):
    return client.post(
        reverse("staff:sign_in"),
        {"username": username, "password": password, "next": next_url},
        **extra,
    )


def _code_step(client, code, next_url=DASHBOARD, **extra):
    return client.post(reverse("staff:verify"), {"token": code, "next": next_url}, **extra)


def _is_signed_in(client) -> bool:
    return client.get(reverse("coordinate:counts")).status_code == 200


@pytest.fixture
def coordinator_with_app():
    user = staff_user("coordinator", username="casey")
    return user, totp_device(user)


def test_a_right_password_alone_does_not_sign_anyone_in(client, coordinator_with_app):
    user, _device = coordinator_with_app
    response = _password_step(client, user.username)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:verify"))
    assert "_auth_user_id" not in client.session
    assert not _is_signed_in(client)


def test_a_coordinator_signs_in_with_password_and_the_code_from_their_app(
    client, coordinator_with_app
):
    user, device = coordinator_with_app
    _password_step(client, user.username)
    response = _code_step(client, current_code(device))
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert _is_signed_in(client)


def test_a_wrong_code_is_refused_with_a_clear_message(client, coordinator_with_app):
    user, device = coordinator_with_app
    _password_step(client, user.username)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    response = _code_step(client, wrong)
    assert response.status_code == 200
    assert "That code did not work" in response.content.decode()
    assert not _is_signed_in(client)


def test_a_backup_code_signs_in_once_only(coordinator_with_app):
    from staff.services.two_factor import backup_codes_replace

    user, _device = coordinator_with_app
    code = backup_codes_replace(user=user)[0]
    first = Client()
    _password_step(first, user.username)
    _code_step(first, code.upper())
    assert _is_signed_in(first)
    second = Client()
    _password_step(second, user.username)
    response = _code_step(second, code)
    assert "That code did not work" in response.content.decode()


def test_first_sign_in_sets_up_an_app_and_shows_backup_codes_once(client):
    user = staff_user("coordinator", username="newbie")
    response = _password_step(client, user.username)
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:enrol"))
    page = client.get(response["Location"])
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    typed_key = page.context["key_for_typing"].replace(" ", "")
    assert typed_key == base64.b32encode(device.bin_key).decode().rstrip("=")
    response = client.post(
        reverse("staff:enrol"), {"token": current_code(device), "next": DASHBOARD}
    )
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    assert StaticToken.objects.filter(device__user=user).count() == 10
    device.refresh_from_db()
    assert device.confirmed
    assert _is_signed_in(client)


def test_set_up_is_never_offered_again_once_an_app_is_confirmed(client, coordinator_with_app):
    user, _device = coordinator_with_app
    _password_step(client, user.username)
    response = client.get(reverse("staff:enrol"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:verify"))
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_the_session_key_changes_after_the_password_and_again_after_the_code(
    client, coordinator_with_app
):
    user, device = coordinator_with_app
    client.get(reverse("staff:sign_in"))
    client.session.save()
    before = client.session.session_key
    _password_step(client, user.username)
    after_password = client.session.session_key
    _code_step(client, current_code(device))
    after_code = client.session.session_key
    assert len({before, after_password, after_code}) == 3


def test_the_next_address_must_stay_on_this_site(client, coordinator_with_app):
    user, device = coordinator_with_app
    _password_step(client, user.username, next_url="https://elsewhere.example/")
    response = _code_step(client, current_code(device), next_url="https://elsewhere.example/")
    assert response["Location"] == reverse("staff:home")


def test_the_code_must_follow_the_password_within_minutes(client, coordinator_with_app):
    user, device = coordinator_with_app
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        _password_step(client, user.username)
        clock.shift(dt.timedelta(minutes=11))
        response = _code_step(client, current_code(device))
    assert response["Location"].startswith(reverse("staff:sign_in"))
    assert not _is_signed_in(client)


# Lock-out


def test_repeated_wrong_passwords_lock_sign_in_even_with_the_right_one(
    client, coordinator_with_app
):
    user, _device = coordinator_with_app
    for _ in range(5):
        _password_step(client, user.username, password="wrong password")
    response = _password_step(client, user.username)
    assert response.status_code == 429
    assert "try again in 15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lock_out_ends_by_itself_after_the_cool_off(coordinator_with_app):
    user, device = coordinator_with_app
    client = Client()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(7):
            _password_step(client, user.username, password="wrong password")
        clock.shift(dt.timedelta(minutes=10))
        assert _password_step(client, user.username).status_code == 429
        clock.shift(dt.timedelta(minutes=6))
        _password_step(client, user.username)
        _code_step(client, current_code(device))
        assert _is_signed_in(client)


def test_failures_from_elsewhere_cannot_lock_a_colleague_out(coordinator_with_app):
    user, device = coordinator_with_app
    attacker, colleague = Client(REMOTE_ADDR="203.0.113.9"), Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(6):
        _password_step(attacker, user.username, password="guess")
    assert _password_step(attacker, user.username).status_code == 429
    _password_step(colleague, user.username)
    _code_step(colleague, current_code(device))
    assert _is_signed_in(colleague)


def test_wrong_codes_count_towards_the_lock_out(client, coordinator_with_app):
    user, device = coordinator_with_app
    _password_step(client, user.username)
    wrong = f"{(int(current_code(device)) + 5) % 1_000_000:06d}"
    responses = [_code_step(client, wrong) for _ in range(5)]
    assert responses[-1].status_code == 429
    assert _code_step(client, current_code(device))["Location"].startswith(reverse("staff:sign_in"))
    assert _password_step(client, user.username).status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_lock_outs_count_the_real_client_not_what_it_claims(
    coordinator_with_app,
):
    user, device = coordinator_with_app
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for claimed in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        # The attacker writes a different left-hand entry each time; the proxy appends the truth.
        _password_step(
            Client(**proxy), user.username, "guess", HTTP_X_FORWARDED_FOR=f"{claimed}, 203.0.113.9"
        )
    locked = _password_step(Client(**proxy), user.username, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert locked.status_code == 429
    colleague = Client(**proxy)
    _password_step(colleague, user.username, HTTP_X_FORWARDED_FOR="198.51.100.7")
    _code_step(colleague, current_code(device), HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert colleague.get(DASHBOARD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 200


# Session limits and disabled accounts


def test_a_session_left_idle_too_long_is_signed_out(coordinator_with_app):
    user, _device = coordinator_with_app
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        client = sign_in_verified(Client(), user)
        assert _is_signed_in(client)
        clock.shift(dt.timedelta(minutes=29))
        assert _is_signed_in(client)
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(DASHBOARD)
    assert response["Location"].startswith(reverse("staff:sign_in"))
    assert "_auth_user_id" not in client.session


def test_even_a_busy_session_ends_at_the_absolute_limit(coordinator_with_app):
    user, _device = coordinator_with_app
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), tick=False) as clock:
        client = sign_in_verified(Client(), user)
        for _ in range(29):  # a request every 20 minutes for 9h40m
            assert _is_signed_in(client)
            clock.shift(dt.timedelta(minutes=20))
        clock.shift(dt.timedelta(minutes=21))
        assert not _is_signed_in(client)


def test_disabling_an_account_ends_its_session_at_once(coordinator_with_app):
    user, _device = coordinator_with_app
    client = sign_in_verified(Client(), user)
    session_key = client.session.session_key
    assert _is_signed_in(client)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(DASHBOARD)
    assert response["Location"].startswith(reverse("staff:sign_in"))
    assert not Session.objects.filter(session_key=session_key).exists()


def test_signing_out_ends_the_session(coordinator_with_app):
    user, _device = coordinator_with_app
    client = sign_in_verified(Client(), user)
    client.post(reverse("staff:sign_out"))
    assert not _is_signed_in(client)


# Password reset


def _reset_link(email: str) -> str:
    Client().post(reverse("staff:password_reset"), {"email": email})
    assert len(mail.outbox) == 1
    return re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)


def test_a_password_reset_still_needs_the_code_and_does_not_sign_in(coordinator_with_app):
    user, device = coordinator_with_app
    client = Client()
    form_url = client.get(_reset_link(user.email))["Location"]
    new_password = {
        "new_password1": "a brand new passphrase",
        "new_password2": "a brand new passphrase",
    }
    refused = client.post(form_url, new_password)
    assert refused.status_code == 200
    assert "token" in refused.context["form"].errors
    accepted = client.post(form_url, {**new_password, "token": current_code(device)})
    assert accepted["Location"] == reverse("staff:password_reset_done")
    assert not _is_signed_in(client)
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase")
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert _password_step(client, user.username, "a brand new passphrase")["Location"].startswith(
        reverse("staff:verify")
    )


def test_a_reset_email_names_no_one_and_goes_only_to_staff(coordinator_with_app):
    user, _device = coordinator_with_app
    outsider = get_user_model().objects.create_user("outsider", "outsider@example.test", PASSWORD)
    Client().post(reverse("staff:password_reset"), {"email": outsider.email})
    assert mail.outbox == []
    _reset_link(user.email)
    message = mail.outbox[0]
    assert message.subject == "Reset your Sounding Board staff password"
    assert user.username not in message.body


# The admin


def test_the_admin_needs_a_verified_second_factor():
    admin = staff_user("admin", username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/")["Location"].startswith(reverse("staff:verify"))
    assert sign_in_verified(client, admin).get("/admin/").status_code == 200


def test_the_admin_sign_in_form_is_replaced_by_the_staff_one(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response["Location"].startswith(reverse("staff:sign_in"))


# Demo accounts


@override_settings(DEMO_MODE=True)
def test_a_demo_account_signs_in_with_a_printed_code(client):
    user = staff_user(None, username="demo-coordinator")
    codes = demo_staff_prepare(user=user, group="coordinator", count=3)
    _password_step(client, user.username)
    _code_step(client, codes[0])
    assert _is_signed_in(client)


def test_demo_codes_are_refused_outside_demo_mode():
    with pytest.raises(RuntimeError):
        demo_staff_prepare(user=staff_user(None), group="coordinator")
