"""Clinicians' answers to proposed sessions. Each function is one transaction."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from referrals.models import Referral, ReferralEvent
from referrals.workflow import REFERRAL_TRANSITIONS, check_transition

from ..models import Appointment, AppointmentEvent
from ..workflow import APPOINTMENT_TRANSITIONS
from .load import HELD_STATUSES, clinician_weeks_adjust

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
    [result] = appointments_respond(
        answers=[(appointment_id, response)], actor=actor, actor_label=actor_label, reason=reason
    )
    return result


_TARGETS = {
    Response.ACCEPTED: A.ACCEPTED,
    Response.DECLINED: A.DECLINED,
    Response.TENTATIVE: A.TENTATIVE,
}


@transaction.atomic(savepoint=False)
def appointments_respond(
    *,
    answers: Sequence[tuple[int, str]],
    actor: AbstractBaseUser | None = None,
    actor_label: str,
    reason: str = "",
) -> list[RespondResult]:
    """appointment_respond for many (appointment id, response) pairs, one result each, in the
    order given (a second answer to one session sees what the first did).

    The same rules through the same state machines, in a few statements however many answers
    (a batch of calendar replies): appointments are locked in id order, then their referrals,
    the order every other session service locks in; each new status is one UPDATE, the events
    one INSERT per table. Raises Appointment.DoesNotExist for an unknown id."""
    for _, response in answers:
        if response not in Response.ALL:
            raise ValueError(f"unknown response {response!r}")
    wanted = {pk for pk, _ in answers}
    appointments = {
        a.pk: a
        for a in Appointment.objects.select_for_update().filter(pk__in=wanted).order_by("pk")
    }
    if len(appointments) != len(wanted):
        raise Appointment.DoesNotExist("appointment not found")
    referrals = {
        r.pk: r
        for r in Referral.objects.select_for_update()
        .only("pk", "status")
        .filter(pk__in={a.referral_id for a in appointments.values()})
        .order_by("pk")
    }
    changes = _Changes(actor=actor, actor_label=actor_label, reason=reason)
    results = []
    for appointment_id, response in answers:
        appointment = appointments[appointment_id]
        results.append(changes.answer(appointment, referrals[appointment.referral_id], response))
    changes.save()
    return results


class _Changes:
    """What a batch of answers changes, kept in memory and written together by save()."""

    def __init__(self, *, actor, actor_label: str, reason: str) -> None:
        self.actor = actor if actor is not None and actor.is_authenticated else None
        self.actor_label, self.reason = actor_label, reason[:500]
        self.appointments: dict[int, Appointment] = {}
        self.referrals: dict[int, Referral] = {}
        self.events: list[AppointmentEvent] = []
        self.referral_events: list[ReferralEvent] = []
        self.week_deltas: list[tuple[int, int]] = []
        self.rematch_ids: list[int] = []

    def answer(self, appointment: Appointment, referral: Referral, response: str) -> RespondResult:
        target = _TARGETS[response]
        if appointment.status == target:
            return RespondResult(False, appointment.status, "already recorded")
        if target not in APPOINTMENT_TRANSITIONS[appointment.status]:
            return RespondResult(False, appointment.status, f"session is {appointment.status}")
        self._move_appointment(appointment, target)
        if target == A.ACCEPTED and referral.status == R.PROPOSED:
            self._move_referral(referral, R.BOOKED, reason="")
        elif target == A.DECLINED and referral.status in (R.PROPOSED, R.BOOKED):
            self._move_referral(referral, R.NEW, reason="session released")
            self.rematch_ids.append(referral.pk)
        return RespondResult(True, appointment.status, f"session {appointment.status}")

    def _move_appointment(self, appointment: Appointment, to_status: str) -> None:
        from_status = appointment.status
        check_transition(APPOINTMENT_TRANSITIONS, "Appointment", from_status, to_status)
        was_held, is_held = from_status in HELD_STATUSES, to_status in HELD_STATUSES
        if was_held != is_held:
            self.week_deltas.append((appointment.slot_id, 1 if is_held else -1))
        appointment.status = to_status
        self.appointments[appointment.pk] = appointment
        self.events.append(
            AppointmentEvent(
                appointment=appointment,
                from_status=from_status,
                to_status=to_status,
                actor=self.actor,
                actor_label=self.actor_label,
                reason=self.reason,
            )
        )

    def _move_referral(self, referral: Referral, to_status: str, *, reason: str) -> None:
        from_status = referral.status
        check_transition(REFERRAL_TRANSITIONS, "Referral", from_status, to_status)
        referral.status = to_status
        self.referrals[referral.pk] = referral
        self.referral_events.append(
            ReferralEvent(
                referral=referral,
                from_status=from_status,
                to_status=to_status,
                actor=self.actor,
                actor_label=self.actor_label,
                reason=reason,
            )
        )

    def save(self) -> None:
        now = timezone.now()
        for status, ids in _by_status(self.appointments).items():
            Appointment.objects.filter(pk__in=ids).update(
                status=status, responded_at=now, updated_at=now
            )
        for status, ids in _by_status(self.referrals).items():
            Referral.objects.filter(pk__in=ids).update(status=status, updated_at=now)
        for appointment in self.appointments.values():
            appointment.responded_at = appointment.updated_at = now
        AppointmentEvent.objects.bulk_create(self.events)
        ReferralEvent.objects.bulk_create(self.referral_events)
        for delta in (-1, 1):
            slot_ids = [slot_id for slot_id, d in self.week_deltas if d == delta]
            clinician_weeks_adjust(slot_ids=slot_ids, delta=delta)
        if self.rematch_ids:
            from ..tasks import match_referral

            for referral_id in self.rematch_ids:
                match_referral.delay_on_commit(referral_id)


def _by_status(rows: dict) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for pk, row in rows.items():
        grouped.setdefault(row.status, []).append(pk)
    return grouped
