"""On PostgreSQL: the same message through several doors at once is stored and applied once,
and workers applying stored messages at once apply each once."""

from unittest import mock

import pytest

from notifications import inbound, services
from notifications.models import InboundMessage, InboundReply, OutboundMessage
from notifications.tasks import inbound_apply
from tests.concurrency import run_at_once
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
    stored = []

    def door(source: str):
        if source == "imap":  # the poller applies what it fetched at once
            stored.append(inbound.message_receive(raw, source=source).message is not None)
        else:  # the other doors keep it for the worker
            stored.append(inbound.message_accept(raw, source=source).is_new)

    sources = [["http", "imap", "pipe"][i % 3] for i in range(DOORS)]
    errors = run_at_once([lambda source=source: door(source) for source in sources])
    assert errors == []
    assert stored.count(True) == 1
    inbound_apply()
    assert InboundMessage.objects.count() == 1
    assert InboundReply.objects.filter(outcome="applied").count() == 1
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1


@pytest.mark.postgres
def test_workers_applying_kept_messages_at_once_apply_each_once(transactional_db, settings):
    settings.INBOUND_APPLY_BATCH = 2  # several rounds each, so the workers really interleave
    appointments = [proposed_appointment() for _ in range(6)]
    for appointment in appointments:
        services.appointment_notify(appointment_id=appointment.pk, change="proposed")
        email = appointment.clinician.calendar_email
        text = replies.reply_text(uid=appointment.ical_uid, attendee=f"mailto:{email}")
        with mock.patch("notifications.services.queue_inbound_apply"):  # kept, not applied
            inbound.message_accept(replies.google_reply(text, email), source="http")
    applied = []

    def worker():
        while count := inbound.stored_apply(limit=settings.INBOUND_APPLY_BATCH):
            applied.append(count)

    errors = run_at_once([worker] * DOORS)
    assert errors == []
    assert sum(applied) == len(appointments)
    assert InboundReply.objects.filter(outcome="applied").count() == len(appointments)
    assert OutboundMessage.objects.filter(kind="confirmation").count() == len(appointments)
    assert not InboundMessage.objects.filter(applied_at__isnull=True).exists()
