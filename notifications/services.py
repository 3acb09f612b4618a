"""Turning what happened into messages, and calendar replies into answers.

Each function writes outbox rows in the caller's transaction; sending happens after commit (a
task per row, and a sweeper for anything left behind). Writing is idempotent: every row has a
unique key naming the change it reports, so a repeated call writes nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections.abc import Iterable, Sequence
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from config.db import (
    among_sql,
    insert_unless_taken,
    instances_insert,
    instances_with_related,
    rows_update,
)
from referrals.models import Referral
from scheduling.models import Appointment, Clinician, new_feed_token
from scheduling.services import (
    Notice,
    RespondResult,
    Response,
    appointment_respond,
    appointments_respond,
)

from . import emails, ical
from .models import InboundMessage, InboundReply, OutboundMessage, new_message_id

logger = logging.getLogger(__name__)

A = Appointment.Status
K = OutboundMessage.Kind
O = InboundReply.Outcome  # noqa: E741
RESPONSE_SALT = "notifications.respond"
CHANGE_FOR_STATUS = {
    A.ACCEPTED: "accepted",
    A.TENTATIVE: "tentative",
    A.DECLINED: "declined",
    A.CANCELLED: "cancelled",
}
_CLINICIAN_KINDS = (K.INVITATION, K.INVITATION_UPDATE, K.INVITATION_CANCEL)
_REFERRER_KINDS = (K.CONFIRMATION, K.CONFIRMATION_UPDATE, K.CONFIRMATION_CANCEL)


# ---------------------------------------------------------------------------------------------
# Appointments


# What messages about a session never read of its referral: the person's own words, which no
# message carries. Left encrypted in the row instead of decrypted for every message.
REFERRAL_FREE_TEXT = ("referral__details", "referral__urgent_acknowledgement_note")


@transaction.atomic(savepoint=False)
def appointment_notify(*, appointment_id: int, change: str) -> list[OutboundMessage]:
    """Queue the messages an appointment change calls for, in the caller's transaction.

    `change` is one of: proposed, accepted, declined, tentative, cancelled, rescheduled, expired.
    - proposed: the clinician's invitation (METHOD:REQUEST), once per appointment.
    - rescheduled: a REQUEST with a higher SEQUENCE; the referrer is told if they were confirmed.
    - accepted: the referrer's confirmation with an .ics (once per SEQUENCE).
    - cancelled, expired: METHOD:CANCEL with a higher SEQUENCE to the clinician, and the
      referrer's cancellation if they were confirmed; pending reminders are dropped.
    - declined: nothing while the referrer was never told a time (matching goes on); a decline
      after the referrer's confirmation cancels it, as a cancellation does.
    - tentative: nothing.
    Raises ValueError for an unknown change. Idempotent.
    """
    return appointments_notify(changes=[(appointment_id, change)])


@transaction.atomic(savepoint=False)
def appointments_notify(*, changes: Sequence[tuple[int, str]]) -> list[OutboundMessage]:
    """appointment_notify for many (appointment id, change) pairs, in the order given, in a
    few statements however many: the appointments are read and locked in one query (id
    order), what was already written for them in another, and the new rows are inserted
    together. Raises ValueError for an unknown change. Idempotent."""
    for _, change in changes:
        if change not in _HANDLERS:
            raise ValueError(f"unknown appointment change {change!r}")
    if not changes:
        return []
    appointments = _appointments_read({pk for pk, _ in changes}, lock=True)
    outbox = _Outbox(appointments)
    for appointment_id, change in changes:
        if appointment_id not in appointments:
            raise Appointment.DoesNotExist(f"appointment {appointment_id} not found")
        _HANDLERS[change](appointments[appointment_id], outbox)
    return outbox.save()


@transaction.atomic(savepoint=False)
def appointment_created_notify(*, appointment_id: int) -> list[OutboundMessage]:
    """appointment_notify(change="proposed") for an appointment created in the caller's
    transaction (the matcher's proposal): nobody else can see it yet and nothing can have
    been written for it, so it is neither locked nor looked up in the outbox. Two
    statements: the read and the INSERT."""
    appointments = _appointments_read({appointment_id}, lock=False)
    if appointment_id not in appointments:
        raise Appointment.DoesNotExist(f"appointment {appointment_id} not found")
    outbox = _Outbox(appointments, is_new=True)
    _on_proposed(appointments[appointment_id], outbox)
    return outbox.save()


def _appointments_read(ids: set[int], *, lock: bool) -> dict[int, Appointment]:
    """The appointments with what their messages show (referral and program, clinician,
    slot), in id order (the order their locks are taken in)."""
    where, params = among_sql("t0.id", sorted(ids))
    found = instances_with_related(
        Appointment,
        related=("referral", "referral__program", "clinician", "slot"),
        defer=REFERRAL_FREE_TEXT,
        where=where,
        params=params,
        order_by="t0.id",
        lock=lock,
    )
    return {appointment.pk: appointment for appointment in found}


@transaction.atomic
def appointment_answer(
    *,
    appointment_id: int,
    response: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str,
) -> RespondResult:
    """A clinician's answer given on a page (a signed link or their portal): applied through
    appointment_respond, the one door calendar replies use too, and followed in the same
    transaction by the messages the change calls for (the referrer's confirmation when
    accepted; the CANCEL when a booked session is declined). Idempotent, as both are."""
    result = appointment_respond(
        appointment_id=appointment_id, response=response, actor=actor, actor_label=actor_label
    )
    if result.is_changed:
        appointment_notify(appointment_id=appointment_id, change=CHANGE_FOR_STATUS[result.status])
    return result


@transaction.atomic(savepoint=False)
def notices_send(notices: Iterable[Notice]) -> list[OutboundMessage]:
    """Queue the messages for what a scheduling service reports (its outcome's `notices`):
    appointment_notify for a session's change, referral_notify for the case's. Idempotent."""
    written = []
    for notice in notices:
        if notice.appointment_id is not None:
            written += appointment_notify(
                appointment_id=notice.appointment_id, change=notice.change
            )
        else:
            written += referral_notify(referral_id=notice.referral_id, change=notice.change)
    return written


def _on_proposed(appointment: Appointment, outbox: _Outbox) -> None:
    if outbox.has_sent(appointment, _CLINICIAN_KINDS):
        return
    _invitation(appointment, outbox, K.INVITATION, sequence=appointment.ical_sequence)


def _on_rescheduled(appointment: Appointment, outbox: _Outbox) -> None:
    sequence = _raise_sequence(appointment, outbox)
    _invitation(appointment, outbox, K.INVITATION_UPDATE, sequence=sequence)
    if outbox.has_sent(appointment, _REFERRER_KINDS):
        _confirmation(appointment, outbox, K.CONFIRMATION_UPDATE, sequence=sequence)
    _drop_pending_reminders(appointment)


def _on_accepted(appointment: Appointment, outbox: _Outbox) -> None:
    was_told = outbox.has_sent(appointment, _REFERRER_KINDS)
    kind = K.CONFIRMATION_UPDATE if was_told else K.CONFIRMATION
    _confirmation(appointment, outbox, kind, sequence=appointment.ical_sequence)


def _on_cancelled(appointment: Appointment, outbox: _Outbox) -> None:
    has_invitation = outbox.has_sent(appointment, _CLINICIAN_KINDS)
    has_confirmation = outbox.has_sent(appointment, _REFERRER_KINDS)
    already_cancelled = outbox.has_sent(appointment, (K.INVITATION_CANCEL, K.CONFIRMATION_CANCEL))
    if already_cancelled or not (has_invitation or has_confirmation):
        return
    sequence = _raise_sequence(appointment, outbox)
    _drop_pending_reminders(appointment)
    if has_invitation:
        _invitation(appointment, outbox, K.INVITATION_CANCEL, sequence=sequence)
    if has_confirmation:
        _confirmation(appointment, outbox, K.CONFIRMATION_CANCEL, sequence=sequence)


def _on_declined(appointment: Appointment, outbox: _Outbox) -> None:
    if outbox.has_sent(appointment, _REFERRER_KINDS):
        _on_cancelled(appointment, outbox)


_HANDLERS = {
    "proposed": _on_proposed,
    "rescheduled": _on_rescheduled,
    "accepted": _on_accepted,
    "cancelled": _on_cancelled,
    "expired": _on_cancelled,
    "declined": _on_declined,
    "tentative": lambda appointment, outbox: None,
}


class _Outbox:
    """The rows already written for some appointments, and the ones this call adds.

    Read once for all of them (every row about an appointment carries its id, resends too),
    so deciding what a change calls for costs no query per message; the new rows are
    inserted together by save(). Callers hold row locks on the appointments, so nothing else
    writes rows for them meanwhile; the unique key stays the backstop."""

    def __init__(self, appointments: dict[int, Appointment], *, is_new: bool = False) -> None:
        self._rows: dict[int, list[tuple[str, str, str, int | None]]] = {
            pk: [] for pk in appointments
        }
        self._new: list[OutboundMessage] = []
        if is_new:  # created in this transaction: nothing written for them yet
            return
        fields = ("appointment_id", "kind", "key", "ical_uid", "ical_sequence")
        for appointment_id, *row in OutboundMessage.objects.filter(
            appointment_id__in=list(appointments)
        ).values_list(*fields):
            self._rows[appointment_id].append(tuple(row))

    def has_sent(self, appointment: Appointment, kinds) -> bool:
        return any(kind in kinds for kind, *_ in self._rows[appointment.pk])

    def has_key(self, appointment: Appointment, key: str) -> bool:
        return any(row[1] == key for row in self._rows[appointment.pk])

    def last_sequence(self, appointment: Appointment, uid: str) -> int | None:
        sequences = [
            row[3] for row in self._rows[appointment.pk] if row[2] == uid and row[3] is not None
        ]
        return max(sequences, default=None)

    def add(self, message: OutboundMessage) -> None:
        row = (message.kind, message.key, message.ical_uid, message.ical_sequence)
        self._rows[message.appointment_id].append(row)
        self._new.append(message)

    def save(self) -> list[OutboundMessage]:
        """Insert the new rows and queue their sending for after commit: one task for one
        row, one per OUTBOX_SEND_BATCH rows for many (one SMTP connection for a batch)."""
        written = instances_insert(self._new)
        if len(written) == 1:
            transaction.on_commit(partial(queue_send, written[0].pk), robust=True)
        elif written:
            transaction.on_commit(partial(queue_send_many, [m.pk for m in written]), robust=True)
        return written


def _raise_sequence(appointment: Appointment, outbox: _Outbox) -> int:
    """The next SEQUENCE for a new version of the event: above anything sent for this UID and
    never below what the appointment already holds; stored back on the appointment."""
    last_sent = outbox.last_sequence(appointment, appointment.ical_uid)
    sequence = max(appointment.ical_sequence, -1 if last_sent is None else last_sent + 1)
    if sequence != appointment.ical_sequence:
        appointment.ical_sequence = sequence
        appointment.save(update_fields=["ical_sequence", "updated_at"])
    return sequence


def _drop_pending_reminders(appointment: Appointment) -> None:
    OutboundMessage.objects.filter(
        appointment=appointment, kind=K.REMINDER, status=OutboundMessage.Status.QUEUED
    ).update(status=OutboundMessage.Status.SKIPPED, last_error="session changed or cancelled")


def _invitation(appointment: Appointment, outbox: _Outbox, kind: str, *, sequence: int) -> None:
    """The clinician's iMIP message: REQUEST (new or updated) or CANCEL."""
    key = f"appointment:{appointment.pk}:clinician:{kind}:seq{sequence}"
    if outbox.has_key(appointment, key):
        return
    method = "CANCEL" if kind == K.INVITATION_CANCEL else "REQUEST"
    clinician = appointment.clinician
    event = _event(
        appointment,
        uid=appointment.ical_uid,
        sequence=sequence,
        time_zone=clinician.time_zone,
        # Contact details only while the session stands: a cancellation needs none.
        description="" if method == "CANCEL" else emails.join_details(appointment),
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
        organizer_email=settings.CALENDAR_ORGANIZER_EMAIL,
        organizer_name=settings.CALENDAR_ORGANIZER_NAME,
        attendees=(ical.Attendee(clinician.calendar_email, clinician.display_name),),
    )
    links = response_links(appointment, sequence=sequence)
    template_kind = {K.INVITATION: "new", K.INVITATION_UPDATE: "update"}.get(kind, "cancel")
    rendered = emails.invitation(appointment, kind=template_kind, links=links)
    message = _row(
        key=key,
        kind=kind,
        recipient=clinician.calendar_email,
        rendered=rendered,
        appointment=appointment,
        referral_id=appointment.referral_id,
        ical_text=ical.calendar_build(method=method, events=[event]),
        ical_method=method,
        ical_uid=appointment.ical_uid,
        ical_sequence=sequence,
    )
    outbox.add(message)


def _confirmation(appointment: Appointment, outbox: _Outbox, kind: str, *, sequence: int) -> None:
    """The referrer's message with a METHOD:PUBLISH .ics: no ORGANIZER or RSVP, so their
    calendar never replies to us; its own UID, so it cannot be mistaken for the clinician's."""
    key = f"appointment:{appointment.pk}:referrer:seq{sequence}"
    if outbox.has_key(appointment, key):
        return
    template_kind = {K.CONFIRMATION: "new", K.CONFIRMATION_UPDATE: "update"}.get(kind, "cancel")
    rendered = emails.confirmation(appointment, kind=template_kind)
    message = _row(
        key=key,
        kind=kind,
        recipient=appointment.referral.email,
        rendered=rendered,
        appointment=appointment,
        referral_id=appointment.referral_id,
        ical_text=referrer_calendar(
            appointment, sequence=sequence, is_cancelled=kind == K.CONFIRMATION_CANCEL
        ),
        ical_method="PUBLISH",
        ical_uid=referrer_uid(appointment),
        ical_sequence=sequence,
    )
    outbox.add(message)


def referrer_uid(appointment: Appointment) -> str:
    return derived_uid(appointment.ical_uid, purpose="referrer")


def referrer_calendar(
    appointment: Appointment, *, sequence: int | None = None, is_cancelled: bool = False
) -> str:
    """The referrer's copy of a session as METHOD:PUBLISH: what their confirmations attach and
    what their page offers to download (the current SEQUENCE unless one is given), so both
    update the same event in the person's calendar."""
    event = _event(
        appointment,
        uid=referrer_uid(appointment),
        sequence=appointment.ical_sequence if sequence is None else sequence,
        time_zone=appointment.referral.time_zone,
        description=_referrer_description(appointment),
        status="CANCELLED" if is_cancelled else "CONFIRMED",
    )
    return ical.calendar_build(method="PUBLISH", events=[event])


def _referrer_description(appointment: Appointment) -> str:
    if appointment.modality == "video":
        return f"Video session: {appointment.clinician.video_link}"
    return f"Phone session: {appointment.clinician.display_name} will call you."


def _event(appointment: Appointment, **fields) -> ical.Event:
    video_link = appointment.clinician.video_link if appointment.modality == "video" else ""
    return ical.Event(
        starts_at=appointment.slot.starts_at,
        ends_at=appointment.slot.ends_at,
        summary=emails.session_title(appointment),
        stamped_at=timezone.now(),
        location=video_link or f"{appointment.get_modality_display()} session",
        url=video_link,
        **fields,
    )


def derived_uid(uid: str, *, purpose: str) -> str:
    """A stable UID for another copy of an event that does not reveal the invitation's UID
    (which, with the clinician's address, is what a reply must know)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{purpose}:{uid}".encode(), hashlib.sha256)
    return f"{digest.hexdigest()[:32]}@soundingboard"


def response_links(appointment: Appointment, *, sequence: int) -> dict[str, str]:
    """Signed Accept/Decline page addresses for this version of the invitation."""
    return {
        label: settings.SITE_URL.rstrip("/")
        + reverse("notifications:respond", args=[response_token(appointment.pk, answer, sequence)])
        for label, answer in (("accept", Response.ACCEPTED), ("decline", Response.DECLINED))
    }


def response_token(appointment_id: int, answer: str, sequence: int) -> str:
    return signing.dumps({"a": appointment_id, "r": answer, "s": sequence}, salt=RESPONSE_SALT)


def response_token_read(token: str) -> dict:
    """The signed answer; raises signing.BadSignature (or SignatureExpired) if it is not ours."""
    max_age = dt.timedelta(days=settings.RESPONSE_LINK_MAX_AGE_DAYS)
    return signing.loads(token, salt=RESPONSE_SALT, max_age=max_age)


# ---------------------------------------------------------------------------------------------
# Referrals


@transaction.atomic(savepoint=False)
def referral_notify(*, referral_id: int, change: str) -> list[OutboundMessage]:
    """Queue the messages a referral change calls for, in the caller's transaction.

    `change` is one of: submitted, diverted, unmatched, over_limit, withdrawn, closed.
    - diverted alerts the on-call coordinator (ONCALL_COORDINATOR_EMAIL) at once; the alert
      carries the reference only, never personal details.
    - unmatched and over_limit tell the person what remains open: the other services and the
      24/7 lines; unmatched also says how long a coordinator may take.
    - the others tell the person in a line or two. Each is sent once per referral. Idempotent.
    """
    if change not in _REFERRAL_KINDS:
        raise ValueError(f"unknown referral change {change!r}")
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=referral_id)
    )
    if _exists(_referral_key(referral, change)):
        return []
    return [_referral_message(referral, change)]


@transaction.atomic(savepoint=False)
def referral_created_notify(*, referral: Referral, change: str) -> list[OutboundMessage]:
    """referral_notify for a referral created in the caller's transaction, given as the
    instance (with its program): nobody else can see it yet and nothing can have been written
    for it, so it is neither read again, locked nor checked for an earlier message. One
    INSERT."""
    if change not in _REFERRAL_KINDS:
        raise ValueError(f"unknown referral change {change!r}")
    return [_referral_message(referral, change)]


_REFERRAL_KINDS = {
    "submitted": K.SUBMITTED,
    "diverted": K.URGENT_ALERT,
    "unmatched": K.UNMATCHED,
    "over_limit": K.OVER_LIMIT,
    "withdrawn": K.WITHDRAWN,
    "closed": K.CLOSED,
}


def _referral_key(referral: Referral, change: str) -> str:
    return f"referral:{referral.pk}:{change}"


def _referral_message(referral: Referral, change: str) -> OutboundMessage:
    kind = _REFERRAL_KINDS[change]
    recipient = settings.ONCALL_COORDINATOR_EMAIL if kind == K.URGENT_ALERT else referral.email
    key = _referral_key(referral, change)
    if kind in FLUSHED_KINDS:  # rendered by the sender (message_render_at_send)
        rendered, is_rendered_at_send = emails.Rendered(subject="", text="", html=""), True
    else:
        rendered, is_rendered_at_send = _referral_rendered(referral, kind), False
    message = _row(
        key=key,
        kind=kind,
        recipient=recipient,
        rendered=rendered,
        referral=referral,
        is_rendered_at_send=is_rendered_at_send,
    )
    message.save(force_insert=True)
    if kind in FLUSHED_KINDS:
        transaction.on_commit(queue_flush, robust=True)
    else:  # the on-call coordinator's alert goes out on its own, at once
        transaction.on_commit(partial(queue_send, message.pk), robust=True)
    return message


def _referral_rendered(referral: Referral, kind: str) -> emails.Rendered:
    return emails.referral_message(
        referral,
        name=kind,
        follow_up_days=settings.UNMATCHED_FOLLOW_UP_BUSINESS_DAYS,
        urgent_queue_url=settings.URGENT_QUEUE_URL,
    )


def message_render_at_send(message: OutboundMessage) -> None:
    """Give a row written without its text (is_rendered_at_send) its subject and text, from
    its referral as it stands, and store them, so a resend and a coordinator see what was
    sent. The caller has claimed the row."""
    referral = (
        Referral.objects.select_related("program")
        .defer(*(name.removeprefix("referral__") for name in REFERRAL_FREE_TEXT))
        .get(pk=message.referral_id)
    )
    rendered = _referral_rendered(referral, message.kind)
    message.subject, message.body_text, message.body_html = (
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    message.is_rendered_at_send = False
    message.save(update_fields=["subject", "body_text", "body_html", "is_rendered_at_send"])


@transaction.atomic(savepoint=False)
def referrer_link_send(*, referral_id: int) -> OutboundMessage:
    """Email the person a fresh signed link to their request's page ("send me my link again").

    A new message on every call: the caller limits how often (referrals.ratelimit)."""
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=referral_id)
    )
    rendered = emails.referral_message(
        referral, name="referrer_link", link_days=settings.REFERRER_LINK_MAX_AGE_DAYS
    )
    return _write(
        key=f"referral:{referral_id}:link:{uuid.uuid4().hex}",
        kind=K.REFERRER_LINK,
        recipient=referral.email,
        rendered=rendered,
        referral=referral,
    )


# ---------------------------------------------------------------------------------------------
# Reminders


@transaction.atomic(savepoint=False)
def reminders_queue(*, now: dt.datetime | None = None) -> int:
    """Queue the reminders now due, to the clinician and the referrer of each accepted session.

    A reminder for lead L is due once the session is L hours away, until the next shorter
    lead's window begins; none is sent for a lead whose window had begun before the session was
    accepted (the confirmation has just gone out). The key holds the start time, so a
    reschedule gets fresh reminders and stale ones are skipped at send time. Idempotent.
    Returns the number of rows written.
    """
    now = now or timezone.now()
    leads = sorted(set(settings.REMINDER_LEAD_HOURS), reverse=True)
    written = 0
    for index, lead in enumerate(leads):
        shorter = leads[index + 1] if index + 1 < len(leads) else 0
        due = (
            Appointment.objects.select_for_update(of=("self",))
            .filter(
                status=A.ACCEPTED,
                slot__starts_at__gt=now + dt.timedelta(hours=shorter),
                slot__starts_at__lte=now + dt.timedelta(hours=lead),
            )
            .select_related("referral__program", "clinician", "slot")
            .defer(*REFERRAL_FREE_TEXT)
        )
        for appointment in due:
            window_opened_at = appointment.slot.starts_at - dt.timedelta(hours=lead)
            if appointment.responded_at and appointment.responded_at >= window_opened_at:
                continue
            written += _reminders(appointment, lead)
    return written


def _reminders(appointment: Appointment, lead: int) -> int:
    written = 0
    starts = appointment.slot.starts_at
    for is_clinician, recipient in (
        (True, appointment.clinician.calendar_email),
        (False, appointment.referral.email),
    ):
        side = "clinician" if is_clinician else "referrer"
        key = f"appointment:{appointment.pk}:reminder:{lead}h:{starts:%Y%m%dT%H%MZ}:{side}"
        if _exists(key):
            continue
        rendered = emails.reminder(appointment, is_clinician=is_clinician)
        _write(
            key=key,
            kind=K.REMINDER,
            recipient=recipient,
            rendered=rendered,
            appointment=appointment,
            referral_id=appointment.referral_id,
            event_starts_at=starts,
        )
        written += 1
    return written


def message_still_applies(message: OutboundMessage) -> bool:
    """False for a reminder whose session was cancelled or moved since it was written."""
    if message.kind != K.REMINDER or message.appointment_id is None:
        return True
    appointment = Appointment.objects.select_related("slot").get(pk=message.appointment_id)
    is_same_time = appointment.slot.starts_at == message.event_starts_at
    return appointment.status == A.ACCEPTED and is_same_time


# ---------------------------------------------------------------------------------------------
# Writing rows


def _exists(key: str) -> bool:
    return OutboundMessage.objects.filter(key=key).exists()


def _write(*, key: str, rendered: emails.Rendered, **fields) -> OutboundMessage:
    """Insert one outbox row and queue its sending for after commit.

    Callers hold a row lock on the appointment or referral the row reports on, so checking the
    key first (_exists) and inserting cannot race; the unique key is the backstop."""
    message = _row(key=key, rendered=rendered, **fields)
    message.save(force_insert=True)
    transaction.on_commit(partial(queue_send, message.pk), robust=True)
    return message


def _row(*, key: str, rendered: emails.Rendered, **fields) -> OutboundMessage:
    """An outbox row, not yet saved."""
    return OutboundMessage(
        key=key,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id=new_message_id(_mail_domain()),
        next_attempt_at=timezone.now(),
        **fields,
    )


def _mail_domain() -> str:
    return settings.CALENDAR_ORGANIZER_EMAIL.rpartition("@")[2] or "soundingboard"


def queue_send_many(message_ids: list[int]) -> None:
    """Hand rows to the broker in tasks of at most OUTBOX_SEND_BATCH rows each."""
    from .tasks import messages_send

    size = settings.OUTBOX_SEND_BATCH
    for start in range(0, len(message_ids), size):
        try:
            messages_send.delay(message_ids[start : start + size])
        except Exception as error:  # the database, not the broker, is the source of truth
            logger.warning("outbox batch not queued (%s); the sweeper will", type(error))
            return


# What a person is told when they send a referral: sent by outbox_flush tasks, which take
# whatever is waiting, so a burst of submissions is a few batches instead of a task each.
FLUSHED_KINDS = (K.SUBMITTED, K.OVER_LIMIT)
FLUSH_PENDING_KEY = "notifications:outbox-flush-pending"


def queue_flush() -> None:
    """Queue an outbox_flush task, to run OUTBOX_FLUSH_DELAY_SECONDS from now, unless one is
    already queued and not yet started. The delay keeps the sending out of the way of the
    match the submission also queued, and gathers a burst's messages into fewer batches.

    A flag in the cache (OUTBOX_FLUSH_PENDING_SECONDS) says one is on its way; the task clears
    it before it reads what is waiting, so a row committed after that read queues the next
    run, and one committed before it is in the read. If the cache or the broker is down, or a
    task is lost, the rows wait for outbox_sweep."""
    from .tasks import outbox_flush

    _queue_unless_queued(
        outbox_flush,
        flag=FLUSH_PENDING_KEY,
        flag_seconds=settings.OUTBOX_FLUSH_PENDING_SECONDS,
        countdown=settings.OUTBOX_FLUSH_DELAY_SECONDS,
    )


INBOUND_APPLY_PENDING_KEY = "notifications:inbound-apply-pending"


def queue_inbound_apply() -> None:
    """Queue an inbound_apply task unless one is already queued and not yet started, as
    queue_flush does (the flag lasts INBOUND_APPLY_PENDING_SECONDS): a burst of replies
    through the HTTP and pipe doors is applied in a few batches, not a task each. If the
    cache or the broker is down, or a task is lost, the periodic inbound_apply run applies
    the messages."""
    from .tasks import inbound_apply

    _queue_unless_queued(
        inbound_apply,
        flag=INBOUND_APPLY_PENDING_KEY,
        flag_seconds=settings.INBOUND_APPLY_PENDING_SECONDS,
    )


def _queue_unless_queued(task, *, flag: str, flag_seconds: int, countdown: int = 0) -> None:
    """Queue `task` unless the cache `flag` says a run is on its way; the task clears the flag
    before it reads what is waiting, so nothing committed after that read is left waiting."""
    try:
        if cache.add(flag, 1, timeout=flag_seconds):
            try:
                task.apply_async(countdown=countdown or None)
            except Exception:
                cache.delete(flag)
                raise
    except Exception as error:  # the database, not the broker, is the source of truth
        logger.warning("%s not queued (%s); its periodic run will", task.name, type(error))


def queue_send(message_id: int, *, countdown: int | None = None) -> None:
    """Hand a row to the broker. If the broker is down the row waits for the sweeper."""
    from .tasks import message_send

    try:
        message_send.apply_async((message_id,), countdown=countdown)
    except Exception as error:  # the database, not the broker, is the source of truth
        logger.warning("outbox %s not queued (%s); the sweeper will", message_id, type(error))


@transaction.atomic
def message_resend(*, message_id: int) -> OutboundMessage:
    """Queue a fresh copy of a message (a coordinator's re-send); the original stays as it was.

    The copy has the same content (the same iCalendar SEQUENCE) and a new Message-ID."""
    original = OutboundMessage.objects.select_for_update().get(pk=message_id)
    copies = OutboundMessage.objects.filter(key__startswith=f"{original.key}:resend:").count()
    copy = OutboundMessage.objects.create(
        key=f"{original.key}:resend:{copies + 1}",
        kind=original.kind,
        recipient=original.recipient,
        referral_id=original.referral_id,
        appointment_id=original.appointment_id,
        subject=original.subject,
        body_text=original.body_text,
        body_html=original.body_html,
        ical_text=original.ical_text,
        ical_method=original.ical_method,
        ical_uid=original.ical_uid,
        ical_sequence=original.ical_sequence,
        event_starts_at=original.event_starts_at,
        is_rendered_at_send=original.is_rendered_at_send,
        message_id=new_message_id(_mail_domain()),
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(partial(queue_send, copy.pk), robust=True)
    return copy


@transaction.atomic
def appointment_invitation_resend(*, appointment_id: int) -> OutboundMessage:
    """Send the clinician the current invitation again (same UID and SEQUENCE, new Message-ID).

    For a coordinator whose clinician says the invitation never arrived. If none was written yet
    (the proposal predates the outbox), the invitation is written now instead.
    """
    latest = (
        OutboundMessage.objects.filter(
            appointment_id=appointment_id, kind__in=(K.INVITATION, K.INVITATION_UPDATE)
        )
        .order_by("-ical_sequence", "-created_at", "-pk")
        .first()
    )
    if latest is None:
        return appointment_notify(appointment_id=appointment_id, change="proposed")[0]
    return message_resend(message_id=latest.pk)


# ---------------------------------------------------------------------------------------------
# Calendar replies


@transaction.atomic(savepoint=False)
def inbound_store(
    *,
    messages: Sequence[tuple[bytes, ical.ParsedMessage | None]],
    source: str,
    applied_at: dt.datetime | None = None,
) -> list[InboundMessage | None]:
    """Keep incoming messages as received, one row each, in one statement however many (an
    INSERT that leaves out bytes stored before, through any door, even by a transaction
    committing meanwhile); None for bytes stored before or earlier in the same list. A
    message not parsed yet (None) is kept for inbound_mark_applied to complete; `applied_at`
    is for messages applied in the same transaction."""
    rows: list[InboundMessage | None] = []
    seen: set[str] = set()
    for raw, parsed in messages:
        digest = hashlib.sha256(raw).hexdigest()
        is_new = digest not in seen
        seen.add(digest)
        rows.append(
            InboundMessage(
                source=source,
                digest=digest,
                message_id=parsed.message_id if parsed else "",
                raw=raw,
                problem=parsed.problem if parsed else "",
                applied_at=applied_at,
            )
            if is_new
            else None
        )
    fresh = [row for row in rows if row is not None]
    stored = {row.digest for row in insert_unless_taken(fresh, conflict="(digest)", key="digest")}
    return [row if row is not None and row.digest in stored else None for row in rows]


def inbound_mark_applied(*, messages: Sequence[tuple[InboundMessage, ical.ParsedMessage]]) -> None:
    """Record what parsing found in kept messages, and that they are applied (one statement;
    the caller applies their replies in the same transaction)."""
    now = timezone.now()
    for message, parsed in messages:
        message.message_id, message.problem = parsed.message_id, parsed.problem
        message.applied_at = now
    rows_update([message for message, _ in messages], ["message_id", "problem", "applied_at"])


@transaction.atomic(savepoint=False)
def replies_apply(
    *, replies: Sequence[tuple[InboundMessage, ical.ParsedReply]]
) -> list[tuple[InboundReply, RespondResult | None]]:
    """Decide what each calendar reply may do, apply it through appointments_respond, record it.

    Accepted only when it is a REPLY (not a COUNTER nor a proposed new time) for a UID we sent,
    from the invited clinician's address, answering the current SEQUENCE, and not older (by
    SEQUENCE, then DTSTAMP) than a reply already applied. Everything else changes nothing and is
    stored with its reason. Replies are taken in the order given, as if one by one; the reads,
    the answers and the records are a few statements per batch, not per reply. The caller
    tells whoever needs telling when a result changed something.
    """
    judge = _Judge([reply for _, reply in replies])
    outcomes: list[tuple[InboundReply, RespondResult | None] | None] = [None] * len(replies)
    # Rounds, so that two replies to one session in the same batch are judged in order.
    pending = list(range(len(replies)))
    while pending:
        this_round, later, seen = [], [], set()
        for index in pending:
            uid = replies[index][1].uid
            (later if uid in seen else this_round).append(index)
            seen.add(uid)
        _apply_round(replies, this_round, judge, outcomes)
        pending = later
    return [outcome for outcome in outcomes if outcome is not None]


def _apply_round(replies, indexes: list[int], judge: _Judge, outcomes: list) -> None:
    verdicts = {index: judge.verdict(replies[index][1]) for index in indexes}
    to_apply = [index for index in indexes if verdicts[index][1] is None]
    results = dict(
        zip(
            to_apply,
            appointments_respond(
                answers=[(verdicts[i][0].pk, verdicts[i][3].partstat.lower()) for i in to_apply],
                actor_label="clinician (calendar reply)",
                reason="calendar reply",
            ),
            strict=True,
        )
    )
    records = []
    for index in indexes:
        message, reply = replies[index]
        appointment, outcome, reason, attendee = verdicts[index]
        result = results.get(index)
        if result is not None:
            outcome = O.APPLIED if result.is_changed else _unchanged_outcome(result)
            reason = result.detail
        record = InboundReply(
            message=message,
            appointment=appointment,
            method=reply.method[:16],
            uid=reply.uid,
            attendee=(attendee.email if attendee else _first_attendee(reply))[:254],
            partstat=(attendee.partstat if attendee else "")[:20],
            sequence=reply.sequence,
            dtstamp=reply.stamped_at,
            outcome=outcome,
            reason=reason[:300],
        )
        if outcome == O.APPLIED:
            judge.applied(appointment, record)
        records.append(record)
        outcomes[index] = (record, result)
    InboundReply.objects.bulk_create(records)


def _unchanged_outcome(result: RespondResult) -> str:
    return O.DUPLICATE if result.detail == "already recorded" else O.NOT_APPLICABLE


def _first_attendee(reply: ical.ParsedReply) -> str:
    return reply.attendees[0].email if reply.attendees else ""


class _Judge:
    """What a batch of replies needs to be judged, read once: the appointments their UIDs name
    (locked, in id order) and the latest reply applied to each."""

    def __init__(self, replies: list[ical.ParsedReply]) -> None:
        uids = {r.uid for r in replies if r.uid and not r.problem}
        self.appointments: dict[str, Appointment] = {}
        self.latest: dict[int, tuple[int, dt.datetime]] = {}
        if not uids:
            return
        applied = InboundReply.objects.filter(
            appointment=OuterRef("pk"), outcome=O.APPLIED
        ).order_by("-sequence", "-dtstamp", "-created_at")
        # One statement: each appointment with its latest applied reply's ordering key.
        for appointment in (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("clinician")
            .filter(ical_uid__in=uids)
            .annotate(
                applied_sequence=Subquery(applied.values("sequence")[:1]),
                applied_dtstamp=Subquery(applied.values("dtstamp")[:1]),
                has_applied=Exists(applied),
            )
            .order_by("pk")
        ):
            self.appointments[appointment.ical_uid] = appointment
            if appointment.has_applied:
                self.latest[appointment.pk] = _order_key(
                    appointment.applied_sequence or 0, appointment.applied_dtstamp
                )

    def applied(self, appointment: Appointment, record: InboundReply) -> None:
        self.latest[appointment.pk] = _order_key(record.sequence or 0, record.dtstamp)

    def verdict(self, reply: ical.ParsedReply):
        """(appointment, outcome or None to apply, reason, the clinician's attendee entry)."""
        if reply.problem:
            return None, O.MALFORMED, reply.problem, None
        if reply.method == "COUNTER" or reply.proposes_new_time:
            return None, O.COUNTER, "proposes another time; a coordinator decides", None
        if reply.method != "REPLY":
            return None, O.NOT_A_REPLY, f"METHOD {reply.method or 'missing'} is not a reply", None
        appointment = self.appointments.get(reply.uid)
        if appointment is None:
            return None, O.UNKNOWN_UID, "no invitation with this UID", None
        invited = ical.normalise_address(appointment.clinician.calendar_email)
        attendee = next((a for a in reply.attendees if a.email == invited), None)
        if attendee is None:
            return appointment, O.OTHER_ATTENDEE, "the attendee is not the invited clinician", None
        if attendee.partstat not in ical.ANSWERS:
            reason = f"PARTSTAT {attendee.partstat or 'missing'} is not an answer"
            return appointment, O.UNKNOWN_ANSWER, reason, attendee
        sequence = reply.ordering_sequence
        if sequence < appointment.ical_sequence:
            reason = (
                f"answers SEQUENCE {sequence}; the invitation is at {appointment.ical_sequence}"
            )
            return appointment, O.STALE_SEQUENCE, reason, attendee
        if sequence > appointment.ical_sequence:
            reason = f"answers SEQUENCE {sequence}, which was never sent"
            return appointment, O.FUTURE_SEQUENCE, reason, attendee
        if self._is_superseded(appointment, reply):
            return appointment, O.SUPERSEDED, "a later reply was already applied", attendee
        return appointment, None, "", attendee

    def _is_superseded(self, appointment: Appointment, reply: ical.ParsedReply) -> bool:
        """Order by SEQUENCE, then DTSTAMP, then arrival: an earlier one arriving later loses."""
        theirs = self.latest.get(appointment.pk)
        return theirs is not None and _order_key(reply.ordering_sequence, reply.stamped_at) < theirs


def _order_key(sequence: int, stamped_at: dt.datetime | None) -> tuple[int, dt.datetime]:
    return (sequence, stamped_at or dt.datetime.min.replace(tzinfo=dt.UTC))


# ---------------------------------------------------------------------------------------------
# Feeds


def feed_render(clinician: Clinician, *, now: dt.datetime | None = None) -> str:
    """The clinician's sessions as METHOD:PUBLISH: no ORGANIZER, ATTENDEE or RSVP (adding the
    feed sends no replies), no referrer surname, nothing beyond time, title and modality."""
    now = now or timezone.now()
    rows = (
        Appointment.objects.filter(
            clinician=clinician,
            status__in=[A.ACCEPTED, A.TENTATIVE, A.COMPLETED, A.NO_SHOW],
            slot__starts_at__gte=now - dt.timedelta(days=settings.FEED_PAST_DAYS),
        )
        .order_by("slot__starts_at")
        .values(*_FEED_FIELDS)  # plain rows: a feed can hold hundreds of sessions
    )
    events = [_feed_event(row, clinician.time_zone, stamped_at=now) for row in rows]
    return ical.calendar_build(method="PUBLISH", events=events, name="Sounding Board sessions")


_FEED_FIELDS = (
    "ical_uid",
    "ical_sequence",
    "status",
    "modality",
    "slot__starts_at",
    "slot__ends_at",
    "referral__reference",
    "referral__given_name",
    "referral__preferred_name",
    "referral__family_name",
    "referral__program__discreet_title",
)


def _feed_event(row: dict, time_zone: str, *, stamped_at: dt.datetime) -> ical.Event:
    name = row["referral__preferred_name"] or row["referral__given_name"]
    modality = "Video" if row["modality"] == "video" else "Phone"
    return ical.Event(
        uid=derived_uid(row["ical_uid"], purpose="feed"),
        sequence=row["ical_sequence"],
        starts_at=row["slot__starts_at"],
        ends_at=row["slot__ends_at"],
        time_zone=time_zone,
        summary=emails.title_for(
            row["referral__program__discreet_title"],
            row["referral__family_name"],
            row["referral__reference"],
        ),
        stamped_at=stamped_at,
        description=f"{modality} session with {name}. Contact details are in your invitation.",
        status="TENTATIVE" if row["status"] == A.TENTATIVE else "CONFIRMED",
    )


@transaction.atomic
def feed_token_rotate(*, clinician_id: int) -> str:
    """Revoke a clinician's feed address and issue a new one; the old address stops working."""
    clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
    clinician.feed_token = new_feed_token()
    clinician.save(update_fields=["feed_token"])
    return clinician.feed_token


def feed_urls(clinician: Clinician) -> dict[str, str]:
    """The feed's https address and the webcal:// one calendar apps subscribe to."""
    https = settings.SITE_URL.rstrip("/") + reverse(
        "notifications:feed", args=[clinician.feed_token]
    )
    return {"https": https, "webcal": "webcal://" + https.split("://", 1)[1]}
