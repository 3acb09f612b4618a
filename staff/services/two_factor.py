"""Second factors: an authenticator app (TOTP) and single-use backup codes (django-otp devices)."""

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp import devices_for_user, verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


def has_second_factor(user: AbstractBaseUser) -> bool:
    """True once the user has confirmed an authenticator app or holds backup codes."""
    return any(True for _ in devices_for_user(user, confirmed=True))


def totp_enrolment_device(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed authenticator device the user is setting up, created on first call.

    Idempotent: reloading the set-up page shows the same key until it is confirmed.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (no script, no inline style)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def totp_key_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for people who cannot scan the QR code."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@transaction.atomic
def totp_enrolment_confirm(
    *, user: AbstractBaseUser, device_id: int, token: str
) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the authenticator device when the code it shows is right; issue backup codes.

    Changes: the device becomes confirmed, other unconfirmed devices are removed and a fresh set
    of backup codes replaces any old one. Returns (device, backup codes) or None for a wrong code.
    """
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, pk=device_id, confirmed=False)
        .first()
    )
    if device is None or not device.verify_token(_normalised(token)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return device, backup_codes_replace(user=user)


@transaction.atomic
def backup_codes_replace(*, user: AbstractBaseUser, count: int | None = None) -> list[str]:
    """Replace the user's backup codes with a new set and return them (shown once, stored as
    django-otp static tokens; each works once)."""
    count = settings.STAFF_BACKUP_CODE_COUNT if count is None else count
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(count)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def backup_codes_remaining(*, user: AbstractBaseUser) -> int:
    """How many unused backup codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def second_factor_verify(*, user: AbstractBaseUser, token: str) -> Device | None:
    """The device that accepts this code: a 6-digit code is tried on the authenticator app,
    anything else as a backup code (which is then used up). None when nothing accepts it.

    Each device throttles repeated wrong codes itself (django-otp); the caller also counts the
    failure towards the sign-in lock-out.
    """
    token = _normalised(token)
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    for device in model.objects.devices_for_user(user, confirmed=True):
        verified = verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


def _normalised(token: str) -> str:
    return "".join(token.split()).lower()
