"""The clinician portal: a clinician's own sessions only, the minimum about the person, answers
through the calendar's door, marking sessions, availability, leave, capacity and the feed."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import appointment_notify
from privacy.models import AuditEntry
from referrals.models import Referral, TriageAssessment
from scheduling.models import Appointment, Slot
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory
from tests.staff.factories import sign_in_verified

pytestmark = pytest.mark.django_db
A = Appointment.Status
R = Referral.Status
K = OutboundMessage.Kind


def at(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def session_for(clinician, *, hours=72, status=A.PROPOSED, program=None, **referral_fields):
    program = program or ProgramFactory(session_limit=3)
    clinician.programs.add(program)
    if not clinician.districts.exists():
        clinician.districts.add(DistrictFactory())
    referral_status = R.PROPOSED if status in (A.PROPOSED, A.TENTATIVE) else R.BOOKED
    referral = ReferralFactory(program=program, status=referral_status, **referral_fields)
    starts_at = at(hours)
    slot = SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )
    appointment = AppointmentFactory(referral=referral, slot=slot, status=status)
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    return appointment


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def client_a(clinician_a) -> Client:
    return sign_in_verified(Client(), clinician_a.user)


@pytest.fixture
def client_b(clinician_b) -> Client:
    return sign_in_verified(Client(), clinician_b.user)


def url(name, *args):
    return reverse(f"clinician:{name}", args=args)


# --- Whose sessions -------------------------------------------------------------------------


def test_a_clinician_signing_in_lands_on_their_sessions(client_a):
    assert client_a.get(reverse("staff:home"))["Location"] == url("sessions")


def test_a_clinician_sees_only_their_own_sessions(client_a, clinician_a, clinician_b):
    session_for(clinician_a, preferred_name="Avaname")
    session_for(clinician_b, preferred_name="Blakename")
    body = text(client_a.get(url("sessions")))
    assert "Avaname" in body
    assert "Blakename" not in body


def test_clinician_b_can_neither_see_nor_act_on_clinician_as_session(client_b, clinician_a):
    appointment = session_for(clinician_a)
    assert client_b.get(url("session", appointment.pk)).status_code == 404
    for name in ("respond", "complete", "no_show"):
        response = client_b.post(url(name, appointment.pk), {"response": "accepted"})
        assert response.status_code == 404, name
    appointment.refresh_from_db()
    assert appointment.status == A.PROPOSED
    assert not AuditEntry.objects.filter(object_type="referrals.referral").exists()


def test_a_coordinator_is_not_let_into_the_clinician_portal(coordinator_client, clinician_a):
    appointment = session_for(clinician_a)
    assert coordinator_client.get(url("session", appointment.pk)).status_code == 403


# --- What a session shows -------------------------------------------------------------------


def test_a_session_shows_the_minimum_to_make_contact_and_the_look_is_audited(client_a, clinician_a):
    appointment = session_for(
        clinician_a,
        given_name="Alexandra",
        preferred_name="Lex",
        contact_method="phone",
        phone="+61412345678",
        details="Marker free text 4411",
        specialty="Marker specialty",
    )
    TriageAssessment.objects.create(
        referral=appointment.referral,
        answers={"harm": "Marker answer"},
        k10_score=28,
        outcome="priority",
        rule_version="1",
        rule_fired="k10_high",
    )
    body = text(client_a.get(url("session", appointment.pk)))
    assert "Lex" in body and "Phone call: +61412345678" in body
    assert appointment.referral.program.name in body and "Session 1 of 3" in body
    for hidden in ("Alexandra", "Marker free text", "Marker specialty", "Marker answer"):
        assert hidden not in body
    # As a word: the page's random CSRF token may hold those three characters.
    assert not re.search(r"\bK10\b", body)
    entry = AuditEntry.objects.get(object_type="referrals.referral")
    assert (entry.actor, entry.action) == (clinician_a.user, "view")
    assert entry.detail == "clinician viewed the contact details for a session"


def test_triage_is_shown_only_where_the_program_shares_it(client_a, clinician_a):
    program = ProgramFactory(shows_triage_to_clinician=True)
    appointment = session_for(clinician_a, program=program)
    TriageAssessment.objects.create(
        referral=appointment.referral,
        answers={},
        k10_score=28,
        outcome="priority",
        rule_version="1",
        rule_fired="k10_high",
    )
    body = text(client_a.get(url("session", appointment.pk)))
    assert "<dt>K10 score</dt><dd>28</dd>" in body
    assert AuditEntry.objects.get().detail.endswith("contact details and triage for a session")


def test_a_finished_session_no_longer_shows_contact_details(client_a, clinician_a):
    appointment = session_for(clinician_a, status=A.DECLINED, email="lex@example.test")
    body = text(client_a.get(url("session", appointment.pk)))
    assert "lex@example.test" not in body
    assert not AuditEntry.objects.exists()


# --- Answering and marking ------------------------------------------------------------------


def test_accepting_in_the_portal_confirms_the_time_to_the_referrer(client_a, clinician_a):
    appointment = session_for(clinician_a)
    client_a.post(url("respond", appointment.pk), {"response": "accepted"})
    appointment.refresh_from_db()
    assert appointment.status == A.ACCEPTED
    assert Referral.objects.get(pk=appointment.referral_id).status == R.BOOKED
    confirmation = OutboundMessage.objects.get(appointment=appointment, kind=K.CONFIRMATION)
    assert confirmation.recipient == appointment.referral.email
    event = appointment.events.get(to_status=A.ACCEPTED)
    assert (event.actor, event.actor_label) == (clinician_a.user, "clinician (portal)")


def test_declining_in_the_portal_sends_the_case_back_to_the_matcher(client_a, clinician_a):
    appointment = session_for(clinician_a)
    client_a.post(url("respond", appointment.pk), {"response": "declined"})
    appointment.refresh_from_db()
    assert appointment.status == A.DECLINED
    assert Referral.objects.get(pk=appointment.referral_id).status in (R.NEW, R.UNMATCHED)


def test_completing_session_one_in_the_portal_proposes_session_two(client_a, clinician_a):
    appointment = session_for(clinician_a, hours=-2, status=A.ACCEPTED)
    later = SlotFactory(clinician=clinician_a, starts_at=at(90), ends_at=at(91))
    response = client_a.post(url("complete", appointment.pk))
    assert "next session has been proposed" in text(client_a.get(response["Location"]))
    second = Appointment.objects.get(referral=appointment.referral, status=A.PROPOSED)
    assert (second.slot, second.session_number) == (later, 2)
    assert OutboundMessage.objects.filter(appointment=second, kind=K.INVITATION).exists()


def test_a_session_to_come_cannot_be_marked(client_a, clinician_a):
    appointment = session_for(clinician_a, status=A.ACCEPTED)
    response = client_a.post(url("no_show", appointment.pk))
    assert "once it has started" in text(client_a.get(response["Location"]))
    appointment.refresh_from_db()
    assert appointment.status == A.ACCEPTED


# --- Availability, leave, capacity, feed ----------------------------------------------------


def _next_monday() -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday())


def test_a_new_rule_is_previewed_then_saved_without_touching_booked_slots(client_a, clinician_a):
    booked = session_for(clinician_a, status=A.ACCEPTED)
    booked_slot_id = booked.slot_id
    rule = {
        "weekday": "0",
        "starts_at_time": "09:00",
        "ends_at_time": "11:00",
        "valid_from_on": _next_monday().isoformat(),
        "valid_until_on": "",
    }
    preview = client_a.post(url("availability"), {**rule, "action": "preview"})
    assert "would be added" in text(preview)
    assert not clinician_a.availability_rules.exists()

    client_a.post(url("availability"), {**rule, "action": "save"})
    assert clinician_a.availability_rules.count() == 1
    assert Slot.objects.filter(clinician=clinician_a, is_offered=True).count() > 1
    booked.refresh_from_db()
    assert (booked.slot_id, booked.status) == (booked_slot_id, A.ACCEPTED)
    assert Slot.objects.filter(pk=booked_slot_id).exists()


def test_a_clinician_cannot_remove_another_clinicians_rule(client_b, clinician_a):
    rule = clinician_a.availability_rules.create(
        weekday=0, starts_at_time="09:00", ends_at_time="10:00", valid_from_on=_next_monday()
    )
    assert client_b.post(url("availability_delete", rule.pk)).status_code == 404
    assert clinician_a.availability_rules.filter(pk=rule.pk).exists()


def test_leave_is_previewed_with_the_sessions_inside_it(client_a, clinician_a):
    appointment = session_for(clinician_a, status=A.ACCEPTED)
    local = timezone.localtime(appointment.slot.starts_at)
    day = local.date().isoformat()
    data = {"starts_on": day, "ends_on": day, "note": "", "action": "preview"}
    body = text(client_a.post(url("leave"), data))
    assert appointment.referral.reference in body
    assert "ask a coordinator to move them" in body


def test_capacity_is_previewed_against_the_weeks_ahead_then_saved(client_a, clinician_a):
    session_for(clinician_a, hours=1, status=A.ACCEPTED)
    preview = client_a.post(url("capacity"), {"weekly_capacity": "1", "action": "preview"})
    assert "With 1 a week" in text(preview)
    clinician_a.refresh_from_db()
    assert clinician_a.weekly_capacity == 10
    client_a.post(url("capacity"), {"weekly_capacity": "2", "action": "save"})
    clinician_a.refresh_from_db()
    assert clinician_a.weekly_capacity == 2


def test_replacing_the_feed_address_stops_the_old_one(client_a, clinician_a):
    old = clinician_a.feed_token
    body = text(client_a.get(url("feed")))
    assert "webcal://" in body and old in body
    client_a.post(url("feed_rotate"))
    clinician_a.refresh_from_db()
    assert clinician_a.feed_token != old
    assert Client().get(reverse("notifications:feed", args=[old])).status_code == 404
    assert (
        Client().get(reverse("notifications:feed", args=[clinician_a.feed_token])).status_code
        == 200
    )
    assert AuditEntry.objects.get(object_type="scheduling.clinician").action == "change"


def test_the_sessions_page_costs_the_same_queries_for_one_session_or_many(client_a, clinician_a):
    session_for(clinician_a)
    client_a.get(url("sessions"))  # the first request of a session also saves the session
    with CaptureQueriesContext(connection) as one:
        client_a.get(url("sessions"))
    for hours in (80, 90, 100, -30, -40):
        session_for(clinician_a, hours=hours, status=A.ACCEPTED)
    with CaptureQueriesContext(connection) as six:
        client_a.get(url("sessions"))
    assert len(six) == len(one)
