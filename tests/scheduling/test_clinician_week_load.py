"""The sessions each clinician week holds (ClinicianWeek), kept in step with appointments."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referrals.models import Referral
from scheduling import tasks
from scheduling.models import Appointment, ClinicianWeek
from scheduling.services import (
    Response,
    appointment_propose,
    appointment_respond,
    proposal_expire,
    referral_match,
    referral_rematch,
    referrals_plan_batch,
    referrals_propose_batch,
)
from scheduling.services.load import clinician_weeks_adjust, clinician_weeks_recount
from scheduling.workflow import appointment_move, appointment_transition
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.django_db
A = Appointment.Status
SYDNEY = ZoneInfo("Australia/Sydney")


def at(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def slots_for(clinician, *hours):
    return [
        SlotFactory(clinician=clinician, starts_at=at(h), ends_at=at(h) + dt.timedelta(hours=1))
        for h in hours
    ]


def held(clinician) -> dict[dt.date, int]:
    return {
        week.week_start_on: week.held
        for week in ClinicianWeek.objects.filter(clinician=clinician).exclude(held=0)
    }


def monday_of(moment: dt.datetime, zone: str = "Australia/Sydney") -> dt.date:
    local = moment.astimezone(ZoneInfo(zone)).date()
    return local - dt.timedelta(days=local.weekday())


def hours_within_one_week(first: int, span: int) -> int:
    """The first whole hour from `first` hours ahead for which that hour and the one `span`
    hours later fall in one Sydney week, whenever the test runs (at(40) and at(42) are a week
    apart when the run begins on a Saturday morning)."""
    for hours in range(first, first + 7 * 24):
        if monday_of(at(hours)) == monday_of(at(hours + span)):
            return hours
    raise AssertionError("no week holds that span")


def test_a_proposal_counts_in_its_week_until_it_is_declined():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    (slot,) = slots_for(clinician, 40)
    referral = ReferralFactory(program=program)
    referral_match(referral_id=referral.pk)
    assert held(clinician) == {monday_of(slot.starts_at): 1}
    appointment = Appointment.objects.get(referral=referral)
    appointment_respond(
        appointment_id=appointment.pk, response=Response.DECLINED, actor_label="clinician"
    )
    assert held(clinician) == {}


def test_a_coordinators_manual_assignment_counts_in_its_week():
    """Manual assignments and the urgent "talk now" session go through appointment_propose."""
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    (slot,) = slots_for(clinician, 40)
    referral = ReferralFactory(program=program)
    appointment_propose(referral_id=referral.pk, slot_id=slot.pk, manual_reason="asked for")
    assert held(clinician) == {monday_of(slot.starts_at): 1}


def test_an_accepted_session_still_counts_once_completed():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    (slot,) = slots_for(clinician, 40)
    referral = ReferralFactory(program=program)
    outcome = referral_match(referral_id=referral.pk)
    appointment_respond(
        appointment_id=outcome.appointment_id, response=Response.ACCEPTED, actor_label="clinician"
    )
    appointment = Appointment.objects.get(pk=outcome.appointment_id)
    appointment_transition(appointment, A.COMPLETED, actor_label="clinician")
    assert held(clinician) == {monday_of(slot.starts_at): 1}


def test_an_expired_proposal_no_longer_counts():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slots_for(clinician, 40)
    referral = ReferralFactory(program=program)
    outcome = referral_match(referral_id=referral.pk)
    Appointment.objects.filter(pk=outcome.appointment_id).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    proposal_expire(appointment_id=outcome.appointment_id)
    assert held(clinician) == {}


def test_a_withdrawn_proposal_moves_its_count_to_the_new_one():
    program = ProgramFactory()
    first = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    second = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slots_for(first, 40)
    (later,) = slots_for(second, 60)
    referral = ReferralFactory(program=program)
    referral_match(referral_id=referral.pk)
    referral_rematch(
        referral_id=referral.pk,
        actor=None,
        actor_label="coordinator",
        reason="asked for someone else",
        avoid_current_clinician=True,
    )
    assert held(first) == {}
    assert held(second) == {monday_of(later.starts_at): 1}


def test_a_batch_counts_every_proposal_in_its_week():
    program = ProgramFactory()
    clinician = ClinicianFactory(
        programs=[program], districts=[DistrictFactory()], weekly_capacity=5
    )
    slots = slots_for(clinician, 40, 41, 42)
    referrals = [ReferralFactory(program=program) for _ in range(3)]
    plan = referrals_plan_batch(referral_ids=[r.pk for r in referrals])
    referrals_propose_batch(plan=plan)
    weeks: dict[dt.date, int] = {}
    for slot in slots:
        weeks[monday_of(slot.starts_at)] = weeks.get(monday_of(slot.starts_at), 0) + 1
    assert held(clinician) == weeks


def test_a_week_starts_at_midnight_on_monday_in_the_clinicians_zone():
    clinician = ClinicianFactory(time_zone="Australia/Sydney")
    monday = timezone.localdate() + dt.timedelta(days=14)
    monday -= dt.timedelta(days=monday.weekday())
    # 00:30 on Monday in Sydney is still Sunday in UTC.
    starts_at = dt.datetime.combine(monday, dt.time(0, 30), SYDNEY)
    slot = SlotFactory(clinician=clinician, starts_at=starts_at)
    clinician_weeks_adjust(slot_ids=[slot.pk], delta=1)
    week = ClinicianWeek.objects.get(clinician=clinician)
    assert week.week_start_on == monday
    assert week.starts_at <= starts_at < week.ends_at
    assert week.ends_at - week.starts_at == dt.timedelta(weeks=1)


def test_the_sweeper_heals_a_count_that_drifted():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    booked, stale = slots_for(clinician, 40, 24 * 9)
    # Written straight to the table, as a bulk import would: the counts never heard of it.
    AppointmentFactory(slot=booked, status=A.ACCEPTED)
    clinician_weeks_adjust(slot_ids=[stale.pk], delta=3)
    tasks.match_sweep()
    assert held(clinician) == {monday_of(booked.starts_at): 1}


def test_a_batch_counts_a_proposal_in_its_clinicians_own_week():
    # Sunday 22:00 in Perth is Monday 01:00 in Sydney: the week is the clinician's.
    perth = ZoneInfo("Australia/Perth")
    today = timezone.now().astimezone(perth).date()
    sunday = today + dt.timedelta(days=13 - today.weekday())
    starts_at = dt.datetime.combine(sunday, dt.time(22), perth)
    program = ProgramFactory()
    clinician = ClinicianFactory(
        programs=[program], districts=[DistrictFactory()], time_zone="Australia/Perth"
    )
    SlotFactory(clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1))
    referral = ReferralFactory(program=program, preferred_windows=[])
    referrals_propose_batch(plan=referrals_plan_batch(referral_ids=[referral.pk]))
    assert Appointment.objects.filter(referral=referral).exists()
    assert held(clinician) == {monday_of(starts_at, "Australia/Perth"): 1}
    assert monday_of(starts_at, "Australia/Perth") != monday_of(starts_at)


def test_recounting_twice_changes_nothing():
    clinician = ClinicianFactory()
    (slot,) = slots_for(clinician, 40)
    AppointmentFactory(slot=slot, status=A.PROPOSED)
    clinician_weeks_recount()
    first = held(clinician)
    clinician_weeks_recount()
    assert held(clinician) == first == {monday_of(slot.starts_at): 1}


def test_a_single_match_passes_over_a_week_its_count_says_is_full():
    program = ProgramFactory()
    clinician = ClinicianFactory(
        programs=[program], districts=[DistrictFactory()], weekly_capacity=1
    )
    first = hours_within_one_week(40, 2)
    this_week, later = slots_for(clinician, first, first + 24 * 8)
    filled = SlotFactory(clinician=clinician, starts_at=this_week.starts_at + dt.timedelta(hours=2))
    AppointmentFactory(slot=filled, status=A.ACCEPTED)
    clinician_weeks_recount()
    referral = ReferralFactory(program=program)
    outcome = referral_match(referral_id=referral.pk)
    assert Appointment.objects.get(pk=outcome.appointment_id).slot == later


def _queries_when_early_weeks_are_full(clinician_count: int) -> int:
    """A match when every clinician's first weeks are full and each has a free later week."""
    program = ProgramFactory()
    for _ in range(clinician_count):
        clinician = ClinicianFactory(
            programs=[program], districts=[DistrictFactory()], weekly_capacity=1
        )
        for week in range(3):
            taken, _free = slots_for(clinician, 30 + 168 * week, 31 + 168 * week)
            AppointmentFactory(slot=taken, status=A.ACCEPTED)
        slots_for(clinician, 30 + 168 * 4)
    clinician_weeks_recount()
    referral = ReferralFactory(program=program)
    with CaptureQueriesContext(connection) as captured:
        outcome = referral_match(referral_id=referral.pk)
    assert outcome.appointment_id is not None
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.PROPOSED
    return len(captured)


def test_full_early_weeks_cost_a_match_no_more_queries(settings):
    # Room for every free week's time, not for the times of the full weeks as well.
    settings.MATCH_CANDIDATE_PAGE_SIZE = 13
    assert _queries_when_early_weeks_are_full(2) == _queries_when_early_weeks_are_full(12)


def test_moving_a_session_to_another_week_moves_its_count():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    this_week, next_week = slots_for(clinician, 40, 40 + 7 * 24)
    referral = ReferralFactory(program=program)
    referral_match(referral_id=referral.pk)
    appointment = Appointment.objects.get(referral=referral)
    assert appointment.slot == this_week
    appointment_move(appointment, next_week, actor_label="coordinator")
    assert held(clinician) == {monday_of(next_week.starts_at): 1}


def test_one_clinicians_full_week_hides_no_one_elses_times_that_week():
    program = ProgramFactory()
    full = ClinicianFactory(programs=[program], districts=[DistrictFactory()], weekly_capacity=1)
    free = ClinicianFactory(programs=[program], districts=[DistrictFactory()], weekly_capacity=1)
    first = hours_within_one_week(40, 2)
    slots_for(full, first, first + 24 * 8)
    AppointmentFactory(slot=slots_for(full, first + 1)[0], status=A.ACCEPTED)
    (same_week,) = slots_for(free, first + 2)
    clinician_weeks_recount()
    referral = ReferralFactory(program=program)
    outcome = referral_match(referral_id=referral.pk)
    assert Appointment.objects.get(pk=outcome.appointment_id).slot == same_week


def _filled_week(capacity: int):
    """A clinician whose first week is full at `capacity`, with one more time in it."""
    program = ProgramFactory()
    clinician = ClinicianFactory(
        programs=[program], districts=[DistrictFactory()], weekly_capacity=capacity
    )
    hours = hours_within_one_week(40, 2)
    first, spare = slots_for(clinician, hours, hours + 2)
    AppointmentFactory(slot=first, clinician=clinician, status=A.ACCEPTED)
    clinician_weeks_recount()
    return program, clinician, spare


def test_raising_a_clinicians_capacity_opens_their_full_week_to_the_next_match():
    from staff.services.clinicians import clinician_capacity_set

    program, clinician, spare = _filled_week(capacity=1)
    assert referral_match(referral_id=ReferralFactory(program=program).pk).appointment_id is None

    clinician_capacity_set(clinician_id=clinician.pk, weekly_capacity=2)

    outcome = referral_match(referral_id=ReferralFactory(program=program).pk)
    assert Appointment.objects.get(pk=outcome.appointment_id).slot == spare


def test_the_sweeper_copies_a_capacity_changed_without_signals():
    """A clinician at capacity 0 (taking no one) whose week was counted and emptied again,
    then given room by a change that bypassed signals (a bulk import): the emptied week
    looked full until the sweeper copied the new capacity."""
    from scheduling.models import Clinician

    program = ProgramFactory()
    clinician = ClinicianFactory(
        programs=[program], districts=[DistrictFactory()], weekly_capacity=0
    )
    (slot,) = slots_for(clinician, 40)
    clinician_weeks_adjust(slot_ids=[slot.pk], delta=1)
    clinician_weeks_adjust(slot_ids=[slot.pk], delta=-1)
    Clinician.objects.filter(pk=clinician.pk).update(weekly_capacity=1)

    tasks.match_sweep()

    weeks = ClinicianWeek.objects.filter(clinician=clinician)
    assert list(weeks.values_list("held", "capacity")) == [(0, 1)]
    outcome = referral_match(referral_id=ReferralFactory(program=program).pk)
    assert Appointment.objects.get(pk=outcome.appointment_id).slot == slot
