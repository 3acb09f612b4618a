"""A single match's clinician profiles: the attributes each worker keeps are never older than
the clinician's last change."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from scheduling.matching import Weights, week_start_on
from scheduling.models import Appointment, Clinician
from scheduling.selectors import (
    clinician_profiles,
    eligible_clinician_ids,
    match_profiles,
    need_of,
    referral_histories,
)
from scheduling.services import referral_match
from scheduling.services.load import clinician_weeks_recount
from tests.referrals.factories import (
    DistrictFactory,
    FacilityFactory,
    ProgramFactory,
    ReferralFactory,
)
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.scheduling.test_matching_services import clinician_with_slots

pytestmark = pytest.mark.django_db


def profile_of(clinician):
    now = timezone.now()
    return match_profiles([clinician.pk], now=now, start=now, end=now, weights=Weights())[
        clinician.pk
    ]


def need_for(referral):
    return need_of(referral, referral_histories([referral])[referral.pk])


def test_a_changed_clinician_is_read_afresh():
    clinician = ClinicianFactory(programs=[ProgramFactory()], gender=Clinician.Gender.FEMALE)
    assert profile_of(clinician).gender == Clinician.Gender.FEMALE
    clinician.gender = Clinician.Gender.MALE
    clinician.save()
    assert profile_of(clinician).gender == Clinician.Gender.MALE


def test_a_new_district_of_a_clinician_is_read_afresh():
    clinician = ClinicianFactory(programs=[ProgramFactory()])
    district = DistrictFactory()
    assert district.pk not in profile_of(clinician).district_ids
    clinician.districts.add(district)
    assert district.pk in profile_of(clinician).district_ids


def test_a_change_made_without_signals_is_read_once_the_copy_is_old(settings):
    clinician = ClinicianFactory(programs=[ProgramFactory()], weekly_capacity=5)
    assert profile_of(clinician).weekly_capacity == 5
    Clinician.objects.filter(pk=clinician.pk).update(weekly_capacity=2)
    assert profile_of(clinician).weekly_capacity == 5  # the copy, younger than its limit
    settings.MATCH_PROFILE_CACHE_SECONDS = 0
    assert profile_of(clinician).weekly_capacity == 2


UNSEEN_CHANGES = {
    "moved into the referrer's district": lambda clinician, referral: (
        Clinician.districts.through.objects.create(
            clinician=clinician, district=referral.workplace_district
        )
    ),
    "stopped offering the program": lambda clinician, _referral: (
        Clinician.programs.through.objects.filter(clinician=clinician).delete()
    ),
    "joined the referrer's facility": lambda clinician, referral: (
        Clinician.facilities.through.objects.create(
            clinician=clinician, facility=referral.workplace_facility
        )
    ),
}


@pytest.mark.parametrize("change", UNSEEN_CHANGES)
def test_a_clinician_changed_unseen_is_not_proposed(change):
    """A change that bypassed the signals (a row written straight to a link table) leaves
    this worker's copy out of date; the check under the lock reads each link the referral's
    rules ask about (its program, districts and facility) as they are, and the next
    clinician is proposed instead."""
    program = ProgramFactory()
    sooner, (_sooner_slot,) = clinician_with_slots(program, 40)
    _later, (later_slot,) = clinician_with_slots(program, 80)
    referral = ReferralFactory(program=program, workplace_facility=FacilityFactory())
    assert sooner.pk in eligible_clinician_ids(need_for(referral))  # the copy is read
    UNSEEN_CHANGES[change](sooner, referral)
    outcome = referral_match(referral_id=referral.pk)
    assert Appointment.objects.get(pk=outcome.appointment_id).slot == later_slot


def test_without_a_change_the_copy_serves_every_match():
    program = ProgramFactory()
    clinician_with_slots(program, 40, 41, 42)
    first, second = ReferralFactory(program=program), ReferralFactory(program=program)
    referral_match(referral_id=first.pk)
    with CaptureQueriesContext(connection) as captured:
        referral_match(referral_id=second.pk)
    assert not [q for q in captured if 'FROM "scheduling_clinician_programs"' in q["sql"]][1:]


def test_with_the_cache_down_clinicians_are_saved_and_read_afresh(monkeypatch):
    from django.core.cache import cache

    def down(*_args, **_kwargs):
        raise ConnectionError("cache down")

    for operation in ("get", "get_many", "set"):
        monkeypatch.setattr(cache, operation, down)
    clinician = ClinicianFactory(programs=[ProgramFactory()], gender=Clinician.Gender.FEMALE)
    assert profile_of(clinician).gender == Clinician.Gender.FEMALE
    Clinician.objects.filter(pk=clinician.pk).update(gender=Clinician.Gender.MALE)
    assert profile_of(clinician).gender == Clinician.Gender.MALE


def test_the_fairness_load_is_the_sessions_of_this_week_and_the_next_three_in_either_reader():
    now = timezone.now()
    clinician = ClinicianFactory(programs=[ProgramFactory()], time_zone="Australia/Perth")
    monday = week_start_on(now, clinician.time_zone)
    week_start = dt.datetime.combine(monday, dt.time(9), ZoneInfo(clinician.time_zone))
    counted = {
        dt.timedelta(0): Appointment.Status.COMPLETED,  # this week's: they use its capacity
        dt.timedelta(hours=1): Appointment.Status.NO_SHOW,
        dt.timedelta(weeks=1, hours=2): Appointment.Status.ACCEPTED,
        dt.timedelta(weeks=3, days=4): Appointment.Status.PROPOSED,
    }
    left_out = {
        dt.timedelta(weeks=4, hours=1): Appointment.Status.ACCEPTED,  # the fifth week
        dt.timedelta(weeks=2): Appointment.Status.DECLINED,  # holds nothing
    }
    for offset, status in {**counted, **left_out}.items():
        AppointmentFactory(
            slot=SlotFactory(clinician=clinician, starts_at=week_start + offset),
            status=status,
        )
    clinician_weeks_recount(clinician_ids=[clinician.pk], now=week_start - dt.timedelta(days=1))
    weights = Weights()
    span = {"now": now, "start": now, "end": now + dt.timedelta(weeks=6), "weights": weights}
    single = match_profiles([clinician.pk], **span)[clinician.pk]
    batch = clinician_profiles([clinician.pk], **span)[clinician.pk]
    assert single.upcoming_load == batch.upcoming_load == len(counted)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shapes=st.lists(
        st.fixed_dictionaries(
            {
                "in_program": st.booleans(),
                "is_active": st.booleans(),
                "districts": st.sets(st.integers(0, 2), max_size=2),
                "facilities": st.sets(st.integers(0, 2), max_size=2),
                "phone": st.booleans(),
                "video": st.booleans(),
            }
        ),
        min_size=1,
        max_size=8,
    ),
    workplace=st.integers(0, 2),
    employer=st.integers(0, 2),
    facility=st.one_of(st.none(), st.integers(0, 2)),
    modality=st.sampled_from(["phone", "video", "any"]),
)
def test_the_eligible_clinicians_are_those_the_engine_allows(
    shapes, workplace, employer, facility, modality
):
    """The copy finds the clinicians a referral's conflicts rule out by district and facility
    instead of asking each clinician; it keeps exactly those clinician_breaches passes."""
    from django.db import transaction

    from scheduling.matching import clinician_breaches
    from scheduling.selectors import clinician_copies_forget, clinician_profiles

    class RolledBack(Exception):
        pass

    try:
        with transaction.atomic():
            clinician_copies_forget()
            program = ProgramFactory(code="eligible")
            districts = [DistrictFactory(code=f"eligible-{n}") for n in range(3)]
            facilities = [FacilityFactory(district=districts[n]) for n in range(3)]
            for shape in shapes:
                clinician = ClinicianFactory(
                    programs=[program] if shape["in_program"] else [],
                    districts=[districts[n] for n in shape["districts"]],
                    is_active=shape["is_active"],
                    offers_phone=shape["phone"],
                    offers_video=shape["video"],
                )
                clinician.facilities.set([facilities[n] for n in shape["facilities"]])
            referral = ReferralFactory(
                program=program,
                workplace_district=districts[workplace],
                employer_district=districts[employer],
                workplace_facility=None if facility is None else facilities[facility],
                modality=modality,
            )
            need = need_for(referral)
            now = timezone.now()
            everyone = clinician_profiles(
                Clinician.objects.all(), now=now, start=now, end=now, weights=Weights()
            )
            allowed = sorted(p for p, c in everyone.items() if not clinician_breaches(need, c))

            assert sorted(eligible_clinician_ids(need)) == allowed
            raise RolledBack
    except RolledBack:
        pass
    finally:
        clinician_copies_forget()
