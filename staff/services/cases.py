"""What a coordinator does to a case. Each function is one transaction; messages go through the
notifications hand-off points, which write outbox rows in that same transaction.

Raises CaseActionError with a sentence for the coordinator when an action cannot be done now
(someone else got there first, the case moved on, a field is missing).

Rows are locked appointments first, then the referral, then the slot: the order the clinician's
reply (scheduling.services.appointments) uses, so the two can never deadlock.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from notifications import services as notifications
from notifications.services import (
    appointment_notify,
    notices_send,
    referral_notify,
)
from referrals.models import Episode, Referral
from referrals.services import referral_limit_override
from referrals.workflow import referral_transition
from scheduling.models import Appointment, Slot
from scheduling.services import (
    By,
    RescheduleOutcome,
    SessionActionError,
    SlotUnavailable,
    appointment_cancel,
    appointment_propose,
    appointment_reschedule,
    referral_rematch,
)
from scheduling.tasks import match_referral
from scheduling.workflow import appointment_transition

from ..models import CaseActivity
from .assignment import Breach, assignment_checker, sessions_counted

A = Appointment.Status
R = Referral.Status
ACTOR_LABEL = "coordinator"
FINISHED = (R.CLOSED, R.WITHDRAWN)


class CaseActionError(Exception):
    """An action that cannot be done now; str() says why, in words for the coordinator."""


class BreachesNotSeen(CaseActionError):
    """The chosen slot breaks rules the coordinator was not shown; show these and ask again."""

    def __init__(self, breaches: list[Breach]) -> None:
        super().__init__("This time breaks rules you have not seen yet: check them below.")
        self.breaches = breaches


def _locked_referral(referral_id: int) -> Referral:
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=referral_id)
    )
    if referral.status in FINISHED:
        raise CaseActionError(f"This case is {referral.get_status_display().lower()}.")
    return referral


def _required(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise CaseActionError(f"Write {what} first.")
    return text


@transaction.atomic
def referral_urgent_acknowledge(*, referral_id: int, actor: AbstractBaseUser, note: str) -> None:
    """A named coordinator takes an urgent case: who, when and their note are recorded, and
    the case leaves the urgent queue (its status stays diverted). Sends nothing."""
    referral = _locked_referral(referral_id)
    note = _required(note, "a note saying what you have done or will do")
    if referral.status != R.DIVERTED:
        raise CaseActionError("This case is no longer marked urgent.")
    if referral.urgent_acknowledged_at is not None:
        raise CaseActionError("Another coordinator has already acknowledged this case.")
    referral.urgent_acknowledged_at = timezone.now()
    referral.urgent_acknowledged_by = actor
    referral.urgent_acknowledgement_note = note
    referral.save(
        update_fields=[
            "urgent_acknowledged_at",
            "urgent_acknowledged_by",
            "urgent_acknowledgement_note",
            "updated_at",
        ]
    )


@transaction.atomic
def case_note_add(*, referral_id: int, actor: AbstractBaseUser, text: str) -> CaseActivity:
    """Add an internal note to the case. Staff only; sends nothing."""
    referral = _locked_referral(referral_id)
    text = _required(text, "the note")
    return CaseActivity.objects.create(
        referral=referral, actor=actor, kind=CaseActivity.Kind.NOTE, text=text
    )


@transaction.atomic
def episode_limit_override(
    *, referral_id: int, actor: AbstractBaseUser, new_limit: int, reason: str
) -> Episode:
    """Set the episode's session limit, with the reason and who did it. Sends nothing."""
    referral = _locked_referral(referral_id)
    reason = _required(reason, "the reason for the new limit")
    if referral.episode_id is None:
        raise CaseActionError("This case has no episode yet, so it has no session limit.")
    episode = Episode.objects.select_for_update().get(pk=referral.episode_id)
    used = sessions_counted(referral)
    if new_limit < max(used, 1) or new_limit > settings.EPISODE_SESSION_LIMIT_MAX:
        raise CaseActionError(
            f"Choose a limit from {max(used, 1)} (sessions already used or booked) "
            f"to {settings.EPISODE_SESSION_LIMIT_MAX}."
        )
    if new_limit == episode.session_limit:
        raise CaseActionError(f"The limit is already {new_limit}.")
    previous = episode.session_limit
    referral = referral_limit_override(
        referral_id=referral.pk, actor=actor, reason=reason, new_limit=new_limit
    )
    if referral.status == R.NEW:  # it was held over the limit and now has a session left
        match_referral.delay_on_commit(referral.pk)
    CaseActivity.objects.create(
        referral=referral,
        actor=actor,
        kind=CaseActivity.Kind.LIMIT_OVERRIDDEN,
        text=f"Session limit {previous} → {new_limit}. {reason}",
    )
    episode.refresh_from_db()
    return episode


@transaction.atomic
def appointment_assign_manually(
    *,
    referral_id: int,
    slot_id: int,
    actor: AbstractBaseUser,
    reason: str,
    breaches_seen: frozenset[str],
) -> Appointment:
    """Propose a session in the chosen slot, replacing the case's current live session if any.

    1. The chosen slot is judged against the matcher's hard rules. A blocking breach (time
       taken or past, limit reached) stops here; a breach the coordinator was not shown raises
       BreachesNotSeen; the rest go ahead with the written reason, which is always required.
    2. The case's live sessions are cancelled and their clinicians told.
    3. A new proposal is created with the reason and the breaches in its explanation, the case
       moves to proposed, and the invitation goes to the clinician.
    """
    replacing = _locked_live_appointments(referral_id)
    referral = _locked_referral(referral_id)
    slot = Slot.objects.select_for_update(of=("self",)).select_related("clinician").get(pk=slot_id)
    checker = assignment_checker(
        referral=referral,
        clinician=slot.clinician,
        replacing_ids=frozenset(a.pk for a in replacing),
    )
    breaches = checker.breaches(slot)
    blocking = [b for b in breaches if b.is_blocking]
    if blocking:
        raise CaseActionError(" ".join(b.message for b in blocking))
    if {b.code for b in breaches} - breaches_seen:
        raise BreachesNotSeen(breaches)
    reason = _required(reason, "why you are assigning this session yourself")
    for appointment in replacing:
        _cancel(appointment, actor=actor, reason="replaced by a coordinator's assignment")
    if referral.status == R.PROPOSED:
        # The replaced proposal is gone; the new one moves the case to proposed again.
        referral_transition(
            referral, R.NEW, actor=actor, actor_label=ACTOR_LABEL, reason="manual assignment"
        )
    try:
        appointment = appointment_propose(
            referral_id=referral.pk,
            slot_id=slot.pk,
            explanation={
                "mode": "manual",
                "assigned_by": actor.get_username(),
                "breaches": [{"code": b.code, "message": b.message} for b in breaches],
            },
            actor=actor,
            actor_label=ACTOR_LABEL,
            reason="manual assignment",
            manual_reason=reason,
        )
    except SlotUnavailable as error:
        raise CaseActionError("Someone else has just taken this time.") from error
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    return appointment


def _cancel(appointment: Appointment, *, actor: AbstractBaseUser, reason: str) -> None:
    appointment_transition(
        appointment, A.CANCELLED, actor=actor, actor_label=ACTOR_LABEL, reason=reason
    )
    appointment_notify(appointment_id=appointment.pk, change="cancelled")


def _locked_live_appointments(referral_id: int) -> list[Appointment]:
    return list(
        Appointment.objects.select_for_update(of=("self",)).filter(
            referral_id=referral_id, status__in=Appointment.LIVE_STATUSES
        )
    )


def _locked_session(referral_id: int, appointment_id: int) -> tuple[Appointment, Referral]:
    """The case's live session and the case, locked in that order."""
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .filter(pk=appointment_id, referral_id=referral_id)
        .first()
    )
    referral = _locked_referral(referral_id)
    if appointment is None or appointment.status not in Appointment.LIVE_STATUSES:
        raise CaseActionError("That session is no longer open.")
    return appointment, referral


def _has_other_live(referral: Referral, appointment: Appointment) -> bool:
    return (
        Appointment.objects.filter(referral=referral, status__in=Appointment.LIVE_STATUSES)
        .exclude(pk=appointment.pk)
        .exists()
    )


@transaction.atomic
def appointment_cancel_by_coordinator(
    *, referral_id: int, appointment_id: int, actor: AbstractBaseUser, reason: str
) -> None:
    """Cancel a live session with a reason, through scheduling's appointment_cancel: the
    clinician is told (and the referrer, if they had been confirmed); with no other live session
    the case is held for a coordinator to find the next step."""
    _locked_session(referral_id, appointment_id)
    reason = _required(reason, "the reason for cancelling")
    try:
        outcome = appointment_cancel(
            appointment_id=appointment_id, by=By.COORDINATOR, reason=reason, actor=actor
        )
    except SessionActionError as error:
        raise CaseActionError(str(error)) from error
    notices_send(outcome.notices)


@transaction.atomic
def appointment_reschedule_by_coordinator(
    *, referral_id: int, appointment_id: int, slot_id: int, actor: AbstractBaseUser, reason: str
) -> RescheduleOutcome:
    """Move a live session to another time, through scheduling's appointment_reschedule: with
    the same clinician it stays one calendar event (same UID, higher SEQUENCE); with another,
    the old session is cancelled and the new one proposed. Everyone concerned is told."""
    _locked_session(referral_id, appointment_id)
    reason = _required(reason, "the reason for moving the session")
    try:
        outcome = appointment_reschedule(
            appointment_id=appointment_id,
            slot_id=slot_id,
            by=By.COORDINATOR,
            reason=reason,
            actor=actor,
        )
    except SessionActionError as error:
        raise CaseActionError(str(error)) from error
    notices_send(outcome.notices)
    return outcome


@transaction.atomic
def appointment_invitation_resend(
    *, referral_id: int, appointment_id: int, actor: AbstractBaseUser
) -> None:
    """Send an unanswered invitation to the clinician again (same UID and sequence)."""
    appointment, referral = _locked_session(referral_id, appointment_id)
    if appointment.status == A.ACCEPTED:
        raise CaseActionError("The clinician has already accepted this session.")
    notifications.appointment_invitation_resend(appointment_id=appointment.pk)
    CaseActivity.objects.create(
        referral=referral, actor=actor, kind=CaseActivity.Kind.INVITATION_RESENT
    )


@transaction.atomic
def appointment_rematch(*, referral_id: int, appointment_id: int, actor: AbstractBaseUser) -> None:
    """Withdraw an unanswered proposal and match the case again now, with someone else: the
    clinician is told the session is cancelled, and the new proposal (or the news that nothing
    fits yet) goes out as the matcher's would."""
    appointment, referral = _locked_session(referral_id, appointment_id)
    if appointment.status == A.ACCEPTED:
        raise CaseActionError("The clinician has accepted: cancel or reschedule instead.")
    outcome = referral_rematch(
        referral_id=referral.pk,
        actor=actor,
        actor_label=ACTOR_LABEL,
        reason="coordinator asked to re-match",
        avoid_current_clinician=True,
    )
    if outcome.cancelled_appointment_id is not None:
        appointment_notify(appointment_id=outcome.cancelled_appointment_id, change="cancelled")
    if outcome.match.appointment_id is not None:
        appointment_notify(appointment_id=outcome.match.appointment_id, change="proposed")
    elif outcome.match.is_newly_unmatched:
        referral_notify(referral_id=referral.pk, change="unmatched")
    CaseActivity.objects.create(
        referral=referral, actor=actor, kind=CaseActivity.Kind.REMATCH_REQUESTED
    )


def appointment_expire_and_rematch(
    referral: Referral, appointment: Appointment, *, actor: AbstractBaseUser, reason: str
) -> None:
    """End an unanswered proposal as expired, tell its clinician, and send the case back to the
    matcher if nothing else is live. The caller holds the transaction and both row locks."""
    appointment_transition(
        appointment, A.EXPIRED, actor=actor, actor_label=ACTOR_LABEL, reason=reason
    )
    appointment_notify(appointment_id=appointment.pk, change="expired")
    if referral.status == R.PROPOSED and not _has_other_live(referral, appointment):
        referral_transition(referral, R.NEW, actor=actor, actor_label=ACTOR_LABEL, reason=reason)
        match_referral.delay_on_commit(referral.pk)


@transaction.atomic
def referral_match_request(*, referral_id: int, actor: AbstractBaseUser) -> None:
    """Send a waiting case (new, unmatched, held, or an acknowledged urgent one) to the matcher:
    it becomes new and matching is queued after commit."""
    referral = _locked_referral(referral_id)
    if referral.status == R.DIVERTED and referral.urgent_acknowledged_at is None:
        raise CaseActionError("Acknowledge this urgent case before offering a session.")
    if referral.status not in (R.NEW, R.UNMATCHED, R.HELD, R.DIVERTED):
        raise CaseActionError("This case already has a session offered or booked.")
    if referral.status != R.NEW:
        referral_transition(
            referral, R.NEW, actor=actor, actor_label=ACTOR_LABEL, reason="sent to the matcher"
        )
    match_referral.delay_on_commit(referral.pk)


@transaction.atomic
def referral_close(
    *, referral_id: int, actor: AbstractBaseUser, outcome: str, outcome_label: str, note: str = ""
) -> None:
    """Close the case with an outcome: live sessions are cancelled (clinicians told), the case
    closes, the referrer is told, and an optional note is kept."""
    live = _locked_live_appointments(referral_id)
    referral = _locked_referral(referral_id)
    for appointment in live:
        _cancel(appointment, actor=actor, reason="case closed")
    referral.closed_outcome = outcome
    referral.save(update_fields=["closed_outcome", "updated_at"])
    referral_transition(
        referral, R.CLOSED, actor=actor, actor_label=ACTOR_LABEL, reason=outcome_label
    )
    if note.strip():
        CaseActivity.objects.create(
            referral=referral, actor=actor, kind=CaseActivity.Kind.NOTE, text=note.strip()
        )
    referral_notify(referral_id=referral.pk, change="closed")
