import datetime as dt

from django.utils import timezone

from tests.referrals.factories import ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory


def proposed_appointment(**overrides):
    """A proposed session three days out, with a referrer whose surname must never leak."""
    program = overrides.pop("program", None) or ProgramFactory(discreet_title="Support session")
    clinician = overrides.pop("clinician", None) or ClinicianFactory(
        video_link="https://video.example.test/room/1"
    )
    starts_at = overrides.pop(
        "starts_at",
        (timezone.now() + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0),
    )
    slot = SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )
    referral = overrides.pop("referral", None) or ReferralFactory(
        program=program, status="proposed", family_name="Quixotewell", given_name="Alex"
    )
    return AppointmentFactory(slot=slot, clinician=clinician, referral=referral, **overrides)
