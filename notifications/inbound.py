"""The way in for calendar replies, shared by the three doors: the HTTP endpoint, the IMAP
poller and the MTA pipe command.

This is outer-layer composition, read top to bottom: store the raw message, parse every
calendar part (ical.message_parse, pure), apply each reply through the appointment service
(services.replies_apply → scheduling's appointments_respond), then tell whoever needs telling
(services.appointments_notify) — the last three in one transaction, so the referrer's
confirmation is in the outbox exactly when the acceptance is recorded.

The IMAP poller does it all at once for what it fetched (messages_receive). The HTTP and pipe
doors only keep the message (message_accept) and answer: the worker applies what they kept in
batches (stored_apply, from notifications.tasks.inbound_apply), so a burst of replies costs a
few batches rather than the whole path for each, and a mail service posting to the endpoint
hears back at once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from imap_tools import MailBox, MailBoxUnencrypted
from imap_tools.errors import MailboxFetchError
from imap_tools.utils import check_command_status

from . import ical, services
from .models import InboundMessage, InboundReply
from .selectors import inbound_waiting_locked

logger = logging.getLogger(__name__)
_ALREADY_RECEIVED = "already received"


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
        problem = self.message.problem if self.message else _ALREADY_RECEIVED
        return {"replies": len(self.replies), "outcomes": outcomes, "problem": problem}


@dataclass(frozen=True)
class Kept:
    """What the HTTP or pipe door did with a message: kept it for the worker, or had it already."""

    is_new: bool

    def summary(self) -> dict:
        """Nothing personal, fit for a log line or an HTTP response."""
        return {"stored": True} if self.is_new else {"stored": False, "problem": _ALREADY_RECEIVED}


def message_accept(raw: bytes, *, source: str) -> Kept:
    """Keep one raw MIME message for the worker to parse and apply, and queue that after
    commit (services.queue_inbound_apply); one statement. Never raises for bad input: whatever
    the bytes are, they are kept, and applying them records what was wrong."""
    [stored] = services.inbound_store(messages=[(raw, None)], source=source)
    if stored is not None:
        transaction.on_commit(services.queue_inbound_apply)
    return Kept(is_new=stored is not None)


def stored_apply(*, limit: int) -> int:
    """Parse and apply up to `limit` of the kept messages, oldest first, in one transaction,
    as messages_receive does for a poll; messages another worker is applying are skipped.
    Returns how many were applied (0: none was waiting)."""
    with transaction.atomic():
        waiting = inbound_waiting_locked(limit=limit)
        if not waiting:
            return 0
        parsed = [ical.message_parse(bytes(message.raw)) for message in waiting]
        services.inbound_mark_applied(messages=list(zip(waiting, parsed, strict=True)))
        receipts = _apply(list(zip(waiting, parsed, strict=True)))
    _log(receipts)
    return len(waiting)


def message_receive(raw: bytes, *, source: str) -> Received:
    """Store, parse and apply one raw MIME message; never raises for bad input."""
    [received] = messages_receive([raw], source=source)
    return received


def messages_receive(raws: Sequence[bytes], *, source: str) -> list[Received]:
    """Store, parse and apply raw MIME messages, in the order given, in one transaction; never
    raises for bad input. The IMAP poller hands over a whole poll.

    1. Parse (pure; a broken message comes back with a problem, never an exception).
    2. Store the raw bytes; the same bytes arriving again (through any door) stop here.
    3. For each calendar reply: decide and apply it (services.replies_apply), recording why
       when it changed nothing.
    4. For each reply that changed an appointment: queue the messages the change calls for.
    Steps 2–4 are a few statements for the whole batch, not a few per message.
    """
    parsed = [ical.message_parse(raw) for raw in raws]
    with transaction.atomic():
        stored = services.inbound_store(
            messages=list(zip(raws, parsed, strict=True)),
            source=source,
            applied_at=timezone.now(),
        )
        receipts = _apply(list(zip(stored, parsed, strict=True)))
    _log(receipts)
    return receipts


def _apply(messages: list[tuple[InboundMessage | None, ical.ParsedMessage]]) -> list[Received]:
    """Steps 3 and 4 of messages_receive, for stored messages (None: a repeat, skipped)."""
    replies = [
        (message, reply)
        for message, found in messages
        if message is not None
        for reply in found.replies
    ]
    applied = services.replies_apply(replies=replies)
    services.appointments_notify(
        changes=[
            (record.appointment_id, services.CHANGE_FOR_STATUS[result.status])
            for record, result in applied
            if result is not None and result.is_changed
        ]
    )
    by_message: dict[int, list[InboundReply]] = {}
    for record, _ in applied:
        by_message.setdefault(record.message_id, []).append(record)
    return [
        Received(message, tuple(by_message.get(message.pk, ()) if message else ()))
        for message, _ in messages
    ]


def _log(receipts: list[Received]) -> None:
    for received in receipts:
        if received.message is not None:
            message = received.message
            logger.info("inbound %s via %s: %s", message.pk, message.source, received.summary())


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
        mails = _fetch_as_held(mailbox, uids)
        try:
            messages_receive([raw for _, raw in mails], source=InboundMessage.Source.IMAP)
            done = [uid for uid, _ in mails]
        except Exception:
            # One at a time then, so a message that cannot be stored holds up only itself.
            done = [uid for uid, raw in mails if _receive_or_leave(uid, raw)]
        if done:
            mailbox.move(done, settings.IMAP_PROCESSED_FOLDER)
        return len(done)


_FETCHED_UID = re.compile(rb"\bUID (\d+)")


def _fetch_as_held(mailbox, uids: list[str]) -> list[tuple[str, bytes]]:
    """(uid, message) for `uids`, each message byte for byte as the server holds it, in one
    FETCH, leaving them unseen. Not imap-tools' fetch: it parses every message, and writing a
    parsed message out again changes its line endings, so its digest would no longer match
    the same message arriving through another door (and parsing twice costs CPU)."""
    result = mailbox.client.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[])")
    check_command_status(result, MailboxFetchError)
    answers: list[list[bytes]] = []  # per message: its response line, and its bytes
    for item in result[1]:
        if isinstance(item, tuple):
            answers.append([item[0], item[1]])
        elif isinstance(item, bytes) and answers:
            answers[-1][0] += item  # the line's rest: some servers put the UID after the body
    fetched = []
    for line, raw in answers:
        if uid := _FETCHED_UID.search(line):
            fetched.append((uid.group(1).decode(), raw))
        else:  # left in the inbox, not lost; the next poll asks again
            logger.warning("IMAP FETCH answer without a UID (%d bytes)", len(raw))
    return fetched


def _receive_or_leave(uid: str, raw: bytes) -> bool:
    try:
        message_receive(raw, source=InboundMessage.Source.IMAP)
    except Exception:
        logger.exception("IMAP message uid %s left for the next poll", uid)
        return False
    return True
