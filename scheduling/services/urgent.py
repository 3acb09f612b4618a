"""Drs4Drs "talk to a counsellor now": an urgent person's explicit choice of an immediate session.

Only ever called when the person chooses it on the crisis page; never as automatic booking.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from referrals.models import ProviderRole, Referral

from ..models import Appointment, Slot
from .matching import SlotUnavailable, appointment_propose

R = Referral.Status
_CANDIDATES = 3


@transaction.atomic
def urgent_consult_propose(
    *, referral_id: int, now: dt.datetime | None = None
) -> Appointment | None:
    """Propose the earliest slot of an on-duty counsellor starting within the next hour.

    The referral must be DIVERTED with a program that offers urgent consults; it records that
    the person asked. The counsellor must be active, on duty, offer the program and not work in
    the person's district. On success the slot is held by a PROPOSED appointment and the referral
    moves to PROPOSED; the caller then notifies. Returns None when no such slot exists: the
    referral stays DIVERTED for the coordinators. Idempotent: a second call returns the live
    appointment already proposed.
    """
    now = now or timezone.now()
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=referral_id)
    )
    existing = urgent_consult_current(referral_id=referral.pk)
    if existing is not None:
        return existing
    if referral.status != R.DIVERTED or not referral.program.offers_urgent_consult:
        return None
    if not referral.wants_urgent_consult:
        referral.wants_urgent_consult = True
        referral.save(update_fields=["wants_urgent_consult", "updated_at"])
    for slot in _open_slots(referral, now)[:_CANDIDATES]:
        try:
            return appointment_propose(
                referral_id=referral.pk,
                slot_id=slot.pk,
                explanation={"mode": "urgent_consult"},
                actor_label="referrer",
                reason="talk to a counsellor now",
                now=now,
            )
        except SlotUnavailable:
            continue  # someone else took it a moment ago: try the next
    return None


def urgent_consult_current(*, referral_id: int) -> Appointment | None:
    """The live appointment of the referral, if one has been proposed or accepted."""
    return (
        Appointment.objects.select_related("slot", "clinician")
        .filter(referral_id=referral_id, status__in=Appointment.LIVE_STATUSES)
        .first()
    )


def _open_slots(referral: Referral, now: dt.datetime):
    # Weekly capacity is not checked: a counsellor on duty has set that hour aside for this.
    workplaces = Q()
    for district_id in {referral.workplace_district_id, referral.employer_district_id} - {None}:
        workplaces |= Q(clinician__districts=district_id)
    if referral.workplace_facility_id:
        workplaces |= Q(clinician__facilities=referral.workplace_facility_id)
    slots = (
        Slot.objects.filter(
            is_offered=True,
            starts_at__gte=now,
            starts_at__lt=now + dt.timedelta(minutes=settings.URGENT_CONSULT_WITHIN_MINUTES),
            clinician__is_active=True,
            clinician__is_on_duty=True,
            clinician__programs=referral.program_id,
        )
        .exclude(appointments__status__in=Appointment.LIVE_STATUSES)
        .select_related("clinician")
        .order_by("starts_at", "pk")
    )
    if workplaces:
        slots = slots.exclude(workplaces)
    return [slot for slot in slots if ProviderRole.COUNSELLOR in slot.clinician.roles]
