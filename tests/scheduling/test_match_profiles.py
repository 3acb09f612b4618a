"""A single match's clinician profiles: the attributes each worker keeps are never older than
the clinician's last change."""

import pytest
from django.utils import timezone

from scheduling.matching import Weights
from scheduling.models import Clinician
from scheduling.selectors import match_profiles
from tests.referrals.factories import DistrictFactory, ProgramFactory
from tests.scheduling.factories import ClinicianFactory

pytestmark = pytest.mark.django_db


def profile_of(clinician):
    now = timezone.now()
    return match_profiles([clinician.pk], now=now, start=now, end=now, weights=Weights())[
        clinician.pk
    ]


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
