"""Reads for the referral journey: the reference data kept per process."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from referrals import forms
from referrals.models import District, Facility, Program
from referrals.selectors import Catalogue

pytestmark = pytest.mark.django_db


def catalogue_loaded() -> tuple[Catalogue, int]:
    """A fresh request's catalogue with everything read, and the statements that took."""
    with CaptureQueriesContext(connection) as captured:
        catalogue = Catalogue()
        catalogue.programs, catalogue.districts, catalogue.facilities  # noqa: B018
    return catalogue, len(captured.captured_queries)


def test_reference_data_is_read_once_for_many_requests(reference_data):
    assert catalogue_loaded()[1] == 3
    catalogue, statements = catalogue_loaded()
    assert statements == 0
    assert {p.code for p in catalogue.programs} == set(
        Program.objects.values_list("code", flat=True)
    )


def test_an_edit_is_seen_at_once_by_the_process_that_made_it(reference_data):
    catalogue_loaded()
    program = Program.objects.get(code="dup")
    program.is_bookable = False
    program.save()
    district = District.objects.first()
    Facility.objects.create(district=district, name="A new hospital")
    catalogue, statements = catalogue_loaded()
    assert statements == 3
    assert "dup" not in {p.code for p in catalogue.bookable_programs}
    assert "A new hospital" in {f.name for f in catalogue.facilities_in(district.pk)}


def test_a_deleted_facility_is_gone_at_once(reference_data):
    facility = catalogue_loaded()[0].facilities[0]
    Facility.objects.filter(pk=facility.pk).first().delete()
    assert catalogue_loaded()[0].facility(facility.pk) is None


def test_with_the_cache_off_every_request_reads_again(reference_data, settings):
    settings.REFERENCE_DATA_CACHE_SECONDS = 0
    catalogue_loaded()
    assert catalogue_loaded()[1] == 3


def test_kept_reference_data_expires(reference_data, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("referrals.selectors._clock", lambda: now[0])
    catalogue_loaded()
    District.objects.filter(code="sydney-lhd").update(name="Renamed")  # no signal: elsewhere
    now[0] += 59
    assert "Renamed" not in {d.name for d in catalogue_loaded()[0].districts}
    now[0] += 2
    assert "Renamed" in {d.name for d in catalogue_loaded()[0].districts}


# The wizard's choices, built from the kept reference data -----------------------------------


def facility_names(district_id: str) -> list[str]:
    form = forms.WorkplaceForm(
        data={"workplace-workplace_district": district_id},
        prefix="workplace",
        catalogue=Catalogue(),
    )
    return [label for _value, label in form.fields["workplace_facility"].choices]


def test_a_hospital_added_in_the_admin_is_offered_at_once(reference_data):
    district = District.objects.filter(facilities__isnull=False).first()
    assert "A new hospital" not in facility_names(str(district.pk))
    Facility.objects.create(district=district, name="A new hospital")
    assert "A new hospital" in facility_names(str(district.pk))


def test_made_up_district_ids_offer_no_hospital_and_keep_nothing_more(reference_data):
    facility_names("1")
    kept = len(forms._catalogue_choices_kept)
    for made_up in range(10**9, 10**9 + 50):
        assert facility_names(str(made_up)) == ["Not listed, or I would rather not say"]
    assert len(forms._catalogue_choices_kept) <= kept + 1
