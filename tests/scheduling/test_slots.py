"""Materialising availability into slots: what is created, kept, withdrawn and deleted."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduling.availability import WeeklyRule
from scheduling.models import Appointment, Slot
from scheduling.services import SlotsSummary, slots_materialise, slots_preview
from scheduling.tasks import slots_materialise_all, slots_materialise_for_clinician
from tests.scheduling.factories import (
    AppointmentFactory,
    AvailabilityRuleFactory,
    ClinicianFactory,
    TimeOffFactory,
)

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
MONDAY, TUESDAY = 0, 1
# A Monday in March 2026 with no public holiday in the three weeks from it.
MONDAY_2_MARCH = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def three_week_horizon(settings):
    settings.SLOT_HORIZON_WEEKS = 3
    settings.SLOT_MINUTES = 60


def monday_morning_clinician(**clinician_fields):
    clinician = ClinicianFactory(**clinician_fields)
    AvailabilityRuleFactory(
        clinician=clinician,
        weekday=MONDAY,
        starts_at_time=dt.time(9),
        ends_at_time=dt.time(12),
        valid_from_on=dt.date(2026, 1, 1),
    )
    return clinician


def local_starts(clinician):
    return [
        slot.starts_at.astimezone(ZoneInfo(clinician.time_zone)).strftime("%m-%d %H:%M")
        for slot in Slot.objects.filter(clinician=clinician).order_by("starts_at")
    ]


def test_materialising_creates_every_session_of_the_rules_over_the_horizon():
    clinician = monday_morning_clinician()
    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert summary == SlotsSummary(created=9)
    assert local_starts(clinician) == [
        f"{day} {hour}"
        for day in ("03-02", "03-09", "03-16")
        for hour in ("09:00", "10:00", "11:00")
    ]
    assert all(slot.is_offered for slot in Slot.objects.all())


def test_materialising_again_creates_and_deletes_nothing():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    ids_before = set(Slot.objects.values_list("pk", flat=True))
    assert slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH) == SlotsSummary()
    assert set(Slot.objects.values_list("pk", flat=True)) == ids_before


def test_a_run_costs_a_handful_of_queries_however_many_slots(django_assert_max_num_queries):
    clinician = monday_morning_clinician()
    for weekday in range(1, 5):
        AvailabilityRuleFactory(
            clinician=clinician,
            weekday=weekday,
            starts_at_time=dt.time(8),
            ends_at_time=dt.time(18),
            valid_from_on=dt.date(2026, 1, 1),
        )
    with django_assert_max_num_queries(8):
        summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert summary.created == 3 * (3 + 4 * 10)


def test_the_horizon_rolls_on_as_the_days_pass():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    later = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH + dt.timedelta(7))
    assert later == SlotsSummary(created=3)
    # The past week's slots stay: they are before the horizon, so never touched.
    assert local_starts(clinician)[0] == "03-02 09:00"
    assert local_starts(clinician)[-1] == "03-23 11:00"


def test_a_public_holiday_of_the_clinicians_state_has_no_slots():
    victorian = ClinicianFactory(holiday_state="VIC", time_zone="Australia/Melbourne")
    new_south_welsh = ClinicianFactory(holiday_state="NSW")
    for clinician in (victorian, new_south_welsh):
        AvailabilityRuleFactory(
            clinician=clinician,
            weekday=TUESDAY,
            starts_at_time=dt.time(9),
            ends_at_time=dt.time(10),
            valid_from_on=dt.date(2026, 1, 1),
        )
        slots_materialise(clinician_id=clinician.pk, today=dt.date(2026, 11, 2))
    # 3 November 2026 is Melbourne Cup Day, a holiday in Victoria only.
    assert local_starts(victorian) == ["11-10 09:00", "11-17 09:00"]
    assert local_starts(new_south_welsh) == ["11-03 09:00", "11-10 09:00", "11-17 09:00"]


def test_time_off_removes_the_slots_it_covers():
    clinician = monday_morning_clinician()
    TimeOffFactory(
        clinician=clinician,
        starts_at=dt.datetime(2026, 3, 9, 0, 0, tzinfo=SYDNEY),
        ends_at=dt.datetime(2026, 3, 9, 10, 30, tzinfo=SYDNEY),
    )
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert [s for s in local_starts(clinician) if s.startswith("03-09")] == ["03-09 11:00"]


def test_leave_added_later_deletes_the_free_slots_it_covers():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    TimeOffFactory(
        clinician=clinician,
        starts_at=dt.datetime(2026, 3, 9, tzinfo=SYDNEY),
        ends_at=dt.datetime(2026, 3, 10, tzinfo=SYDNEY),
    )
    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert summary == SlotsSummary(deleted=3)
    assert not [s for s in local_starts(clinician) if s.startswith("03-09")]


def test_ten_oclock_slots_stay_at_ten_local_across_the_april_change():
    clinician = ClinicianFactory()
    AvailabilityRuleFactory(
        clinician=clinician,
        weekday=TUESDAY,
        starts_at_time=dt.time(10),
        ends_at_time=dt.time(11),
        valid_from_on=dt.date(2026, 1, 1),
    )
    slots_materialise(clinician_id=clinician.pk, today=dt.date(2026, 3, 30))
    slots = Slot.objects.order_by("starts_at")
    assert [s.starts_at.astimezone(SYDNEY).hour for s in slots] == [10, 10, 10]
    assert [s.starts_at.hour for s in slots] == [23, 0, 0]  # UTC: AEDT, then AEST


def booked_ten_oclock(clinician, *, status=Appointment.Status.ACCEPTED):
    slot = Slot.objects.get(
        clinician=clinician, starts_at=dt.datetime(2026, 3, 9, 10, tzinfo=SYDNEY)
    )
    return AppointmentFactory(slot=slot, status=status)


def test_removing_a_rule_deletes_free_slots_and_keeps_the_booked_one_unoffered():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    appointment = booked_ten_oclock(clinician)
    clinician.availability_rules.all().delete()

    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)

    assert summary == SlotsSummary(deleted=8, withdrawn=1)
    kept = Slot.objects.get()
    assert (kept.pk, kept.is_offered) == (appointment.slot_id, False)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ACCEPTED


def test_a_rule_change_rematerialises_without_touching_the_booked_slot():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    appointment = booked_ten_oclock(clinician)
    booked_times = (appointment.slot.starts_at, appointment.slot.ends_at)
    clinician.availability_rules.update(starts_at_time=dt.time(10), ends_at_time=dt.time(13))

    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)

    assert summary == SlotsSummary(created=3, deleted=3)
    assert local_starts(clinician)[:3] == ["03-02 10:00", "03-02 11:00", "03-02 12:00"]
    booked = Slot.objects.get(pk=appointment.slot_id)
    assert (booked.starts_at, booked.ends_at, booked.is_offered) == (*booked_times, True)
    assert Appointment.objects.get().slot_id == booked.pk


def test_a_withdrawn_slot_is_offered_again_when_the_rules_bring_it_back():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    appointment = booked_ten_oclock(clinician, status=Appointment.Status.CANCELLED)
    rule = clinician.availability_rules.get()
    rule.ends_at_time = dt.time(10)
    rule.save()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert Slot.objects.get(pk=appointment.slot_id).is_offered is False

    rule.ends_at_time = dt.time(12)
    rule.save()
    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)

    assert summary == SlotsSummary(created=5, reoffered=1)
    assert Slot.objects.get(pk=appointment.slot_id).is_offered is True
    assert Slot.objects.count() == 9


def test_an_inactive_clinician_offers_no_slots():
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    clinician.is_active = False
    clinician.save()
    assert slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH).deleted == 9
    assert not Slot.objects.exists()


def test_a_changed_session_length_replaces_free_slots(settings):
    clinician = monday_morning_clinician()
    slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    settings.SLOT_MINUTES = 90
    summary = slots_materialise(clinician_id=clinician.pk, today=MONDAY_2_MARCH)
    assert summary == SlotsSummary(created=6, deleted=9)
    assert local_starts(clinician)[:2] == ["03-02 09:00", "03-02 10:30"]


def test_the_task_materialises_one_clinician_and_shrugs_at_an_unknown_one():
    clinician = monday_morning_clinician()
    assert slots_materialise_for_clinician(clinician.pk)["created"] > 0
    assert slots_materialise_for_clinician(clinician.pk) == {
        "created": 0,
        "deleted": 0,
        "withdrawn": 0,
        "reoffered": 0,
    }
    assert slots_materialise_for_clinician(clinician.pk + 1000) is None


def test_the_periodic_task_reaches_active_clinicians_and_withdraws_inactive_ones(
    django_capture_on_commit_callbacks,
):
    active = monday_morning_clinician()
    leaving = monday_morning_clinician()
    slots_materialise(clinician_id=leaving.pk)
    leaving.is_active = False
    leaving.save()
    monday_morning_clinician(is_active=False)  # never had slots: nothing to do

    with django_capture_on_commit_callbacks(execute=True):
        queued = slots_materialise_all.delay().get()

    assert queued == 2
    assert Slot.objects.filter(clinician=active).exists()
    assert not Slot.objects.filter(clinician=leaving).exists()


def test_the_preview_shows_exactly_the_future_slots_saving_would_create():
    clinician = monday_morning_clinician()
    rules = [
        WeeklyRule(MONDAY, dt.time(9), dt.time(12), dt.date(2026, 1, 1)),
        WeeklyRule(TUESDAY, dt.time(14), dt.time(16), dt.date(2026, 1, 1)),
    ]
    leave = [
        (
            dt.datetime(2026, 3, 10, 0, tzinfo=SYDNEY),
            dt.datetime(2026, 3, 11, 0, tzinfo=SYDNEY),
        )
    ]
    # Monday 2 March, 10:30 in Sydney: the 09:00 and 10:00 sessions have begun already.
    now = dt.datetime(2026, 3, 2, 10, 30, tzinfo=SYDNEY)
    with time_machine.travel(now, tick=False):
        preview = slots_preview(clinician=clinician, rules=rules, time_off=leave)
        assert Slot.objects.count() == 0  # a preview saves nothing
        AvailabilityRuleFactory(
            clinician=clinician,
            weekday=TUESDAY,
            starts_at_time=dt.time(14),
            ends_at_time=dt.time(16),
            valid_from_on=dt.date(2026, 1, 1),
        )
        TimeOffFactory(clinician=clinician, starts_at=leave[0][0], ends_at=leave[0][1])
        slots_materialise(clinician_id=clinician.pk)
    saved = Slot.objects.filter(starts_at__gt=now).order_by("starts_at")
    assert [(s.starts_at, s.ends_at) for s in preview] == [(s.starts_at, s.ends_at) for s in saved]
    assert preview[0].starts_at == dt.datetime(2026, 3, 2, 11, tzinfo=SYDNEY)
    tuesday_10th = [s for s in preview if s.starts_at.astimezone(SYDNEY).day == 10]
    assert tuesday_10th == []  # on leave
