"""Background work for notifications: sending the outbox, sweeping it, reminders, replies.

Tasks take ids only and are idempotent. A row goes out at most once: sending starts with a
conditional update (queued → sending) that only one run can win.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import emails, inbound, services
from .models import OutboundMessage
from .selectors import message_ids_waiting_for_flush

logger = logging.getLogger(__name__)
S = OutboundMessage.Status
K = OutboundMessage.Kind
_REFERRER_CALENDAR_KINDS = (K.CONFIRMATION, K.CONFIRMATION_UPDATE, K.CONFIRMATION_CANCEL)


@shared_task(acks_late=True, ignore_result=True)
def message_send(message_id: int) -> str:
    """Send one outbox row if it is still queued and due; return the status it is left in.

    Transient SMTP trouble (4xx, lost connection, timeouts) puts it back in the queue with
    exponential backoff until OUTBOX_MAX_ATTEMPTS; a permanent refusal marks it failed. A
    reminder whose session was cancelled or moved is skipped. Safe to run any number of times.
    """
    message = _claim(message_id)
    if message is None:
        return "not claimed"
    return _send_claimed(message)


@shared_task(acks_late=True, ignore_result=True)
def messages_send(message_ids: list[int]) -> dict[str, int]:
    """message_send for the rows written together (a batch of proposals), over this worker's
    one kept SMTP connection; the writer queues at most OUTBOX_SEND_BATCH ids per task. Each
    row is claimed just before it is sent and finished just after, as message_send does: a
    row another task sent meanwhile is left alone, none goes out twice, and a worker dying
    mid-batch strands only the row in flight (the rest stay queued for the sweeper). Returns
    how many rows were left in each status."""
    left: dict[str, int] = {}
    for message_id in message_ids:
        message = _claim(message_id)
        if message is not None:
            status = _send_claimed(message)
            left[status] = left.get(status, 0) + 1
    return left


@shared_task(acks_late=True, ignore_result=True)
def outbox_flush() -> dict[str, int]:
    """Send the messages about people's own referrals that are waiting for their first try
    (services.queue_flush queues this after a commit), at most OUTBOX_SEND_BATCH a run, as
    messages_send does; queues another run when a full batch was waiting. Idempotent: every
    row is claimed before it is sent."""
    cache.delete(services.FLUSH_PENDING_KEY)  # from now on a new row queues another run
    size = settings.OUTBOX_SEND_BATCH
    ids = message_ids_waiting_for_flush(kinds=services.FLUSHED_KINDS, limit=size)
    left = messages_send(ids)
    if len(ids) == size:
        services.queue_flush()
    return left


def _send_claimed(message: OutboundMessage) -> str:
    if not services.message_still_applies(message):
        return _finish(message, S.SKIPPED, error="session changed or cancelled")
    try:
        if message.is_rendered_at_send:
            services.message_render_at_send(message)
        _deliver(message)
    except Exception as error:
        if _is_transient(error) and message.attempts < settings.OUTBOX_MAX_ATTEMPTS:
            return _retry_later(message, error)
        return _finish(message, S.FAILED, error=_describe(error))
    return _finish(message, S.SENT)


def _claim(message_id: int) -> OutboundMessage | None:
    """queued → sending, for exactly one caller. A retry waits for its time; a first attempt
    never does (the web and worker clocks may disagree by a little)."""
    now = timezone.now()
    if connection.features.can_return_columns_from_insert:  # PostgreSQL, SQLite 3.35+
        return _claim_returning(message_id, now)
    is_due = Q(attempts=0) | Q(next_attempt_at__lte=now)
    won = OutboundMessage.objects.filter(is_due, pk=message_id, status=S.QUEUED).update(
        status=S.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return OutboundMessage.objects.get(pk=message_id) if won else None


def _claim_returning(message_id: int, now: dt.datetime) -> OutboundMessage | None:
    """_claim's update and the read of the row it claimed, as one statement: the ORM's update
    returns no rows."""
    meta = OutboundMessage._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk, status, claimed_at, attempts, next_attempt_at = (
        quote(meta.get_field(name).column)
        for name in ("id", "status", "claimed_at", "attempts", "next_attempt_at")
    )
    when = meta.get_field("claimed_at").get_db_prep_value(now, connection)
    sql = (
        f"UPDATE {table} SET {status} = %s, {claimed_at} = %s, {attempts} = {attempts} + 1"
        f" WHERE {pk} = %s AND {status} = %s AND ({attempts} = 0 OR {next_attempt_at} <= %s)"
        " RETURNING *"
    )
    claimed = OutboundMessage.objects.raw(sql, [S.SENDING, when, message_id, S.QUEUED, when])
    return next(iter(claimed), None)


def _deliver(message: OutboundMessage) -> None:
    is_to_clinician = bool(message.ical_text) and message.kind not in _REFERRER_CALENDAR_KINDS
    from_email = (
        f"{settings.CALENDAR_ORGANIZER_NAME} <{settings.CALENDAR_ORGANIZER_EMAIL}>"
        if is_to_clinician
        else settings.DEFAULT_FROM_EMAIL
    )
    mime = emails.build_mime(
        subject=message.subject,
        from_email=from_email,
        to=message.recipient,
        message_id=message.message_id,
        text=message.body_text,
        html=message.body_html,
        sent_at=timezone.now(),
        ical_text=message.ical_text,
        ical_method=message.ical_method,
        attachment_name="invite.ics" if is_to_clinician else "session.ics",
    )
    email = emails.PrebuiltEmail(
        mime,
        subject=message.subject,
        from_email=from_email,
        to=[message.recipient],
        body=message.body_text,
    )
    _send(email)


_smtp = threading.local()


def _send(email: emails.PrebuiltEmail) -> None:
    """Send over this worker thread's SMTP connection, kept open for SMTP_REUSE_SECONDS so a
    burst does not pay a connection and EHLO per message. A kept connection that the server has
    closed meanwhile fails before any data goes out, so it is reopened and tried once more;
    after any other error the connection is dropped."""
    kept = getattr(_smtp, "connection", None)
    if kept is not None and time.monotonic() > _smtp.expires_at:
        smtp_close()
        kept = None
    try:
        try:
            (kept or _smtp_open()).send_messages([email])
        except smtplib.SMTPServerDisconnected:
            if kept is None:
                raise
            smtp_close()
            _smtp_open().send_messages([email])
    except BaseException:
        smtp_close()
        raise


def _smtp_open():
    smtp = get_connection(timeout=settings.EMAIL_TIMEOUT)
    smtp.open()
    _smtp.connection = smtp
    _smtp.expires_at = time.monotonic() + settings.SMTP_REUSE_SECONDS
    return smtp


def smtp_close() -> None:
    """Close this thread's kept SMTP connection, if any."""
    kept = getattr(_smtp, "connection", None)
    _smtp.connection = None
    if kept is not None:
        try:
            kept.close()
        except Exception:  # closing a broken connection must not hide the real error
            logger.debug("closing the SMTP connection failed", exc_info=True)


def _is_transient(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    # Other SMTP errors (say, a feature the server lacks) will not mend; network ones may.
    return not isinstance(error, smtplib.SMTPException) and isinstance(error, OSError)


def _describe(error: Exception) -> str:
    """The error's type and SMTP code only: server messages can echo addresses."""
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__}{f' {code}' if code else ''}"[:300]


def _retry_later(message: OutboundMessage, error: Exception) -> str:
    delay = min(
        settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1),
        settings.OUTBOX_RETRY_MAX_SECONDS,
    )
    OutboundMessage.objects.filter(pk=message.pk, status=S.SENDING).update(
        status=S.QUEUED,
        last_error=_describe(error),
        next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
    )
    services.queue_send(message.pk, countdown=delay)
    return S.QUEUED


def _finish(message: OutboundMessage, status: str, *, error: str = "") -> str:
    fields = {"status": status, "last_error": error}
    if status == S.SENT:
        fields["sent_at"] = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Safe to commit without waiting for the disk: if this commit were lost in a crash
            # the row would stay "sending", which the sweeper marks failed and never re-sends.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        OutboundMessage.objects.filter(pk=message.pk, status=S.SENDING).update(**fields)
    return status


@shared_task(acks_late=True, ignore_result=True)
def outbox_sweep() -> dict[str, int]:
    """Re-queue rows whose send task was lost, and give up on rows stuck mid-send.

    A row still queued OUTBOX_REQUEUE_AFTER_SECONDS after it was due is handed to the broker
    again (the claim keeps a second copy harmless). A row left "sending" for
    OUTBOX_SENDING_STALE_MINUTES is marked failed rather than retried: its worker may have
    handed it to the SMTP server already, and a message must not go out twice; a coordinator
    can re-send it. Idempotent.
    """
    now = timezone.now()
    stale = OutboundMessage.objects.filter(
        status=S.SENDING,
        claimed_at__lt=now - dt.timedelta(minutes=settings.OUTBOX_SENDING_STALE_MINUTES),
    ).update(status=S.FAILED, last_error="interrupted while sending; not retried automatically")
    lost = list(
        OutboundMessage.objects.filter(
            status=S.QUEUED,
            next_attempt_at__lte=now - dt.timedelta(seconds=settings.OUTBOX_REQUEUE_AFTER_SECONDS),
        ).values_list("pk", flat=True)[: settings.OUTBOX_SWEEP_BATCH]
    )
    # Pushing next_attempt_at forward stops the next sweep re-queuing the same rows again.
    OutboundMessage.objects.filter(pk__in=lost, status=S.QUEUED).update(next_attempt_at=now)
    for message_id in lost:
        services.queue_send(message_id)
    return {"requeued": len(lost), "failed_stale": stale}


@shared_task(acks_late=True, ignore_result=True)
def reminders_queue() -> int:
    """Write the reminders now due (see services.reminders_queue); they send after commit."""
    return services.reminders_queue()


@shared_task(acks_late=True, ignore_result=True)
def imap_poll() -> int:
    """Read every message in the organizer mailbox's inbox, ingest it, move it to the processed
    folder. A message whose ingestion fails (the database is down) stays for the next poll.
    Does nothing while IMAP_HOST is empty. Returns the number of messages moved."""
    if not settings.IMAP_HOST:
        return 0
    return inbound.imap_drain()


@shared_task(acks_late=True, ignore_result=True)
def inbound_apply() -> int:
    """Apply what the HTTP and pipe doors kept: at most INBOUND_APPLY_BATCH messages, oldest
    first (inbound.stored_apply), queueing another run when a full batch was waiting. The
    doors queue it after each message they keep (services.queue_inbound_apply) and beat runs
    it every INBOUND_APPLY_SWEEP_SECONDS, for a message kept while the broker was down.
    Idempotent: a message is applied once. Returns how many it applied."""
    cache.delete(services.INBOUND_APPLY_PENDING_KEY)  # from now on a kept message queues a run
    size = settings.INBOUND_APPLY_BATCH
    applied = inbound.stored_apply(limit=size)
    if applied == size:
        services.queue_inbound_apply()
    return applied
