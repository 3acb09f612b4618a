import datetime as dt

import pytest
from django.core import mail

from notifications import services
from notifications.models import OutboundMessage
from privacy import fields
from scheduling.models import Appointment
from tests.notifications.conftest import calendar_of, parsed
from tests.notifications.factories import proposed_appointment
from tests.referrals.factories import ProgramFactory, ReferralFactory

pytestmark = pytest.mark.django_db


def test_a_proposed_session_sends_the_clinician_an_imip_request_laid_out_like_google(deliver):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [sent] = deliver()
    message = parsed(sent)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = alternative.get_payload()[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_param("charset") == "UTF-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert sent.to == [appointment.clinician.calendar_email]
    assert "calendar@soundingboard.test" in message["From"]


def test_the_invitation_names_the_organizer_mailbox_and_the_clinician_as_attendee(deliver):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [sent] = deliver()
    _, text = calendar_of(parsed(sent))
    unfolded = text.replace("\r\n ", "")
    assert "METHOD:REQUEST\r\n" in unfolded
    assert f"UID:{appointment.ical_uid}\r\n" in unfolded
    assert "ORGANIZER;CN=Sounding Board:mailto:calendar@soundingboard.test\r\n" in unfolded
    assert (
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;"
        f"CN={appointment.clinician.display_name}:mailto:{appointment.clinician.calendar_email}"
    ) in unfolded
    assert "CLASS:PRIVATE\r\n" in unfolded
    assert appointment.referral.phone in unfolded  # how to join a phone session


def test_invitation_subject_and_title_never_name_the_subject_matter_or_the_surname(deliver):
    program = ProgramFactory(discreet_title="Crisis counselling")
    appointment = proposed_appointment(program=program)
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [sent] = deliver()
    _, text = calendar_of(parsed(sent))
    summary = next(line for line in text.split("\r\n") if line.startswith("SUMMARY"))
    for visible in (sent.subject, summary):
        lowered = visible.lower()
        assert "counselling" not in lowered
        assert "crisis" not in lowered
        assert "quixotewell" not in lowered
    assert "quixotewell" not in text.lower()


def test_notifying_the_same_proposal_twice_writes_one_invitation_on_the_case():
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [message] = OutboundMessage.objects.filter(appointment=appointment)
    assert message.referral_id == appointment.referral_id  # on the case's timeline too


def test_a_proposal_made_in_this_transaction_gets_the_same_invitation_in_two_statements(
    django_assert_num_queries,
):
    made_here, notified = proposed_appointment(), proposed_appointment()
    services.appointment_notify(appointment_id=notified.pk, change="proposed")

    with django_assert_num_queries(2):  # the appointment with what it shows, and the INSERT
        [written] = services.appointment_created_notify(appointment_id=made_here.pk)

    [expected] = OutboundMessage.objects.filter(appointment=notified)
    written.refresh_from_db()
    assert (written.kind, written.recipient, written.ical_method, written.ical_uid) == (
        expected.kind,
        made_here.clinician.calendar_email,
        "REQUEST",
        made_here.ical_uid,
    )
    assert written.referral_id == made_here.referral_id
    assert made_here.referral.phone in written.body_text  # how to join, as the other says
    assert made_here.referral.family_name not in written.subject


def test_rows_are_sent_only_after_the_transaction_commits(django_capture_on_commit_callbacks):
    appointment = proposed_appointment()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.appointment_notify(appointment_id=appointment.pk, change="proposed")
        assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1


def test_a_reschedule_sends_a_request_with_a_higher_sequence_and_the_same_uid(deliver):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    services.appointment_notify(appointment_id=appointment.pk, change="rescheduled")
    services.appointment_notify(appointment_id=appointment.pk, change="rescheduled")
    rows = OutboundMessage.objects.filter(appointment=appointment).order_by("pk")
    assert [(r.ical_method, r.ical_uid, r.ical_sequence) for r in rows] == [
        ("REQUEST", appointment.ical_uid, 0),
        ("REQUEST", appointment.ical_uid, 1),
        ("REQUEST", appointment.ical_uid, 2),
    ]
    appointment.refresh_from_db()
    assert appointment.ical_sequence == 2


def test_cancelling_sends_cancel_with_status_cancelled_same_uid_and_higher_sequence(deliver):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    deliver()
    services.appointment_notify(appointment_id=appointment.pk, change="cancelled")
    services.appointment_notify(appointment_id=appointment.pk, change="cancelled")
    [sent] = deliver()
    message = parsed(sent)
    part, text = calendar_of(message)
    assert part.get_param("method") == "CANCEL"
    assert "METHOD:CANCEL\r\n" in text
    assert "STATUS:CANCELLED\r\n" in text
    assert f"UID:{appointment.ical_uid}\r\n" in text.replace("\r\n ", "")
    assert "SEQUENCE:1\r\n" in text
    assert sent.subject.startswith("Cancelled:")


def test_once_accepted_the_referrer_gets_a_confirmation_with_an_ics_that_cannot_reply(deliver):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    deliver()
    services.appointment_notify(appointment_id=appointment.pk, change="accepted")
    [sent] = deliver()
    assert sent.to == [appointment.referral.email]
    _part, text = calendar_of(parsed(sent), "application/ics")
    assert "METHOD:PUBLISH\r\n" in text
    assert "ORGANIZER" not in text and "ATTENDEE" not in text and "RSVP" not in text
    assert appointment.ical_uid not in text.replace("\r\n ", "")
    assert "Lifeline" in sent.body and "13 11 14" in sent.body


def test_a_confirmed_referrer_is_told_of_a_reschedule_and_of_a_cancellation(deliver):
    appointment = proposed_appointment()
    for change in ("proposed", "accepted", "rescheduled", "cancelled"):
        services.appointment_notify(appointment_id=appointment.pk, change=change)
    referrer_rows = OutboundMessage.objects.filter(recipient=appointment.referral.email)
    assert [(r.kind, r.ical_sequence) for r in referrer_rows.order_by("pk")] == [
        ("confirmation", 0),
        ("confirmation_update", 1),
        ("confirmation_cancel", 2),
    ]
    cancel = referrer_rows.get(kind="confirmation_cancel")
    assert "STATUS:CANCELLED" in cancel.ical_text


def test_an_expired_proposal_withdraws_the_invitation_but_tells_the_referrer_nothing():
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    services.appointment_notify(appointment_id=appointment.pk, change="expired")
    kinds = list(OutboundMessage.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["invitation", "invitation_cancel"]


def test_an_unknown_change_is_refused():
    appointment = proposed_appointment()
    with pytest.raises(ValueError):
        services.appointment_notify(appointment_id=appointment.pk, change="teleported")


def test_an_urgent_referral_alerts_the_on_call_coordinator_without_personal_details(deliver):
    referral = ReferralFactory(status="diverted", family_name="Quixotewell", given_name="Robin")
    services.referral_notify(referral_id=referral.pk, change="diverted")
    [sent] = deliver()
    assert sent.to == ["oncall@soundingboard.test"]
    assert referral.reference in sent.subject
    for personal in ("Quixotewell", "Robin", referral.email, referral.phone):
        assert personal not in sent.subject
        assert personal not in sent.body


def test_an_unmatched_referrer_is_told_how_long_and_what_else_is_open(deliver):
    ProgramFactory(code="other-service", name="Peer support line", phone="1300 000 000")
    referral = ReferralFactory(status="unmatched")
    services.referral_notify(referral_id=referral.pk, change="unmatched")
    [sent] = deliver()
    assert "within 3 business days" in sent.body
    assert "Peer support line: 1300 000 000" in sent.body
    assert "000" in sent.body and "13 11 14" in sent.body and "1300 374 377" in sent.body


def test_over_the_limit_the_person_is_told_what_remains_open_by_email(deliver):
    ProgramFactory(code="other-service", name="Peer support line", phone="1300 000 000")
    referral = ReferralFactory()
    services.referral_notify(referral_id=referral.pk, change="over_limit")
    [sent] = deliver()
    assert sent.to == [referral.email]
    assert "Peer support line" in sent.body and "Lifeline" in sent.body


@pytest.mark.parametrize("change", ["submitted", "withdrawn", "closed"])
def test_each_referral_change_emails_the_person_once(change, deliver):
    referral = ReferralFactory()
    services.referral_notify(referral_id=referral.pk, change=change)
    services.referral_notify(referral_id=referral.pk, change=change)
    sent = deliver()
    assert len(sent) == 1
    assert referral.reference in sent[0].subject
    assert referral.family_name not in sent[0].subject


def test_a_coordinator_resend_queues_a_new_copy_and_keeps_the_original(deliver):
    appointment = proposed_appointment()
    [original] = services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    deliver()
    copy = services.message_resend(message_id=original.pk)
    [sent] = deliver()
    assert copy.ical_sequence == original.ical_sequence
    assert parsed(sent)["Message-ID"] == copy.message_id != original.message_id
    original.refresh_from_db()
    assert original.status == "sent"


def test_a_cancellation_carries_no_contact_details():
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [cancel] = services.appointment_notify(appointment_id=appointment.pk, change="cancelled")
    assert appointment.referral.phone not in cancel.ical_text
    assert appointment.referral.phone not in cancel.body_text


def test_messages_about_a_session_never_open_the_persons_own_words(deliver, monkeypatch):
    words = "My registrar shouts at me in front of patients"
    referral = ReferralFactory(
        program=ProgramFactory(), status="proposed", details=words, family_name="Quixotewell"
    )
    appointment = proposed_appointment(referral=referral)
    opened = []
    decrypt = fields.decrypt_text

    def decrypt_and_note(token):
        opened.append(decrypt(token))
        return opened[-1]

    monkeypatch.setattr(fields, "decrypt_text", decrypt_and_note)
    for change in ("proposed", "accepted", "cancelled"):
        if change == "accepted":
            Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.ACCEPTED)
        services.appointment_notify(appointment_id=appointment.pk, change=change)
    services.reminders_queue(now=appointment.slot.starts_at - dt.timedelta(hours=23))
    assert len(deliver()) >= 3
    assert words not in opened
