"""The same message through two doors at once, on PostgreSQL: stored and applied once."""

import threading

import pytest
from django.db import connection

from notifications import inbound, services
from notifications.models import InboundMessage, InboundReply, OutboundMessage
from tests.notifications import replies
from tests.notifications.factories import proposed_appointment

DOORS = 4


@pytest.mark.postgres
def test_the_same_bytes_through_several_doors_at_once_are_stored_and_applied_once(
    transactional_db,
):
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    email = appointment.clinician.calendar_email
    text = replies.reply_text(uid=appointment.ical_uid, attendee=f"mailto:{email}")
    raw = replies.google_reply(text, email)
    start = threading.Barrier(DOORS)
    errors, stored = [], []

    def door(source: str):
        try:
            start.wait(timeout=10)
            stored.append(inbound.message_receive(raw, source=source).message)
        except Exception as error:  # reported below, with the others
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=door, args=(["http", "imap", "pipe"][i % 3],)) for i in range(DOORS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len([m for m in stored if m is not None]) == 1
    assert InboundMessage.objects.count() == 1
    assert InboundReply.objects.filter(outcome="applied").count() == 1
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1
