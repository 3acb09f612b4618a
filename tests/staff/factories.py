"""Staff accounts, their second factors and the codes those produce."""

from django.contrib.auth.models import Group
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.scheduling.factories import ClinicianFactory, UserFactory

PASSWORD = "correct horse battery staple"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def staff_user(group: str | None, **fields):
    """A staff account with the test password, in `group` (None: in no group)."""
    user = UserFactory(**fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def clinician_user(**fields):
    """A clinician's account with their clinician profile; returns the profile."""
    clinician = ClinicianFactory(**fields)
    clinician.user.groups.add(Group.objects.get(name="clinician"))
    return clinician


def totp_device(user, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=confirmed)


def current_code(device: TOTPDevice) -> str:
    """The code the person's authenticator app would show now (computed from the key)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def sign_in_verified(client, user, device: TOTPDevice | None = None):
    """Make `client` signed in as `user` with a verified second factor, as after a real sign-in."""
    device = device or TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or totp_device(user)
    client.force_login(user, backend=MODEL_BACKEND)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
