"""Drs4Drs "talk to a counsellor now": an urgent person's explicit choice of an immediate session.

Only ever called when the person chooses it on the crisis page; never as automatic booking.
"""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from referrals.models import ProviderRole, Referral
from referrals.workflow import referral_transition

from ..models import Appointment, AppointmentEvent, Modality, Slot

R = Referral.Status
A = Appointment.Status
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
    referral = Referral.objects.select_for_update().select_related("program").get(pk=referral_id)
    existing = urgent_consult_current(referral_id=referral.pk)
    if existing is not None:
        return existing
    if referral.status != R.DIVERTED or not referral.program.offers_urgent_consult:
        return None
    if not referral.wants_urgent_consult:
        referral.wants_urgent_consult = True
        referral.save(update_fields=["wants_urgent_consult", "updated_at"])
    for slot in _open_slots(referral, now)[:_CANDIDATES]:
        appointment = _propose_on(slot, referral)
        if appointment is not None:
            referral_transition(
                referral, R.PROPOSED, actor_label="referrer", reason="talk to a counsellor now"
            )
            return appointment
    return None


def urgent_consult_current(*, referral_id: int) -> Appointment | None:
    """The live appointment of the referral, if one has been proposed or accepted."""
    return (
        Appointment.objects.select_related("slot", "clinician")
        .filter(referral_id=referral_id, status__in=Appointment.LIVE_STATUSES)
        .first()
    )


def _open_slots(referral: Referral, now: dt.datetime):
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


def _propose_on(slot: Slot, referral: Referral) -> Appointment | None:
    try:
        with transaction.atomic():
            appointment = Appointment.objects.create(
                referral=referral,
                slot=slot,
                clinician=slot.clinician,
                session_number=_next_session_number(referral),
                status=A.PROPOSED,
                modality=_modality(referral, slot),
                expires_at=slot.starts_at,
            )
    except IntegrityError:
        # Someone else took the slot a moment ago: the live-appointment constraint said no.
        return None
    AppointmentEvent.objects.create(
        appointment=appointment,
        to_status=A.PROPOSED,
        actor_label="referrer",
        reason="talk to a counsellor now",
    )
    return appointment


def _next_session_number(referral: Referral) -> int:
    same_episode = (
        Q(referral__episode_id=referral.episode_id) if referral.episode_id else Q(referral=referral)
    )
    earlier = Appointment.objects.filter(same_episode).exclude(
        status__in=[A.DECLINED, A.EXPIRED, A.CANCELLED]
    )
    return earlier.count() + 1


def _modality(referral: Referral, slot: Slot) -> str:
    if referral.modality == Modality.VIDEO and slot.clinician.offers_video:
        return Modality.VIDEO
    return Modality.PHONE if slot.clinician.offers_phone else Modality.VIDEO
