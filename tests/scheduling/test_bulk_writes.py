"""Rows written without the ORM: what they hold is what a save would have written."""

import pytest
from django.conf import settings
from django.db import connection

from scheduling.models import Appointment, AppointmentEvent
from scheduling.services.bulk import row_insert, rows_insert
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory

pytestmark = pytest.mark.django_db


# Both ways row_insert learns the new id: RETURNING, or the last row id on SQLite before 3.35.
IS_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
INSERT_IDS = ["returning", "last row id"] if IS_SQLITE else ["returning"]


@pytest.fixture(params=INSERT_IDS)
def insert_id(request, monkeypatch):
    if request.param == "last row id":
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    return request.param


def test_one_row_gets_its_defaults_and_its_id(insert_id):
    slot = SlotFactory()
    referral = ReferralFactory()
    values = {"referral_id": referral.pk, "slot_id": slot.pk, "clinician_id": slot.clinician_id}
    new_id = row_insert(Appointment, {**values, "session_number": 1, "match_explanation": {"a": 1}})
    appointment = Appointment.objects.get(pk=new_id)
    assert (appointment.status, appointment.ical_sequence) == (Appointment.Status.PROPOSED, 0)
    assert appointment.match_explanation == {"a": 1}
    assert appointment.ical_uid and appointment.proposed_at and appointment.updated_at
    later = SlotFactory(clinician=slot.clinician)
    other = row_insert(Appointment, {**values, "slot_id": later.pk, "session_number": 2})
    assert Appointment.objects.get(pk=other).ical_uid != appointment.ical_uid


def test_a_row_a_unique_constraint_refuses_is_left_out_without_an_error(insert_id):
    held = AppointmentFactory(status=Appointment.Status.PROPOSED)
    values = {
        "referral_id": ReferralFactory().pk,
        "slot_id": held.slot_id,
        "clinician_id": held.clinician_id,
        "session_number": 1,
    }
    assert row_insert(Appointment, values, unless_conflict=True) is None
    assert list(Appointment.objects.filter(slot_id=held.slot_id)) == [held]


def test_many_rows_get_their_defaults_and_ids_in_order():
    appointment = AppointmentFactory()
    rows = [(appointment.pk, "", "proposed", "system", f"reason {i}") for i in range(3)]
    fields = ("appointment_id", "from_status", "to_status", "actor_label", "reason")
    ids = rows_insert(AppointmentEvent, fields, rows, with_ids=True)
    events = AppointmentEvent.objects.filter(pk__in=ids)
    assert [events.get(pk=pk).reason for pk in ids] == ["reason 0", "reason 1", "reason 2"]
    assert all(event.occurred_at is not None for event in events)
    assert events.count() == 3
