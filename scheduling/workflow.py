"""The appointment state machine: which status may follow which, and the one place that moves it."""

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser

from referrals.workflow import check_transition

from .models import Appointment, AppointmentEvent

S = Appointment.Status

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

    The caller holds the transaction and a row lock on the appointment.
    Raises referrals.workflow.IllegalTransition for a change the machine does not allow.
    """
    from_status = appointment.status
    check_transition(APPOINTMENT_TRANSITIONS, "Appointment", from_status, to_status)
    appointment.status = to_status
    appointment.save(update_fields=["status", "updated_at"])
    return AppointmentEvent.objects.create(
        appointment=appointment,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason[:500],
    )
