"""Fault 3: fifty people move their session to the same free time at the same moment.

Each referrer posts the reschedule form on their own page (the path a person takes), all at
once on PostgreSQL. The slot's row lock and the partial unique index
`one_live_appointment_per_slot` leave exactly one of them with the time; everyone else is told
plainly that it has gone, and nobody gets a server error. The two-party versions are in
tests/staff/test_assignment_race.py and tests/scheduling/test_appointment_constraint.py.
"""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from referrals.links import referrer_token
from referrals.models import Referral
from scheduling.models import Appointment
from tests.concurrency import run_at_once
from tests.referrals.factories import ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.postgres

PEOPLE = 50
CLEAR_ANSWERS = (
    "That time has just been taken. Please choose another.",
    "That time is no longer available. Please choose another.",
    "That time is no longer offered. Choose another.",
)


def _hour(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def _fifty_sessions_and_one_free_time() -> tuple[list[Appointment], int]:
    program = ProgramFactory(session_limit=3)
    clinician = ClinicianFactory(programs=[program], weekly_capacity=PEOPLE + 10)
    free = SlotFactory(clinician=clinician, starts_at=_hour(48), ends_at=_hour(49))
    appointments = [
        AppointmentFactory(
            referral=ReferralFactory(program=program, status=Referral.Status.BOOKED),
            slot=SlotFactory(clinician=clinician, starts_at=_hour(72 + n), ends_at=_hour(73 + n)),
            status=Appointment.Status.ACCEPTED,
        )
        for n in range(PEOPLE)
    ]
    return appointments, free.pk


def _everyone_moves_at_once(appointments: list[Appointment], slot_id: int) -> list[tuple]:
    outcomes: list[tuple] = []

    def move(appointment: Appointment) -> None:
        url = reverse(
            "referrals:my_reschedule",
            args=[referrer_token(appointment.referral_id), appointment.pk],
        )
        browser = Client(raise_request_exception=False)
        response = browser.post(url, {"slot": slot_id})
        outcomes.append((response.status_code, re.sub(r"\s+", " ", response.content.decode())))

    errors = run_at_once([lambda a=a: move(a) for a in appointments], timeout=120)
    assert errors == []
    return outcomes


def _live_on(slot_id: int) -> int:
    return Appointment.objects.filter(slot_id=slot_id, status__in=Appointment.LIVE_STATUSES).count()


@pytest.mark.django_db(transaction=True)
def test_fifty_people_moving_to_one_free_time_at_once_leave_one_session_and_49_clear_answers():
    appointments, slot_id = _fifty_sessions_and_one_free_time()

    outcomes = _everyone_moves_at_once(appointments, slot_id)

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [302] + [400] * (PEOPLE - 1)
    refused = [page for status, page in outcomes if status == 400]
    assert all(any(answer in page for answer in CLEAR_ANSWERS) for page in refused)
    assert _live_on(slot_id) == 1
    # Everyone refused keeps the session they had.
    kept = Appointment.objects.filter(pk__in=[a.pk for a in appointments]).exclude(slot_id=slot_id)
    assert kept.filter(status=Appointment.Status.ACCEPTED).count() == PEOPLE - 1


@pytest.mark.django_db(transaction=True)
def test_control_without_the_slot_lock_and_the_unique_index_the_same_time_is_given_twice(
    monkeypatch,
):
    """The harness can see the failure: with the lock gone and the partial unique index dropped,
    the same fifty requests put more than one live session on the time."""
    from django.db import connection as db

    from scheduling.models import Slot
    from scheduling.services import sessions

    constraint = next(
        c for c in Appointment._meta.constraints if c.name == "one_live_appointment_per_slot"
    )

    def slot_without_lock(slot_id, appointment, *, now):
        slot = Slot.objects.get(pk=slot_id)
        if sessions.move_breaches(appointment, slot, now=now):
            raise sessions.SessionActionError("That time is no longer available.")
        return slot

    monkeypatch.setattr(sessions, "_locked_slot", slot_without_lock)
    appointments, slot_id = _fifty_sessions_and_one_free_time()
    with db.schema_editor() as editor:
        editor.remove_constraint(Appointment, constraint)
    try:
        _everyone_moves_at_once(appointments, slot_id)
        assert _live_on(slot_id) > 1
    finally:
        Appointment.objects.all().delete()
        with db.schema_editor() as editor:
            editor.add_constraint(Appointment, constraint)
