"""The appointment state machine over the full status × status matrix."""

import pytest

from referrals.workflow import IllegalTransition
from scheduling.models import Appointment, AppointmentEvent
from scheduling.workflow import APPOINTMENT_TRANSITIONS, appointment_move, appointment_transition
from tests.scheduling.factories import AppointmentFactory, SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

STATUSES = list(Appointment.Status)
PAIRS = [(a, b) for a in STATUSES for b in STATUSES]
ALLOWED = [(a, b) for a, b in PAIRS if b in APPOINTMENT_TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in PAIRS if b not in APPOINTMENT_TRANSITIONS[a]]
FINAL = {s for s in STATUSES if s not in Appointment.LIVE_STATUSES}


def test_the_machine_names_every_status_and_only_known_targets():
    assert set(APPOINTMENT_TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in APPOINTMENT_TRANSITIONS.values())


def test_only_live_appointments_can_move_on():
    assert {s for s, targets in APPOINTMENT_TRANSITIONS.items() if not targets} == FINAL


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=lambda s: str(s))
def test_an_allowed_transition_moves_the_appointment_and_records_who_when_and_why(
    from_status, to_status
):
    appointment = AppointmentFactory(status=from_status)
    clinician_user = UserFactory()

    event = appointment_transition(
        appointment, to_status, actor=clinician_user, actor_label="clinician", reason="replied"
    )

    appointment.refresh_from_db()
    assert appointment.status == to_status
    stored = AppointmentEvent.objects.get(appointment=appointment)
    assert stored == event
    assert (stored.from_status, stored.to_status) == (from_status, to_status)
    assert (stored.actor, stored.actor_label, stored.reason) == (
        clinician_user,
        "clinician",
        "replied",
    )
    assert stored.occurred_at is not None


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN, ids=lambda s: str(s))
def test_a_forbidden_transition_raises_and_leaves_the_appointment_unchanged(from_status, to_status):
    appointment = AppointmentFactory(status=from_status)
    updated_at = appointment.updated_at

    with pytest.raises(IllegalTransition) as raised:
        appointment_transition(appointment, to_status)

    assert (raised.value.from_status, raised.value.to_status) == (from_status, to_status)
    assert appointment.status == from_status
    appointment.refresh_from_db()
    assert (appointment.status, appointment.updated_at) == (from_status, updated_at)
    assert not AppointmentEvent.objects.filter(appointment=appointment).exists()


@pytest.mark.parametrize("status", Appointment.LIVE_STATUSES, ids=str)
def test_a_live_appointment_moves_to_another_slot_keeping_its_status_and_calendar_uid(status):
    appointment = AppointmentFactory(status=status)
    uid, old_slot = appointment.ical_uid, appointment.slot
    new_slot = SlotFactory(clinician=appointment.clinician)

    event = appointment_move(appointment, new_slot, actor_label="referrer", reason="asked to")

    appointment.refresh_from_db()
    assert (appointment.slot, appointment.status, appointment.ical_uid) == (new_slot, status, uid)
    assert (event.from_status, event.to_status, event.actor_label) == (status, status, "referrer")
    assert event.reason.startswith("asked to: moved from ")
    assert f"{old_slot.starts_at:%Y-%m-%d %H:%M}" in event.reason


@pytest.mark.parametrize("status", sorted(FINAL), ids=str)
def test_a_finished_appointment_cannot_move(status):
    appointment = AppointmentFactory(status=status)
    old_slot = appointment.slot
    with pytest.raises(IllegalTransition):
        appointment_move(appointment, SlotFactory(clinician=appointment.clinician))
    appointment.refresh_from_db()
    assert appointment.slot == old_slot


def test_an_appointment_never_moves_to_another_clinicians_slot():
    appointment = AppointmentFactory(status=Appointment.Status.ACCEPTED)
    with pytest.raises(ValueError, match="its own clinician"):
        appointment_move(appointment, SlotFactory())
