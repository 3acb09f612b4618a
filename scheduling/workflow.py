"""The appointment state machine: which status may follow which, and the one place that moves it."""

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser

from referrals.workflow import check_transition

from .models import Appointment, AppointmentEvent

S = Appointment.Status

APPOINTMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    S.PROPOSED: frozenset({S.ACCEPTED, S.TENTATIVE, S.DECLINED, S.EXPIRED, S.CANCELLED}),
    S.TENTATIVE: frozenset({S.ACCEPTED, S.DECLINED, S.EXPIRED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.COMPLETED, S.NO_SHOW, S.CANCELLED, S.LATE_CANCELLED}),
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
