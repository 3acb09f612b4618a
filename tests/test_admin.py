"""The admin as the staff stopgap: every model there, cases by reference, history read-only."""

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from referrals.models import ReferralEvent, TriageAssessment
from referrals.workflow import referral_transition
from scheduling.models import AppointmentEvent, Slot
from scheduling.services.load import clinician_weeks_recount
from scheduling.workflow import appointment_transition
from tests.referrals.factories import FacilityFactory, ReferralFactory
from tests.scheduling.factories import (
    AppointmentFactory,
    AvailabilityRuleFactory,
    ClinicianFactory,
    TimeOffFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_everything():
    appointment = AppointmentFactory(referral=ReferralFactory(status="new", given_name="Quentin"))
    referral = appointment.referral
    referral_transition(referral, "proposed", actor_label="system")
    appointment_transition(appointment, "accepted", actor_label="clinician")
    TriageAssessment.objects.create(
        referral=referral, answers={}, outcome="routine", rule_version="t1", rule_fired="none"
    )
    FacilityFactory()
    TimeOffFactory(clinician=appointment.clinician)
    AvailabilityRuleFactory(clinician=appointment.clinician)
    clinician_weeks_recount()  # the factory's session, counted in its clinician's week
    return appointment


def admin_models():
    return [
        model
        for app in ("referrals", "scheduling")
        for model in apps.get_app_config(app).get_models()
    ]


def test_every_referrals_and_scheduling_model_is_in_the_admin():
    assert [m for m in admin_models() if not admin.site.is_registered(m)] == []


@pytest.mark.parametrize("model", admin_models(), ids=lambda m: m.__name__)
def test_each_list_and_detail_page_opens_for_staff(admin_client, one_of_everything, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    instance = model.objects.first()
    detail = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk])
    )
    assert detail.status_code == 200


def test_cases_are_found_by_reference_and_listed_without_names(admin_client, one_of_everything):
    referral = one_of_everything.referral
    url = reverse("admin:referrals_referral_changelist")
    found = admin_client.get(url, {"q": referral.reference}).content.decode()
    assert referral.reference in found
    assert "Quentin" not in found
    assert referral.email not in found
    by_name = admin_client.get(url, {"q": "Quentin"}).content.decode()
    assert f">{referral.reference}<" not in by_name


@pytest.mark.parametrize("model", [ReferralEvent, AppointmentEvent, TriageAssessment, Slot])
def test_history_and_materialised_rows_cannot_be_edited_in_the_admin(
    admin_client, one_of_everything, model
):
    opts = model._meta
    instance = model.objects.first()
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk])
    assert 'name="_save"' not in admin_client.get(url).content.decode()
    assert admin_client.post(url, {}).status_code == 403
    add_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    assert admin_client.get(add_url).status_code == 403


def test_a_referrals_status_is_not_editable_in_the_admin(admin_client, one_of_everything):
    url = reverse("admin:referrals_referral_change", args=[one_of_everything.referral_id])
    page = admin_client.get(url).content.decode()
    assert 'name="status"' not in page
    assert 'name="given_name"' in page


def test_availability_saved_in_the_admin_brings_the_slots_along(
    admin_client, django_capture_on_commit_callbacks
):
    clinician = ClinicianFactory()
    url = reverse("admin:scheduling_availabilityrule_add")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url,
            {
                "clinician": clinician.pk,
                "weekday": 2,
                "starts_at_time": "09:00",
                "ends_at_time": "11:00",
                "valid_from_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
            },
        )
    assert response.status_code == 302
    assert Slot.objects.filter(clinician=clinician).count() >= 2 * 7


def test_the_clinician_form_refuses_an_unknown_time_zone(admin_client):
    clinician = ClinicianFactory()
    url = reverse("admin:scheduling_clinician_change", args=[clinician.pk])
    response = admin_client.post(url, {"time_zone": "Australia/Atlantis", "roles": ["coach"]})
    assert response.status_code == 200
    assert "Australia/Atlantis is not one of the available choices" in response.content.decode()
