"""The two steps of staff sign-in and the state between them.

A right password does not sign anyone in: it only marks the session as waiting for the second
factor, for a few minutes and for as long as the password stays the same. Django's login (which
rotates the session key, tells django-axes the sign-in succeeded and records the verified device)
happens only once the code is right. So no session is ever signed in on a password alone, and
clearing failed attempts needs both factors.
"""

import functools
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.middleware import is_verified as otp_is_verified
from django_otp.models import Device

from .middleware import staff_session_start

PENDING_USER_ID = "staff_pending_user_id"
PENDING_AUTH_HASH = "staff_pending_auth_hash"
PENDING_SINCE = "staff_pending_since"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def password_accepted(request: HttpRequest, user: AbstractBaseUser) -> None:
    """Remember who gave the right password, under a new session key, until the code step."""
    request.session.cycle_key()
    request.session[PENDING_USER_ID] = user.pk
    request.session[PENDING_AUTH_HASH] = user.get_session_auth_hash()
    request.session[PENDING_SINCE] = int(time.time())


def pending_user(request: HttpRequest) -> AbstractBaseUser | None:
    """The person part-way through signing in: already signed in without a verified code, or
    waiting after a right password that is recent, for an active account, unchanged since."""
    if request.user.is_authenticated:
        return request.user
    session = request.session
    user_id = session.get(PENDING_USER_ID)
    if user_id is None:
        return None
    if time.time() - session.get(PENDING_SINCE, 0) > settings.STAFF_SIGN_IN_PENDING_MINUTES * 60:
        pending_clear(request)
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(
        user.get_session_auth_hash(), session.get(PENDING_AUTH_HASH, "")
    ):
        pending_clear(request)
        return None
    return user


def pending_clear(request: HttpRequest) -> None:
    for key in (PENDING_USER_ID, PENDING_AUTH_HASH, PENDING_SINCE):
        request.session.pop(key, None)


def sign_in_complete(request: HttpRequest, user: AbstractBaseUser, device: Device) -> None:
    """Sign the user in with the device that verified them: new session key, limits started."""
    user.otp_device = device  # django-otp stores it in the session on login
    user.is_verified = functools.partial(otp_is_verified, user)  # as OTPMiddleware would
    auth_login(request, user, backend=MODEL_BACKEND)
    pending_clear(request)
    staff_session_start(request)


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` address if it stays on this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
