"""A single match's candidate times come from each worker's copy of the offered times: it
proposes what the engine would over every open time, and a copy that is behind never offers
a time that is gone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referrals.windows import WINDOW_KEYS
from scheduling.matching import match_single, week_start_on
from scheduling.models import Appointment, Slot
from scheduling.selectors import (
    clinician_copies_forget,
    explanation_inputs,
    full_weeks_forget,
    matching_weights,
    need_of,
    offered_times_forget,
    referral_histories,
)
from scheduling.services import referral_match
from scheduling.services.load import clinician_weeks_recount
from scheduling.services.slots import slots_materialise
from scheduling.workflow import appointment_transition
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import (
    AppointmentFactory,
    AvailabilityRuleFactory,
    ClinicianFactory,
    SlotFactory,
)
from tests.scheduling.test_matching_services import at

pytestmark = pytest.mark.django_db
A = Appointment.Status


def slot_at(clinician, hours: int) -> Slot:
    return SlotFactory(clinician=clinician, starts_at=at(hours), ends_at=at(hours + 1))


def proposed_slot(referral) -> Slot | None:
    outcome = referral_match(referral_id=referral.pk)
    if outcome.appointment_id is None:
        return None
    return Appointment.objects.get(pk=outcome.appointment_id).slot


class _RolledBack(Exception):
    pass


clinicians = st.lists(
    st.fixed_dictionaries(
        {
            "district": st.integers(0, 2),
            "capacity": st.integers(1, 3),
            # Hours from now: inside the notice, and over four weeks after it.
            "hours": st.sets(st.integers(2, 24 * 7 * 4), min_size=1, max_size=12),
            "booked": st.integers(0, 4),
        }
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=clinicians,
    district=st.integers(0, 2),
    windows=st.sets(st.sampled_from(WINDOW_KEYS), max_size=6),
    page_size=st.integers(1, 6),
    spare=st.integers(0, 3),
    per_clinician=st.integers(1, 3),
)
def test_a_single_match_proposes_the_cheapest_open_time_of_all(
    world, district, windows, page_size, spare, per_clinician, settings
):
    """Small pages and no spare make the match read in several rounds; whatever it reads,
    it proposes the time the engine finds cheapest over every open time of the program."""
    settings.MATCH_CANDIDATE_PAGE_SIZE = page_size
    settings.MATCH_CANDIDATE_CHECK_SPARE = spare
    settings.MATCH_CANDIDATES_PER_CLINICIAN = per_clinician
    settings.MATCH_CANDIDATES_PER_CLINICIAN_SPARE = spare
    try:
        with transaction.atomic():
            clinician_copies_forget()
            offered_times_forget()
            full_weeks_forget()
            program = ProgramFactory(code="candidates")
            districts = [DistrictFactory(code=f"candidates-{n}") for n in range(3)]
            for shape in world:
                clinician = ClinicianFactory(
                    programs=[program],
                    districts=[districts[shape["district"]]],
                    weekly_capacity=shape["capacity"],
                )
                slots = [slot_at(clinician, hours) for hours in sorted(shape["hours"])]
                for slot in slots[: shape["booked"]]:
                    AppointmentFactory(slot=slot, clinician=clinician, status=A.ACCEPTED)
            clinician_weeks_recount()
            referral = ReferralFactory(
                program=program,
                workplace_district=districts[district],
                preferred_windows=sorted(windows),
            )
            need = need_of(referral, referral_histories([referral])[referral.pk])
            now = timezone.now()
            profiles, every_open_time = explanation_inputs(
                need, now=now, weights=matching_weights()
            )
            best = match_single(
                need, profiles, every_open_time, now=now, weights=matching_weights()
            ).best
            chosen = proposed_slot(referral)
            assert (chosen.pk if chosen else None) == (best.slot_id if best else None)
            raise _RolledBack
    except _RolledBack:
        pass
    finally:
        clinician_copies_forget()
        offered_times_forget()
        full_weeks_forget()


def test_a_time_added_after_the_copy_was_read_is_offered():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slot_at(clinician, 90)
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(90)
    sooner = slot_at(clinician, 40)
    assert proposed_slot(ReferralFactory(program=program)) == sooner


def test_times_materialised_from_new_availability_are_offered():
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    referral = ReferralFactory(program=program)
    assert proposed_slot(referral) is None  # nothing offered, and the copy is read
    AvailabilityRuleFactory(clinician=clinician, valid_from_on=timezone.localdate())
    slots_materialise(clinician_id=clinician.pk)
    chosen = proposed_slot(referral)
    assert chosen is not None and chosen.clinician == clinician


def test_a_time_withdrawn_unseen_is_never_proposed():
    """A withdrawal that bypassed the signals leaves this worker's copy behind; the chosen
    time is read under its lock, so the next time is proposed instead."""
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    withdrawn, later = slot_at(clinician, 40), slot_at(clinician, 41)
    proposed_slot(ReferralFactory(program=program, preferred_windows=["sun-night"]))  # reads
    Slot.objects.filter(pk=withdrawn.pk).update(is_offered=False)
    assert proposed_slot(ReferralFactory(program=program)) == later


def test_a_time_added_unseen_is_offered_once_the_copy_is_old(settings):
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slot_at(clinician, 90), slot_at(clinician, 91)
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(90)
    Slot.objects.bulk_create([Slot(clinician=clinician, starts_at=at(40), ends_at=at(41))])
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(91)  # the copy
    settings.MATCH_OFFERED_TIMES_CACHE_SECONDS = 0
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(40)


def test_with_the_cache_down_offered_times_are_read_afresh(monkeypatch):
    from django.core.cache import cache

    def down(*_args, **_kwargs):
        raise ConnectionError("cache down")

    for operation in ("get", "get_many", "set"):
        monkeypatch.setattr(cache, operation, down)
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slot_at(clinician, 90)
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(90)
    Slot.objects.bulk_create([Slot(clinician=clinician, starts_at=at(40), ends_at=at(41))])
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(40)


def test_a_match_asks_the_cache_for_the_copies_versions_once(monkeypatch):
    """One round trip for both versions, not one at every read of a copy (the test cache
    answers get_many key by key; Redis answers it in one MGET)."""
    from django.core.cache import cache

    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    slot_at(clinician, 40), slot_at(clinician, 41)
    asked, inside_many = [], []
    get, get_many = cache.get, cache.get_many

    def one_get(key, *args, **kwargs):
        if not inside_many:
            asked.append(key)
        return get(key, *args, **kwargs)

    def many_gets(keys, *args, **kwargs):
        asked.append(tuple(keys))
        inside_many.append(True)
        try:
            return get_many(keys, *args, **kwargs)
        finally:
            inside_many.pop()

    monkeypatch.setattr(cache, "get", one_get)
    monkeypatch.setattr(cache, "get_many", many_gets)
    assert proposed_slot(ReferralFactory(program=program)).starts_at == at(40)
    assert asked == [
        (
            "scheduling:clinicians-version",
            "scheduling:offered-times-version",
            "scheduling:full-weeks-version",
        )
    ]


def test_only_times_no_live_session_holds_count_as_open(monkeypatch):
    """Asked about one id per statement on SQLite (it takes a bounded number of parameters),
    the answer is the same and keeps the times' order."""
    from scheduling import selectors
    from scheduling.matching import SlotTable

    monkeypatch.setattr(selectors, "SQLITE_IDS_PER_STATEMENT", 1)
    clinician = ClinicianFactory()
    first, proposed, accepted, declined, last = (
        slot_at(clinician, h) for h in (40, 41, 42, 43, 44)
    )
    AppointmentFactory(slot=proposed, clinician=clinician, status=A.PROPOSED)
    AppointmentFactory(slot=accepted, clinician=clinician, status=A.ACCEPTED)
    AppointmentFactory(slot=declined, clinician=clinician, status=A.DECLINED)
    asked = [last, declined, accepted, proposed, first]
    table = SlotTable.from_rows([(s.pk, clinician.pk, s.starts_at, s.ends_at) for s in asked])
    still_open = table.slot_ids[selectors._open_mask(table)]
    assert still_open.tolist() == [last.pk, declined.pk, first.pk]


def _one_week_pair(clinician) -> tuple[Slot, Slot]:
    """Two consecutive hours of one of the clinician's weeks, two days or more ahead."""
    hours = 48
    while week_start_on(at(hours), clinician.time_zone) != week_start_on(
        at(hours + 1), clinician.time_zone
    ):
        hours += 2
    return slot_at(clinician, hours), slot_at(clinician, hours + 1)


def _full_week_and_an_elsewhere_proposal(*, capacity_of_first: int = 1):
    """A clinician whose week a first proposal fills, a match that saw it full (and so went
    to another clinician), and the first proposal."""
    program = ProgramFactory()
    first = ClinicianFactory(programs=[program], weekly_capacity=capacity_of_first)
    other = ClinicianFactory(programs=[program])
    early, _later = _one_week_pair(first)
    slot_at(other, 24 * 9), slot_at(other, 24 * 9 + 1)
    filling = ReferralFactory(program=program)
    assert proposed_slot(filling) == early
    full_weeks_forget()  # this worker's copy now holds the week as full
    assert proposed_slot(ReferralFactory(program=program)).clinician == other
    return program, first, Appointment.objects.get(referral=filling)


def test_a_week_that_has_room_again_is_offered_at_once():
    program, first, filling = _full_week_and_an_elsewhere_proposal()
    with transaction.atomic():
        appointment_transition(filling, A.DECLINED, actor=None, actor_label="test")

    assert proposed_slot(ReferralFactory(program=program)).clinician == first


def test_a_week_whose_clinician_takes_more_sessions_is_offered_at_once():
    program, first, _filling = _full_week_and_an_elsewhere_proposal()
    first.weekly_capacity = 2
    first.save()

    assert proposed_slot(ReferralFactory(program=program)).clinician == first


def _tuesday_at_nine(time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """A Tuesday 9-10 am in `time_zone`, four days or more ahead."""
    zone = ZoneInfo(time_zone)
    day = (timezone.now() + dt.timedelta(days=4)).astimezone(zone).date()
    day += dt.timedelta(days=(1 - day.weekday()) % 7)
    starts_at = dt.datetime.combine(day, dt.time(9), zone)
    return starts_at, starts_at + dt.timedelta(hours=1)


def test_a_window_is_read_in_each_referrers_own_time_zone():
    """The same window in two zones, one after the other in one worker: Tuesday morning in
    Sydney is Tuesday before dawn in Perth."""
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program])
    sydney, perth = (
        SlotFactory(clinician=clinician, starts_at=starts_at, ends_at=ends_at)
        for starts_at, ends_at in (
            _tuesday_at_nine("Australia/Sydney"),
            _tuesday_at_nine("Australia/Perth"),
        )
    )

    def tuesday_morning_in(time_zone: str) -> Slot | None:
        return proposed_slot(
            ReferralFactory(program=program, time_zone=time_zone, preferred_windows=["tue-morning"])
        )

    assert tuesday_morning_in("Australia/Sydney") == sydney
    assert tuesday_morning_in("Australia/Perth") == perth
