"""The whole calendar loop with real servers on loopback: invitation out by SMTP, the reply
into a real IMAP mailbox, the poller, the acceptance, the referrer's confirmation by SMTP."""

import datetime as dt
import time

import icalendar
import pytest
from django.db import transaction
from imap_tools import MailBoxUnencrypted

from notifications import inbound, services
from notifications.models import InboundMessage
from notifications.tasks import imap_poll
from scheduling.models import Appointment
from tests.notifications import replies
from tests.notifications.factories import proposed_appointment

pytestmark = pytest.mark.services


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)  # polling a real worker; bounded by the deadline


def reply_to(invitation, attendee: str) -> bytes:
    """Answer the invitation as Thunderbird would: its UID and SEQUENCE, our PARTSTAT."""
    part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    event = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
    text = replies.reply_text(
        uid=str(event["UID"]),
        attendee=f"mailto:{attendee}",
        sequence=int(event["SEQUENCE"]),
        stamped_at=dt.datetime.now(dt.UTC),
    )
    return replies.thunderbird_reply(text, attendee)


def test_a_reply_in_the_organizer_mailbox_accepts_and_confirms_the_referrer(
    smtp_server, imap_server, celery_worker_process
):
    appointment = proposed_appointment()
    with transaction.atomic():
        services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    [invitation] = smtp_server.wait_for(1)
    assert invitation["To"] == appointment.clinician.calendar_email

    with MailBoxUnencrypted("127.0.0.1", imap_server["port"]).login(
        imap_server["user"], imap_server["password"]
    ) as mailbox:
        mailbox.append(reply_to(invitation, appointment.clinician.calendar_email), "INBOX")

    imap_poll.delay()
    wait_until(lambda: Appointment.objects.get(pk=appointment.pk).status == "accepted")
    confirmation = smtp_server.wait_for(2)[1]
    assert confirmation["To"] == appointment.referral.email
    assert any(p.get_filename() == "session.ics" for p in confirmation.walk())

    with MailBoxUnencrypted("127.0.0.1", imap_server["port"]).login(
        imap_server["user"], imap_server["password"]
    ) as mailbox:
        assert mailbox.uids("ALL") == []
        mailbox.folder.set("Processed")
        assert len(mailbox.uids("ALL")) == 1


def test_the_poller_keeps_a_reply_as_the_mailbox_holds_it_so_another_door_knows_it(
    imap_server, settings, db
):
    """The organizer mailbox's copy is stored byte for byte (CRLF and all), so when an
    inbound-mail service posts the same reply to the HTTP door it is known as a repeat."""
    settings.IMAP_HOST, settings.IMAP_PORT, settings.IMAP_USE_SSL = (
        "127.0.0.1",
        imap_server["port"],
        False,
    )
    settings.IMAP_USER, settings.IMAP_PASSWORD = imap_server["user"], imap_server["password"]
    appointment = proposed_appointment()
    with transaction.atomic():
        services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    appointment.refresh_from_db()
    sender = appointment.clinician.calendar_email
    text = replies.reply_text(
        uid=appointment.ical_uid, attendee=f"mailto:{sender}", sequence=appointment.ical_sequence
    )
    raw = b"\r\n".join(replies.google_reply(text, sender).splitlines()) + b"\r\n"
    with MailBoxUnencrypted("127.0.0.1", imap_server["port"]).login(
        imap_server["user"], imap_server["password"]
    ) as mailbox:
        mailbox.append(raw, "INBOX")

    assert inbound.imap_drain() == 1

    [stored] = InboundMessage.objects.all()
    assert bytes(stored.raw) == raw
    assert Appointment.objects.get(pk=appointment.pk).status == "accepted"
    again = inbound.message_receive(raw, source=InboundMessage.Source.HTTP)
    assert again.message is None
    assert again.summary()["problem"] == "already received"
    assert InboundMessage.objects.count() == 1


def test_replies_posted_to_the_inbound_door_are_applied_by_the_real_worker(
    client, settings, smtp_server, celery_worker_process
):
    """The HTTP door keeps each message and answers; the worker, reached through Redis,
    applies them and the referrers' confirmations go out by SMTP."""
    from django.urls import reverse

    settings.INBOUND_MAIL_SECRET = "s3cret-for-tests"
    appointments = [proposed_appointment() for _ in range(3)]
    with transaction.atomic():
        services.appointments_notify(changes=[(a.pk, "proposed") for a in appointments])
    invitations = {message["To"]: message for message in smtp_server.wait_for(3)}
    for appointment in appointments:
        email = appointment.clinician.calendar_email
        response = client.post(
            reverse("notifications:inbound"),
            reply_to(invitations[email], email),
            content_type="message/rfc822",
            HTTP_X_INBOUND_SECRET=settings.INBOUND_MAIL_SECRET,
        )
        assert response.json() == {"stored": True}

    def all_accepted() -> bool:
        statuses = Appointment.objects.filter(pk__in=[a.pk for a in appointments])
        return set(statuses.values_list("status", flat=True)) == {"accepted"}

    wait_until(all_accepted)
    confirmations = smtp_server.wait_for(6)[3:]
    assert {m["To"] for m in confirmations} == {a.referral.email for a in appointments}
    assert not InboundMessage.objects.filter(applied_at__isnull=True).exists()
