"""A session's life once it is offered: cancelled, moved, completed or missed; the next session
of an episode; a referral withdrawn.

Each function is one transaction over the state machines and sends nothing: it returns the
`notices` the change calls for, which the caller hands to notifications
(notifications.services.notices_send) inside the same transaction, so messages go out exactly
when the change commits. Each raises SessionActionError, with a sentence for the person, when
the change cannot be made now; nothing is changed then.

Rows are locked appointment first, then referral, then slot, then clinician: the order the
clinician's reply (appointments.appointment_respond) and the matcher use, so none deadlock.
"""

import datetime as dt
import enum
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from referrals.models import Referral
from referrals.workflow import referral_transition

from ..models import Appointment, Clinician, Slot
from ..session_selectors import (
    cancellation_terms,
    move_breaches,
    next_session_refusal,
    session_count,
)
from ..workflow import appointment_move, appointment_transition
from .matching import MatchOutcome, SlotUnavailable, appointment_propose, referral_match

A = Appointment.Status
R = Referral.Status
LIVE = Appointment.LIVE_STATUSES
# The closing outcome of a case whose sessions are all used (staff.models.CloseOutcome).
SESSIONS_COMPLETED = "sessions_completed"


class By(enum.StrEnum):
    """Who asks for a change; the referrer acts through their signed link."""

    REFERRER = "referrer"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"


class SessionActionError(Exception):
    """A change that cannot be made now; str() says why, in words for whoever asked."""


@dataclass(frozen=True)
class Notice:
    """One message hand-off: appointment_notify(appointment_id, change) for a session, or
    referral_notify(referral_id, change) when there is no appointment_id."""

    change: str
    appointment_id: int | None = None
    referral_id: int | None = None


@dataclass(frozen=True)
class CancelOutcome:
    appointment_id: int
    status: str
    is_late: bool
    uses_session: bool
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class RescheduleOutcome:
    """`appointment_id` holds the new time: the same appointment when it moved in place (same
    clinician, same calendar event), a new proposal when it went to another clinician."""

    appointment_id: int
    is_moved_in_place: bool
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class NextSessionOutcome:
    referral_id: int
    appointment_id: int | None
    detail: str
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class CompleteOutcome:
    appointment_id: int
    is_last_session: bool
    next_session: NextSessionOutcome | None
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class WithdrawOutcome:
    referral_id: int
    cancelled_ids: tuple[int, ...]
    notices: tuple[Notice, ...]


# --- Shared steps ---------------------------------------------------------------------------


def _locked(appointment_id: int) -> tuple[Appointment, Referral]:
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("slot", "clinician")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise SessionActionError("That session does not exist.")
    referral = _locked_referral(appointment.referral_id)
    appointment.referral = referral
    return appointment, referral


def _locked_referral(referral_id: int) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program", "episode")
        .get(pk=referral_id)
    )


def _check_actor(appointment: Appointment, by: By, actor: AbstractBaseUser | None) -> None:
    """A clinician acts only on their own sessions. Coordinators are checked by the page
    guard that calls in (staff.access.coordinator_required); referrers by their signed link."""
    if by == By.CLINICIAN and (actor is None or appointment.clinician.user_id != actor.pk):
        raise SessionActionError("This is not one of your sessions.")


def _check_live(appointment: Appointment) -> None:
    if appointment.status not in LIVE:
        raise SessionActionError(f"This session is {appointment.get_status_display().lower()}.")


def _check_not_started(appointment: Appointment, now: dt.datetime) -> None:
    if appointment.slot.starts_at <= now:
        raise SessionActionError("This session has already started.")


def _has_other_live(referral: Referral, appointment: Appointment) -> bool:
    return (
        Appointment.objects.filter(referral=referral, status__in=LIVE)
        .exclude(pk=appointment.pk)
        .exists()
    )


def _hold(referral: Referral, reason: str, *, actor, by: By) -> None:
    referral.hold_reason = reason[:200]
    referral.save(update_fields=["hold_reason", "updated_at"])
    referral_transition(referral, R.HELD, actor=actor, actor_label=by, reason=reason)


def _rematch(referral: Referral, *, actor, by: By, now: dt.datetime, reason: str) -> None:
    from ..tasks import match_referral

    referral.match_requested_at = now
    referral.save(update_fields=["match_requested_at", "updated_at"])
    referral_transition(referral, R.NEW, actor=actor, actor_label=by, reason=reason)
    match_referral.delay_on_commit(referral.pk)


def _match_notices(outcome: MatchOutcome) -> tuple[Notice, ...]:
    if outcome.appointment_id is not None:
        return (Notice("proposed", appointment_id=outcome.appointment_id),)
    if outcome.is_newly_unmatched:
        return (Notice("unmatched", referral_id=outcome.referral_id),)
    return ()


# --- Cancelling -----------------------------------------------------------------------------

_CANCEL_REASONS = {
    By.REFERRER: "cancelled by the referrer",
    By.CLINICIAN: "cancelled by the clinician",
    By.COORDINATOR: "cancelled by a coordinator",
}


@transaction.atomic
def appointment_cancel(
    *,
    appointment_id: int,
    by: str,
    reason: str = "",
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> CancelOutcome:
    """Cancel a session that is offered or booked.

    1. A clinician may cancel only their own sessions, and only before they start; so may a
       referrer. A coordinator may also cancel one that has started (it did not take place).
    2. The program's notice rule is the referrer's: their cancellation of a confirmed session
       less than Program.cancellation_notice_hours before it starts is LATE_CANCELLED, which
       uses up one of the episode's sessions only when Program.late_cancellation_uses_session.
       Every other cancellation (a clinician's or coordinator's always) is CANCELLED.
    3. With no other live session the case moves on: after the referrer's or a coordinator's
       cancellation it is held for a coordinator (the referrer may book another time from
       their page); after the clinician's it goes back to the matcher (queued after commit).
    Notices: "cancelled" (METHOD:CANCEL to the clinician, and the referrer's cancellation if
    they had been confirmed). A second call raises: the session is no longer live.
    """
    by, now = By(by), now or timezone.now()
    appointment, referral = _locked(appointment_id)
    _check_actor(appointment, by, actor)
    _check_live(appointment)
    if by != By.COORDINATOR:
        _check_not_started(appointment, now)
    terms = cancellation_terms(appointment, now=now)
    is_late = by == By.REFERRER and terms.is_late
    status = A.LATE_CANCELLED if is_late else A.CANCELLED
    reason = reason.strip() or _CANCEL_REASONS[by]
    appointment_transition(appointment, status, actor=actor, actor_label=by, reason=reason)
    _after_release(referral, appointment, by=by, actor=actor, now=now, reason=reason)
    return CancelOutcome(
        appointment_id=appointment.pk,
        status=status,
        is_late=is_late,
        uses_session=is_late and terms.late_cancellation_uses_session,
        notices=(Notice("cancelled", appointment_id=appointment.pk),),
    )


def _after_release(referral, appointment, *, by: By, actor, now, reason: str) -> None:
    if referral.status not in (R.PROPOSED, R.BOOKED) or _has_other_live(referral, appointment):
        return
    if by == By.CLINICIAN:
        _rematch(referral, actor=actor, by=by, now=now, reason=reason)
    elif by == By.REFERRER:
        note = f"The referrer cancelled session {appointment.session_number}; they may book again."
        _hold(referral, note, actor=actor, by=by)
    else:
        _hold(referral, "Session cancelled by a coordinator", actor=actor, by=by)


# --- Moving ---------------------------------------------------------------------------------


@transaction.atomic
def appointment_reschedule(
    *,
    appointment_id: int,
    slot_id: int,
    by: str,
    reason: str = "",
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> RescheduleOutcome:
    """Move a session that is offered or booked, and has not started, to another time.

    1. A clinician may move only their own sessions; a referrer may not move a confirmed one
       within the program's cancellation notice (they can still cancel it).
    2. The new time must pass every hard rule of the matcher except the referrer's preferred
       windows (see session_selectors.move_breaches).
    3. Same clinician: the appointment moves to the new slot in place, keeping its status and
       iCalendar UID — one event in the clinician's calendar. Notice "rescheduled" (REQUEST
       with a higher SEQUENCE; the referrer's changed time if they had been confirmed).
    4. Another clinician: the session is cancelled (not late) and a new one is proposed to that
       clinician. Notices "cancelled" for the old and "proposed" for the new.
    Not idempotent: a second call with the same slot raises (it is the session's time).
    """
    by, now = By(by), now or timezone.now()
    appointment, referral = _locked(appointment_id)
    _check_actor(appointment, by, actor)
    _check_live(appointment)
    _check_not_started(appointment, now)
    terms = cancellation_terms(appointment, now=now)
    if by == By.REFERRER and terms.is_late:
        raise SessionActionError(
            f"Your session starts in less than {terms.notice_hours} hours, so it can no "
            "longer be moved. You can still cancel it."
        )
    slot = _locked_slot(slot_id, appointment, now=now)
    reason = reason.strip() or f"moved by the {by}"
    if slot.clinician_id == appointment.clinician_id:
        return _move_in_place(appointment, slot, by=by, actor=actor, reason=reason, now=now)
    return _move_to_another_clinician(
        appointment, referral, slot, by=by, actor=actor, reason=reason, now=now
    )


def _locked_slot(slot_id: int, appointment: Appointment, *, now: dt.datetime) -> Slot:
    clinician_id = Slot.objects.filter(pk=slot_id).values_list("clinician_id", flat=True).first()
    if clinician_id is None or slot_id == appointment.slot_id:
        raise SessionActionError("Choose a time other than the session's own.")
    # The clinician row serialises capacity checks for their weeks, as the matcher's do, and
    # is locked before the time, in the order matching and saving availability take them.
    list(Clinician.objects.select_for_update().filter(pk=clinician_id).values_list("pk"))
    slot = Slot.objects.select_for_update(of=("self",)).filter(pk=slot_id).first()
    if slot is None or move_breaches(appointment, slot, now=now):
        raise SessionActionError("That time is no longer available. Please choose another.")
    return slot


def _move_in_place(appointment, slot, *, by: By, actor, reason: str, now) -> RescheduleOutcome:
    try:
        with transaction.atomic():
            appointment_move(appointment, slot, actor=actor, actor_label=by, reason=reason)
    except IntegrityError as error:
        raise SessionActionError("That time has just been taken. Please choose another.") from error
    if appointment.status != A.ACCEPTED and appointment.expires_at is not None:
        answer_by = slot.starts_at - dt.timedelta(hours=settings.MATCH_RESPOND_BEFORE_START_HOURS)
        if appointment.expires_at > answer_by:
            appointment.expires_at = max(answer_by, now)
            appointment.save(update_fields=["expires_at", "updated_at"])
    return RescheduleOutcome(
        appointment_id=appointment.pk,
        is_moved_in_place=True,
        notices=(Notice("rescheduled", appointment_id=appointment.pk),),
    )


def _move_to_another_clinician(
    appointment, referral, slot, *, by: By, actor, reason: str, now
) -> RescheduleOutcome:
    appointment_transition(
        appointment, A.CANCELLED, actor=actor, actor_label=by, reason=f"{reason}: another clinician"
    )
    if referral.status != R.NEW:
        referral_transition(referral, R.NEW, actor=actor, actor_label=by, reason=reason)
    try:
        new = appointment_propose(
            referral_id=referral.pk,
            slot_id=slot.pk,
            explanation={"mode": "reschedule", "chosen_by": str(by)},
            actor=actor,
            actor_label=by,
            reason=reason,
            now=now,
        )
    except SlotUnavailable as error:
        raise SessionActionError("That time has just been taken. Please choose another.") from error
    return RescheduleOutcome(
        appointment_id=new.pk,
        is_moved_in_place=False,
        notices=(
            Notice("cancelled", appointment_id=appointment.pk),
            Notice("proposed", appointment_id=new.pk),
        ),
    )


# --- After the session ----------------------------------------------------------------------


def _locked_held_session(appointment_id: int, *, by: By, actor, now) -> tuple:
    """The booked session and its case, locked, once it has started; for marking it."""
    if by == By.REFERRER:
        raise SessionActionError("Only the clinician or a coordinator can mark a session.")
    appointment, referral = _locked(appointment_id)
    _check_actor(appointment, by, actor)
    if appointment.status != A.ACCEPTED:
        raise SessionActionError(
            f"Only a booked session can be marked; this one is "
            f"{appointment.get_status_display().lower()}."
        )
    if appointment.slot.starts_at > now:
        raise SessionActionError("A session can be marked once it has started.")
    return appointment, referral


@transaction.atomic
def appointment_complete(
    *,
    appointment_id: int,
    by: str,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> CompleteOutcome:
    """Mark a booked session that has started as completed (by its clinician or a coordinator).

    With no other live session, a booked case then moves on: if the episode has sessions left,
    the next one is proposed through the matcher, which keeps the same clinician when they have
    a time within the referrer's windows soon enough (continuity); if none is left, the case
    closes with outcome "sessions_completed". Notices: "proposed" (or "unmatched") for the next
    session, or "closed". A second call raises: the session is no longer booked.
    """
    by, now = By(by), now or timezone.now()
    appointment, referral = _locked_held_session(appointment_id, by=by, actor=actor, now=now)
    appointment_transition(
        appointment, A.COMPLETED, actor=actor, actor_label=by, reason=f"marked by the {by}"
    )
    if referral.status != R.BOOKED or _has_other_live(referral, appointment):
        return CompleteOutcome(appointment.pk, False, None, ())
    if session_count(referral).left == 0:
        referral.closed_outcome = SESSIONS_COMPLETED
        referral.save(update_fields=["closed_outcome", "updated_at"])
        referral_transition(
            referral, R.CLOSED, actor=actor, actor_label=by, reason="all sessions completed"
        )
        return CompleteOutcome(
            appointment.pk, True, None, (Notice("closed", referral_id=referral.pk),)
        )
    next_session = _propose_next(referral, actor=actor, by=by, now=now)
    return CompleteOutcome(appointment.pk, False, next_session, next_session.notices)


@transaction.atomic
def appointment_no_show(
    *,
    appointment_id: int,
    by: str,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> tuple[Notice, ...]:
    """Mark a booked session that has started as a no-show (by its clinician or a coordinator).

    No next session is proposed: with no other live session the case is held so a coordinator
    can check on the person. Whether the missed session counts against the limit follows the
    program's late-cancellation setting (referrals.limits). Sends nothing; returns no notices.
    """
    by, now = By(by), now or timezone.now()
    appointment, referral = _locked_held_session(appointment_id, by=by, actor=actor, now=now)
    appointment_transition(
        appointment, A.NO_SHOW, actor=actor, actor_label=by, reason=f"marked by the {by}"
    )
    if referral.status == R.BOOKED and not _has_other_live(referral, appointment):
        note = f"Did not attend session {appointment.session_number}: check on the person."
        _hold(referral, note, actor=actor, by=by)
    return ()


# --- The next session, and withdrawing ------------------------------------------------------


@transaction.atomic
def referral_next_session(
    *,
    referral_id: int,
    by: str = By.REFERRER,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> NextSessionOutcome:
    """Propose the next session of the referral's episode, up to its session limit.

    Allowed for a booked or held case with no live session and sessions left
    (session_selectors.next_session_refusal says why not otherwise). The case goes back to
    NEW and the matcher proposes at once, within the referrer's windows and keeping the
    earlier clinician when they can see the person soon enough. Notices: "proposed", or
    "unmatched" when no time fits (the case then waits for the sweeper and a coordinator).
    """
    by, now = By(by), now or timezone.now()
    referral = _locked_referral(referral_id)
    refusal = next_session_refusal(referral)
    if refusal:
        raise SessionActionError(refusal)
    return _propose_next(referral, actor=actor, by=by, now=now)


def _propose_next(referral: Referral, *, actor, by: By, now) -> NextSessionOutcome:
    if referral.status != R.NEW:
        referral.hold_reason = ""
        referral.match_requested_at = now
        referral.save(update_fields=["hold_reason", "match_requested_at", "updated_at"])
        referral_transition(
            referral, R.NEW, actor=actor, actor_label=by, reason="next session asked for"
        )
    outcome = referral_match(referral_id=referral.pk, now=now)
    return NextSessionOutcome(
        referral_id=referral.pk,
        appointment_id=outcome.appointment_id,
        detail=outcome.detail,
        notices=_match_notices(outcome),
    )


@transaction.atomic
def referral_withdraw(
    *,
    referral_id: int,
    by: str = By.REFERRER,
    reason: str = "",
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> WithdrawOutcome:
    """Withdraw a referral that is not closed: its sessions still to come are cancelled under
    the same notice rule as appointment_cancel, and the case becomes WITHDRAWN. Notices:
    "cancelled" for each session, then "withdrawn" to the referrer. A second call raises."""
    by, now = By(by), now or timezone.now()
    live = list(
        Appointment.objects.select_for_update(of=("self",))
        .select_related("slot")
        .filter(referral_id=referral_id, status__in=LIVE, slot__starts_at__gt=now)
        .order_by("pk")
    )
    referral = _locked_referral(referral_id)
    if referral.status in (R.CLOSED, R.WITHDRAWN):
        status = referral.get_status_display().lower()
        raise SessionActionError(f"This request is already {status}.")
    reason = reason.strip() or f"withdrawn by the {by}"
    for appointment in live:
        appointment.referral = referral
        is_late = by == By.REFERRER and cancellation_terms(appointment, now=now).is_late
        status = A.LATE_CANCELLED if is_late else A.CANCELLED
        appointment_transition(appointment, status, actor=actor, actor_label=by, reason=reason)
    referral_transition(referral, R.WITHDRAWN, actor=actor, actor_label=by, reason=reason)
    notices = [Notice("cancelled", appointment_id=a.pk) for a in live]
    notices.append(Notice("withdrawn", referral_id=referral.pk))
    return WithdrawOutcome(referral.pk, tuple(a.pk for a in live), tuple(notices))
