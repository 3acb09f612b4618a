"""The way in for calendar replies, shared by the three doors: the HTTP endpoint, the IMAP
poller and the MTA pipe command.

This is outer-layer composition, read top to bottom: store the raw message, parse every
calendar part (ical.message_parse, pure), apply each reply through the appointment service
(services.reply_apply → scheduling's appointment_respond), then tell whoever needs telling
(services.appointment_notify) — all in one transaction, so the referrer's confirmation is in the
outbox exactly when the acceptance is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from imap_tools import MailBox, MailBoxUnencrypted

from . import ical, services
from .models import InboundMessage, InboundReply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """What one incoming message did: its stored row (None for a repeat delivery) and replies."""

    message: InboundMessage | None
    replies: tuple[InboundReply, ...]

    def summary(self) -> dict:
        """Counts by outcome; nothing personal, fit for a log line or an HTTP response."""
        outcomes: dict[str, int] = {}
        for reply in self.replies:
            outcomes[reply.outcome] = outcomes.get(reply.outcome, 0) + 1
        problem = self.message.problem if self.message else "already received"
        return {"replies": len(self.replies), "outcomes": outcomes, "problem": problem}


def message_receive(raw: bytes, *, source: str) -> Received:
    """Store, parse and apply one raw MIME message; never raises for bad input.

    1. Parse (pure; a broken message comes back with a problem, never an exception).
    2. Store the raw bytes; the same bytes arriving again (through any door) stop here.
    3. For each calendar reply: decide and apply it (services.reply_apply), recording why when it
       changed nothing.
    4. For each reply that changed the appointment: queue the messages the change calls for.
    """
    parsed = ical.message_parse(raw)
    with transaction.atomic():
        message = services.inbound_store(raw=raw, source=source, parsed=parsed)
        if message is None:
            return Received(None, ())
        records = []
        for reply in parsed.replies:
            record, result = services.reply_apply(message=message, reply=reply)
            records.append(record)
            if result is not None and result.is_changed:
                change = services.CHANGE_FOR_STATUS[result.status]
                services.appointment_notify(appointment_id=record.appointment_id, change=change)
    received = Received(message, tuple(records))
    logger.info("inbound %s via %s: %s", message.pk, source, received.summary())
    return received


def _mailbox():
    kind = MailBox if settings.IMAP_USE_SSL else MailBoxUnencrypted
    return kind(settings.IMAP_HOST, settings.IMAP_PORT, timeout=settings.IMAP_TIMEOUT_SECONDS)


def imap_drain() -> int:
    """Ingest up to IMAP_BATCH messages from the inbox folder and move them to the processed
    folder (created if missing). Returns how many were moved."""
    with _mailbox().login(
        settings.IMAP_USER, settings.IMAP_PASSWORD, initial_folder=settings.IMAP_INBOX_FOLDER
    ) as mailbox:
        if not mailbox.folder.exists(settings.IMAP_PROCESSED_FOLDER):
            mailbox.folder.create(settings.IMAP_PROCESSED_FOLDER)
        uids = mailbox.uids("ALL")[: settings.IMAP_BATCH]
        if not uids:
            return 0
        done = []
        for mail in mailbox.fetch(uid_list=uids, mark_seen=False, bulk=True):
            try:
                message_receive(mail.obj.as_bytes(), source=InboundMessage.Source.IMAP)
            except Exception:
                logger.exception("IMAP message uid %s left for the next poll", mail.uid)
                continue
            done.append(mail.uid)
        if done:
            mailbox.move(done, settings.IMAP_PROCESSED_FOLDER)
        return len(done)
