"""Outgoing messages (the outbox) and incoming calendar replies."""

import uuid

from django.db import models
from django.db.models import Q

from privacy.fields import EncryptedBinaryField, EncryptedTextField
from referrals.models import Referral
from scheduling.models import Appointment


class OutboundMessage(models.Model):
    """One email, written in the transaction that caused it and sent after commit.

    The content is rendered when the row is written, so what goes out is what was true then
    (including the iCalendar SEQUENCE). `key` is unique: writing the same message twice for the
    same change is a no-op. Sending claims the row with a conditional update, so it goes out at
    most once however often the send task runs.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation to the clinician"
        INVITATION_UPDATE = "invitation_update", "Updated invitation to the clinician"
        INVITATION_CANCEL = "invitation_cancel", "Cancellation to the clinician"
        CONFIRMATION = "confirmation", "Confirmation to the referrer"
        CONFIRMATION_UPDATE = "confirmation_update", "Changed time to the referrer"
        CONFIRMATION_CANCEL = "confirmation_cancel", "Cancellation to the referrer"
        REMINDER = "reminder", "Session reminder"
        SUBMITTED = "submitted", "Request received"
        URGENT_ALERT = "urgent_alert", "Urgent alert to the on-call coordinator"
        UNMATCHED = "unmatched", "No time found yet"
        OVER_LIMIT = "over_limit", "Sessions already used"
        WITHDRAWN = "withdrawn", "Request withdrawn"
        CLOSED = "closed", "Case closed"
        REFERRER_LINK = "referrer_link", "Link to the referrer's page"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent: no longer applies"

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    recipient = models.EmailField(max_length=254)
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    subject = models.CharField(max_length=200)
    body_text = EncryptedTextField()
    body_html = EncryptedTextField()
    # Written without its subject and text, which the sender renders from the referral just
    # before the first try: what a person is told of their own request, kept out of the
    # request that sends it (services.FLUSHED_KINDS).
    is_rendered_at_send = models.BooleanField(default=False)
    # The calendar part, if any, and what it says, so a coordinator (and a test) can follow a
    # UID's SEQUENCE without parsing the text again.
    ical_text = EncryptedTextField(blank=True)
    ical_method = models.CharField(max_length=8, blank=True)
    ical_uid = models.CharField(max_length=200, blank=True)
    ical_sequence = models.PositiveIntegerField(null=True, blank=True)
    # For reminders: the start time the reminder speaks of; a reschedule makes it stale.
    event_starts_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            models.Index(fields=["ical_uid", "ical_sequence"], name="outbox_ical_uid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


class InboundMessage(models.Model):
    """One email that came in through any of the three doors, kept as received. The IMAP
    poller applies what it fetched at once; the HTTP and pipe doors keep a message and leave
    applying it to the worker (notifications.tasks.inbound_apply), so until then it has no
    applied_at, message_id or problem."""

    class Source(models.TextChoices):
        HTTP = "http", "Inbound mail webhook"
        IMAP = "imap", "IMAP mailbox"
        PIPE = "pipe", "MTA pipe"

    source = models.CharField(max_length=8, choices=Source.choices)
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the raw bytes.")
    message_id = models.CharField(max_length=300, blank=True)
    raw = EncryptedBinaryField()
    problem = models.CharField(
        max_length=200, blank=True, help_text="Why nothing in it could be read, if so."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(
                fields=["id"],
                name="inbound_waiting_idx",
                condition=models.Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"Inbound #{self.pk} via {self.source}"


class InboundReply(models.Model):
    """One calendar reply found in an inbound message, and what it did.

    Anything that changed nothing keeps its reason for a coordinator.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        DUPLICATE = "duplicate", "Already recorded"
        NOT_APPLICABLE = "not_applicable", "The session no longer takes answers"
        NOT_A_REPLY = "not_a_reply", "Not a reply"
        COUNTER = "counter", "Proposes another time"
        UNKNOWN_UID = "unknown_uid", "Unknown invitation"
        OTHER_ATTENDEE = "other_attendee", "Not the invited clinician"
        STALE_SEQUENCE = "stale_sequence", "Answers an older version of the invitation"
        FUTURE_SEQUENCE = "future_sequence", "Answers a version never sent"
        SUPERSEDED = "superseded", "Older than a reply already applied"
        UNKNOWN_ANSWER = "unknown_answer", "No accept, decline or tentative"
        MALFORMED = "malformed", "Could not be read"

    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="replies")
    appointment = models.ForeignKey(
        Appointment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calendar_replies",
    )
    method = models.CharField(max_length=16, blank=True)
    uid = models.CharField(max_length=300, blank=True)
    attendee = models.CharField(max_length=254, blank=True)
    partstat = models.CharField(max_length=20, blank=True)
    sequence = models.IntegerField(null=True, blank=True)
    dtstamp = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["appointment", "outcome"], name="inbound_reply_appt_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="applied") | Q(appointment__isnull=False),
                name="applied_reply_has_appointment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partstat or self.method or 'reply'}: {self.get_outcome_display()}"
