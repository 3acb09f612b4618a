import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import referral_notify
from notifications.tasks import outbox_flush
from privacy.models import AuditEntry, RetentionRecord
from privacy.services import (
    ReferralStillOpen,
    RetentionNotDue,
    audit_record,
    referral_deidentify,
)
from privacy.tasks import retention_sweep
from referrals.models import Referral, ReferralEvent, TriageAssessment
from referrals.workflow import referral_transition
from scheduling.models import AppointmentEvent
from staff.models import CaseActivity
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

CLOSED_ON = dt.datetime(2019, 3, 1, 9, tzinfo=dt.UTC)
MARKER = "MARKER-private-words"
recorded_calls: list[int] = []


def _closed_referral_with_history() -> Referral:
    """A referral with one completed session, closed on CLOSED_ON, full of marker text."""
    with time_machine.travel(CLOSED_ON - dt.timedelta(days=30), tick=False):
        referral = ReferralFactory(
            status="proposed",
            details=MARKER,
            urgent_acknowledgement_note=MARKER,
            hold_reason=MARKER,
            closed_outcome="sessions_completed",
            specialty="Paediatric cardiology",
            referrer_name="Marker Colleague",
            referrer_email="marker.colleague@example.test",
        )
        TriageAssessment.objects.create(
            referral=referral,
            answers={"details": MARKER, "k10": [3, 4]},
            k10_score=24,
            outcome="priority",
            rule_version="2026-1",
            rule_fired="k10_high",
        )
        slot = SlotFactory(
            starts_at=CLOSED_ON - dt.timedelta(days=7),
            ends_at=CLOSED_ON - dt.timedelta(days=7, hours=-1),
        )
        appointment = AppointmentFactory(
            referral=referral, slot=slot, manual_assignment_reason=MARKER
        )
        appointment.match_explanation = {"why": MARKER}
        appointment.save()
        AppointmentEvent.objects.create(
            appointment=appointment, to_status="proposed", actor_label="system", reason=MARKER
        )
    with time_machine.travel(CLOSED_ON, tick=False):
        referral_transition(referral, "closed", actor_label="coordinator", reason=MARKER)
        audit_record(user=None, action="change", obj=referral, detail=f"closed: {MARKER}")
    return referral


def _text_anywhere(referral: Referral) -> list[str]:
    referral.refresh_from_db()
    texts = [
        referral.details,
        referral.urgent_acknowledgement_note,
        referral.hold_reason,
        referral.referrer_name,
        referral.referrer_email,
        str(referral.triage.answers),
        referral.episode.email_normalised,
    ]
    texts += list(ReferralEvent.objects.filter(referral=referral).values_list("reason", flat=True))
    for appointment in referral.appointments.all():
        texts += [appointment.manual_assignment_reason, str(appointment.match_explanation)]
        texts += list(appointment.events.values_list("reason", flat=True))
    texts += list(
        AuditEntry.objects.filter(object_id=str(referral.pk)).values_list("detail", flat=True)
    )
    return [text for text in texts if MARKER in text or "marker" in text.lower()]


def _years_after_closing(years: int, days: int = 0):
    return time_machine.travel(
        CLOSED_ON.replace(year=CLOSED_ON.year + years) + dt.timedelta(days=days), tick=False
    )


def test_a_closed_referral_is_kept_whole_until_seven_years_after_the_last_service():
    referral = _closed_referral_with_history()
    with _years_after_closing(7, days=-1):
        assert retention_sweep() == 0
    assert _text_anywhere(referral)
    assert referral.given_name == "Alex"


def test_after_seven_years_the_sweep_destroys_personal_data_and_keeps_statistics():
    referral = _closed_referral_with_history()
    with _years_after_closing(7, days=1):
        assert retention_sweep() == 1
    assert _text_anywhere(referral) == []
    referral.refresh_from_db()
    assert (referral.given_name, referral.family_name, referral.email, referral.phone) == (
        "",
        "",
        "",
        "",
    )
    assert referral.specialty == "" and referral.workplace_facility_id is None
    # What statistics need stays.
    assert (referral.status, referral.career_stage, referral.state) == ("closed", "resident", "NSW")
    assert referral.closed_outcome == "sessions_completed"
    assert referral.workplace_district_id is not None and referral.program_id is not None
    assert (referral.triage.outcome, referral.triage.k10_score) == ("priority", 24)
    assert referral.appointments.get().status == "proposed"
    assert referral.events.filter(to_status="closed").exists()


def test_the_register_says_what_was_destroyed_when_and_why():
    referral = _closed_referral_with_history()
    with _years_after_closing(7, days=1):
        retention_sweep()
        record = RetentionRecord.objects.get(referral_id=referral.pk)
        assert record.deidentified_at == timezone.now()
    assert (record.reference, record.reason, record.actor) == (
        referral.reference,
        "retention_expired",
        None,
    )
    assert record.last_activity_at == CLOSED_ON
    assert record.rows_blanked == {
        "referrals.referral": 1,
        "referrals.referralevent": 1,
        "referrals.triageassessment": 1,
        "referrals.episode": 1,
        "scheduling.appointment": 1,
        "scheduling.appointmentevent": 1,
        "notifications.outboundmessage": 0,
        "notifications.inboundreply": 0,
        "notifications.inboundmessage": 0,
        "staff.caseactivity": 0,
    }
    assert AuditEntry.objects.filter(
        action="deidentify", object_id=str(referral.pk), detail="reason: retention_expired"
    ).exists()


def test_the_sweep_is_idempotent():
    referral = _closed_referral_with_history()
    with _years_after_closing(8):
        assert retention_sweep() == 1
        assert retention_sweep() == 0
        again = referral_deidentify(referral_id=referral.pk, reason="retention_expired")
    assert RetentionRecord.objects.get(referral_id=referral.pk) == again


def test_a_later_session_restarts_the_retention_clock():
    referral = _closed_referral_with_history()
    later = CLOSED_ON + dt.timedelta(days=365)
    AppointmentFactory(
        referral=referral,
        slot=SlotFactory(starts_at=later, ends_at=later + dt.timedelta(hours=1)),
        session_number=2,
        status="completed",
    )
    with _years_after_closing(7, days=30):
        assert retention_sweep() == 0
        with pytest.raises(RetentionNotDue):
            referral_deidentify(referral_id=referral.pk, reason="retention_expired")
    with _years_after_closing(8, days=30):
        assert retention_sweep() == 1


def test_an_open_referral_is_never_deidentified_however_old():
    with time_machine.travel(CLOSED_ON, tick=False):
        referral = ReferralFactory(status="booked", details=MARKER)
    with _years_after_closing(10):
        assert retention_sweep() == 0
        with pytest.raises(ReferralStillOpen):
            referral_deidentify(referral_id=referral.pk, reason="person_request")
    referral.refresh_from_db()
    assert referral.details == MARKER


def test_a_reviewed_deletion_request_is_carried_out_at_once_by_the_same_service():
    coordinator = UserFactory()
    referral = ReferralFactory(status="withdrawn", details=MARKER)
    record = referral_deidentify(
        referral_id=referral.pk, reason=RetentionRecord.Reason.PERSON_REQUEST, actor=coordinator
    )
    referral.refresh_from_db()
    assert referral.details == "" and referral.email == ""
    assert (record.reason, record.actor) == ("person_request", coordinator)
    assert AuditEntry.objects.get(action="deidentify").actor == coordinator


def test_the_episode_keeps_the_email_while_another_referral_of_it_is_still_held():
    first = ReferralFactory(status="closed")
    second = ReferralFactory(
        status="closed", program=first.program, episode=first.episode, email=first.email
    )
    referral_deidentify(referral_id=first.pk, reason="person_request")
    first.episode.refresh_from_db()
    assert first.episode.email_normalised == first.email
    referral_deidentify(referral_id=second.pk, reason="person_request")
    first.episode.refresh_from_db()
    assert first.episode.email_normalised == "" and first.episode.closed_at is not None


def record_outbox_rows(*, referral_id: int) -> dict[str, list[int]]:
    """Stands in for the notifications app's de-identifier, registered through the setting."""
    recorded_calls.append(referral_id)
    return {"notifications.outboundmessage": [9001]}


def test_each_registered_app_is_asked_to_blank_its_rows_and_its_audit_details_go_too(settings):
    recorded_calls.clear()
    referral = ReferralFactory(status="closed")
    AuditEntry.objects.create(
        actor_label="system",
        action="create",
        object_type="notifications.outboundmessage",
        object_id="9001",
        detail=f"sent: {MARKER}",
    )
    hooks = [f"{__name__}.record_outbox_rows", *settings.RETENTION_DEIDENTIFIERS]
    with override_settings(RETENTION_DEIDENTIFIERS=hooks):
        record = referral_deidentify(referral_id=referral.pk, reason="person_request")
    assert recorded_calls == [referral.pk]
    assert record.rows_blanked["notifications.outboundmessage"] == 1
    assert AuditEntry.objects.get(object_id="9001").detail == ""


def test_abandoned_sessions_and_their_unfinished_answers_are_cleared(client):
    from django.contrib.sessions.models import Session

    from privacy.tasks import sessions_clear_expired

    session = client.session
    session["wizard_answers"] = MARKER
    session.save()
    sessions_clear_expired()
    assert Session.objects.count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(weeks=3)):
        sessions_clear_expired()
    assert Session.objects.count() == 0


def test_the_periodic_privacy_tasks_are_scheduled():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    privacy_tasks = {"privacy.tasks.retention_sweep", "privacy.tasks.sessions_clear_expired"}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert privacy_tasks <= scheduled and privacy_tasks <= set(app.tasks)


def test_the_referrals_emails_and_case_notes_are_destroyed_with_it():
    referral = _closed_referral_with_history()
    with time_machine.travel(CLOSED_ON - dt.timedelta(days=1), tick=False):
        referral_notify(referral_id=referral.pk, change="submitted")
        outbox_flush()  # sent, and so given its text
        CaseActivity.objects.create(
            referral=referral, kind=CaseActivity.Kind.NOTE, text=f"called {MARKER}"
        )
    message = OutboundMessage.objects.get(referral=referral)
    assert referral.email == message.recipient and message.body_text

    with _years_after_closing(7, days=1):
        assert retention_sweep() == 1

    message.refresh_from_db()
    assert (message.recipient, message.subject, message.body_text, message.body_html) == (
        ("", "", "", "")
    )
    assert message.kind == OutboundMessage.Kind.SUBMITTED  # what statistics need stays
    assert CaseActivity.objects.get(referral=referral).text == ""
