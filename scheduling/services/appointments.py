"""Clinicians' answers to proposed sessions. Each function is one transaction."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from referrals.models import Referral
from referrals.workflow import referral_transition

from ..models import Appointment
from ..workflow import APPOINTMENT_TRANSITIONS, appointment_transition

A = Appointment.Status
R = Referral.Status


class Response:
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    ALL = (ACCEPTED, DECLINED, TENTATIVE)


@dataclass(frozen=True)
class RespondResult:
    """What a clinician's response did: whether anything changed, and the status it left."""

    is_changed: bool
    status: str
    detail: str


def appointment_respond(
    *,
    appointment_id: int,
    response: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str,
    reason: str = "",
) -> RespondResult:
    """Apply a clinician's accept, decline or tentative answer to a proposed session.

    The one door for calendar replies, signed links and the clinician portal. Idempotent: a
    repeated answer changes nothing. A decline (even after an acceptance) releases the slot and
    queues the referral for matching again, without that clinician. The caller tells the
    referrer when the result says something changed.
    """
    if response not in Response.ALL:
        raise ValueError(f"unknown response {response!r}")
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
        referral = Referral.objects.select_for_update().get(pk=appointment.referral_id)
        target = {
            Response.ACCEPTED: A.ACCEPTED,
            Response.DECLINED: A.DECLINED,
            Response.TENTATIVE: A.TENTATIVE,
        }[response]
        if appointment.status == target:
            return RespondResult(False, appointment.status, "already recorded")
        if target not in APPOINTMENT_TRANSITIONS[appointment.status]:
            return RespondResult(False, appointment.status, f"session is {appointment.status}")
        appointment_transition(
            appointment, target, actor=actor, actor_label=actor_label, reason=reason
        )
        appointment.responded_at = timezone.now()
        appointment.save(update_fields=["responded_at", "updated_at"])
        if target == A.ACCEPTED and referral.status == R.PROPOSED:
            referral_transition(referral, R.BOOKED, actor=actor, actor_label=actor_label)
        elif target == A.DECLINED:
            _release_and_rematch(referral, actor=actor, actor_label=actor_label)
        return RespondResult(True, appointment.status, f"session {appointment.status}")


def _release_and_rematch(
    referral: Referral, *, actor: AbstractBaseUser | None, actor_label: str
) -> None:
    if referral.status in (R.PROPOSED, R.BOOKED):
        referral_transition(
            referral, R.NEW, actor=actor, actor_label=actor_label, reason="session released"
        )
        from ..tasks import match_referral

        match_referral.delay_on_commit(referral.pk)
