"""Staff accounts, their second factors and the codes those produce."""

from django.contrib.auth.models import Group
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.scheduling.factories import ClinicianFactory, UserFactory

PASSWORD = "correct horse battery staple"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def staff_group(name: str) -> Group:
    # get_or_create: a transactional test before this one may have flushed the migration's rows.
    return Group.objects.get_or_create(name=name)[0]


def staff_user(group: str | None, **fields):
    """A staff account with the test password, in `group` (None: in no group)."""
    user = UserFactory(**fields)
    if group:
        user.groups.add(staff_group(group))
    return user


def clinician_user(**fields):
    """A clinician's account with their clinician profile; returns the profile."""
    clinician = ClinicianFactory(**fields)
    clinician.user.groups.add(staff_group("clinician"))
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


def bulk_cases(count: int, *, programs, districts, clinician, start: int = 0) -> None:
    """`count` cases spread over every dashboard queue, written with a handful of bulk inserts:
    urgent (with their diversion event), held, unmatched, proposed, booked and closed."""
    import datetime as dt

    from django.utils import timezone

    from referrals.models import Referral, ReferralEvent
    from scheduling.models import Appointment, Slot

    statuses = ["diverted", "held", "unmatched", "proposed", "booked", "closed", "new"]
    referrals = Referral.objects.bulk_create(
        Referral(
            reference=f"B{start + n:06d}",
            program=programs[n % len(programs)],
            status=statuses[n % len(statuses)],
            given_name="Bulk",
            family_name=f"Case{n}",
            email=f"bulk{start + n}@example.test",
            workplace_district=districts[n % len(districts)],
            unmatched_reason="No clinician free in the preferred times",
            collection_notice_version="2026-11",
        )
        for n in range(count)
    )
    ReferralEvent.objects.bulk_create(
        ReferralEvent(referral=r, to_status="diverted", actor_label="system")
        for r in referrals
        if r.status == "diverted"
    )
    with_sessions = [r for r in referrals if r.status in ("proposed", "booked")]
    base = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    slots = Slot.objects.bulk_create(
        Slot(
            clinician=clinician,
            starts_at=base + dt.timedelta(hours=start + n),
            ends_at=base + dt.timedelta(hours=start + n + 1),
        )
        for n in range(len(with_sessions))
    )
    Appointment.objects.bulk_create(
        Appointment(
            referral=referral,
            slot=slot,
            clinician=clinician,
            session_number=1,
            status="proposed" if referral.status == "proposed" else "accepted",
        )
        for referral, slot in zip(with_sessions, slots, strict=True)
    )
