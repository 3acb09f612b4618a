"""The appointment state machine: which status may follow which, and the one place that moves it.

`appointment_move` is the one place an appointment changes slot: a reschedule keeps the
appointment (and so its iCalendar UID) and its status, and records the move in its history.
"""

import datetime as dt
from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser

from referrals.workflow import IllegalTransition, check_transition

from .models import Appointment, AppointmentEvent, Slot

S = Appointment.Status
# Only a session still offered or booked can move to another time.
MOVABLE_STATUSES = frozenset(Appointment.LIVE_STATUSES)

APPOINTMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    S.PROPOSED: frozenset({S.ACCEPTED, S.TENTATIVE, S.DECLINED, S.EXPIRED, S.CANCELLED}),
    S.TENTATIVE: frozenset({S.ACCEPTED, S.DECLINED, S.EXPIRED, S.CANCELLED}),
    # A clinician may still decline a session they accepted (their calendar allows it).
    S.ACCEPTED: frozenset({S.DECLINED, S.COMPLETED, S.NO_SHOW, S.CANCELLED, S.LATE_CANCELLED}),
    S.DECLINED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.LATE_CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
    S.NO_SHOW: frozenset(),
}


def appointment_transition(
    appointment: Appointment,
    to_status: str,
    *,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "system",
    reason: str = "",
) -> AppointmentEvent:
    """Move the appointment to `to_status`, save it and record the event.

    The caller holds the transaction and a row lock on the appointment. A session that stops
    holding its slot (declined, expired, cancelled) is taken off its clinician week's count.
    Raises referrals.workflow.IllegalTransition for a change the machine does not allow.
    """
    # Imported here: the services package imports this module.
    from .services.load import HELD_STATUSES, clinician_weeks_adjust

    from_status = appointment.status
    check_transition(APPOINTMENT_TRANSITIONS, "Appointment", from_status, to_status)
    appointment.status = to_status
    appointment.save(update_fields=["status", "updated_at"])
    was_held, is_held = from_status in HELD_STATUSES, to_status in HELD_STATUSES
    if was_held != is_held:
        clinician_weeks_adjust(slot_ids=[appointment.slot_id], delta=1 if is_held else -1)
    return AppointmentEvent.objects.create(
        appointment=appointment,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason[:500],
    )


def appointment_move(
    appointment: Appointment,
    slot: Slot,
    *,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "system",
    reason: str = "",
) -> AppointmentEvent:
    """Move a live appointment to another slot of the same clinician, keeping its status.

    The caller holds the transaction and row locks on the appointment and both slots. Raises
    IllegalTransition for an appointment that is no longer live, ValueError for a slot of
    another clinician, and IntegrityError (from the one-live-appointment-per-slot constraint)
    if another session holds the slot.
    """
    if appointment.status not in MOVABLE_STATUSES:
        raise IllegalTransition("Appointment", appointment.status, appointment.status)
    if slot.clinician_id != appointment.clinician_id:
        raise ValueError("an appointment moves only to a slot of its own clinician")
    from .services.load import HELD_STATUSES, clinician_weeks_adjust

    moved = f"moved from {_utc(appointment.slot.starts_at)} to {_utc(slot.starts_at)} UTC"
    if appointment.status in HELD_STATUSES:
        clinician_weeks_adjust(slot_ids=[appointment.slot_id], delta=-1)
        clinician_weeks_adjust(slot_ids=[slot.pk], delta=1)
    appointment.slot = slot
    appointment.save(update_fields=["slot", "updated_at"])
    return AppointmentEvent.objects.create(
        appointment=appointment,
        from_status=appointment.status,
        to_status=appointment.status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=(f"{reason}: {moved}" if reason else moved)[:500],
    )


def _utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
