"""Fault 4: the SMTP server is down while messages are due.

A real worker tries to send twenty messages to an SMTP port nobody listens on: each row goes
back to the outbox with its error and waits. Once an aiosmtpd server answers on that port, the
retries and the outbox sweeper (which re-queues rows still waiting) both hand the rows to the
worker, and the queued → sending claim lets each message out exactly once.
"""

from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.test import override_settings

from notifications.models import OutboundMessage
from notifications.services import referral_notify
from notifications.tasks import message_send, outbox_sweep
from tests.faults.harness import (
    celery_broker,
    celery_worker,
    free_port,
    wait_until,
    worker_is_idle,
)
from tests.notifications.conftest import SmtpInbox
from tests.referrals.factories import ReferralFactory

S = OutboundMessage.Status
MESSAGES = 20
# The worker retries a failed send after 1–2 s (instead of 30–300 s) and the sweeper re-queues
# any row already due, so both paths race for every row once SMTP is back.
WORKER_OUTBOX = {
    "OUTBOX_RETRY_BASE_SECONDS": "1",
    "OUTBOX_RETRY_MAX_SECONDS": "2",
    "OUTBOX_MAX_ATTEMPTS": "1000",
    "OUTBOX_REQUEUE_AFTER_SECONDS": "0",
    "EMAIL_TIMEOUT": "2",
}


def _messages_due(count: int) -> list[int]:
    with transaction.atomic():
        rows = [
            referral_notify(referral_id=ReferralFactory().pk, change="submitted")[0]
            for _ in range(count)
        ]
    return [row.pk for row in rows]


def _delivery_problems(inbox: SmtpInbox, message_ids: list[int]) -> list[str]:
    """What went wrong with these rows' delivery: missing or repeated messages."""
    expected = set(
        OutboundMessage.objects.filter(pk__in=message_ids).values_list("message_id", flat=True)
    )
    received = Counter(message["Message-ID"] for message in inbox.messages)
    problems = [f"{mid} never arrived" for mid in expected - set(received)]
    problems += [f"{mid} arrived {n} times" for mid, n in received.items() if n > 1]
    return problems


@pytest.mark.services
def test_messages_wait_while_smtp_is_down_and_go_out_once_each_when_it_is_back(
    transactional_db, redis_url, tmp_path
):
    port = free_port()
    inbox = SmtpInbox()
    with (
        celery_worker(
            broker_url=redis_url,
            log=tmp_path / "worker.log",
            name="fault-smtp",
            TEST_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(port),
            **WORKER_OUTBOX,
        ) as worker,
        celery_broker(redis_url) as app,
    ):
        message_ids = _messages_due(MESSAGES)
        rows = OutboundMessage.objects.filter(pk__in=message_ids)
        wait_until(
            lambda: rows.filter(attempts__gte=2, status=S.QUEUED).count() == MESSAGES,
            seconds=60,
            what="the worker did not try (and retry) every message",
            log=worker.log,
        )
        assert set(rows.values_list("last_error", flat=True)) == {"ConnectionRefusedError"}
        assert not rows.exclude(status=S.QUEUED).exists()

        server = Controller(inbox, hostname="127.0.0.1", port=port)
        server.start()
        try:
            outbox_sweep.delay()
            wait_until(
                lambda: rows.filter(status=S.SENT).count() == MESSAGES,
                seconds=60,
                what="not every message went out once SMTP was back",
                log=worker.log,
            )
            # Every retry still scheduled and the sweep's copies run (and find nothing).
            outbox_sweep.delay()
            wait_until(
                lambda: worker_is_idle(app, worker.name),
                seconds=30,
                what="the worker did not finish its queued sends",
                log=worker.log,
            )
        finally:
            server.stop()

    assert _delivery_problems(inbox, message_ids) == []
    assert len(inbox.messages) == MESSAGES


@pytest.fixture
def smtp_in_process():
    """SMTP for this process's sends (tasks run eagerly here): a port, and a server to start."""
    port = free_port()
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_TIMEOUT": 2,
    }
    with override_settings(**smtp, OUTBOX_REQUEUE_AFTER_SECONDS=0):
        yield inbox, controller
    if controller._thread is not None:
        controller.stop()


@pytest.mark.django_db
def test_control_without_retries_a_message_due_while_smtp_was_down_is_lost(
    smtp_in_process, settings
):
    """The harness sees a lost message: with one attempt allowed, the outage fails the rows and
    the sweeper has nothing to send once SMTP is back."""
    inbox, server = smtp_in_process
    settings.OUTBOX_MAX_ATTEMPTS = 1
    message_ids = _messages_due(3)
    for message_id in message_ids:  # the worker's first attempt, while nothing listens
        message_send(message_id)
    server.start()
    outbox_sweep()
    assert len(_delivery_problems(inbox, message_ids)) == 3
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {S.FAILED}


@pytest.mark.django_db
def test_control_without_the_claim_a_message_sent_twice_is_seen_twice(smtp_in_process, monkeypatch):
    """The harness sees a duplicate: when the queued → sending claim does not hold, a re-queued
    copy of a row sends the message again."""
    from notifications import tasks

    inbox, server = smtp_in_process
    server.start()
    [message_id] = _messages_due(1)
    message_send(message_id)
    monkeypatch.setattr(tasks, "_claim", lambda pk: OutboundMessage.objects.get(pk=pk))
    message_send(message_id)  # the sweeper's or a retry's copy of the task
    assert _delivery_problems(inbox, [message_id]) == [
        f"{OutboundMessage.objects.get().message_id} arrived 2 times"
    ]
