"""What staff did and saw on a case, beyond status changes, and the urgent re-alert record."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from privacy.fields import EncryptedTextField
from referrals.models import Referral


class CloseOutcome(models.TextChoices):
    """Why a coordinator closed a case; stored in Referral.closed_outcome."""

    SESSIONS_COMPLETED = "sessions_completed", "Sessions completed"
    REFERRED_ELSEWHERE = "referred_elsewhere", "Referred to another service"
    DECLINED = "declined", "The person decided not to go ahead"
    NO_CONTACT = "no_contact", "Could not make contact"
    DUPLICATE = "duplicate", "Duplicate referral"
    OTHER = "other", "Other (see note)"


class ViewLogEntry(models.Model):
    """One look at sensitive fields: who, when, which object, what was shown. Append-only.

    Shaped like a general audit entry (user, time, object, action) so the audit log can absorb it;
    it never holds the values that were shown.
    """

    class Action(models.TextChoices):
        VIEWED_CASE = "viewed_case", "Viewed the case and contact details"
        REVEALED_TRIAGE = "revealed_triage", "Revealed triage answers and details"
        VIEWED_FOR_ASSIGNMENT = "viewed_for_assignment", "Viewed the workplace to assign a session"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the account is later deleted, so the entry still says who it was.
    user_label = models.CharField(max_length=150)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=32, choices=Action.choices)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name_plural = "view log entries"
        indexes = [
            models.Index(fields=["content_type", "object_id", "occurred_at"], name="view_log_idx")
        ]

    def __str__(self) -> str:
        return f"{self.user_label} {self.action} {self.content_type_id}:{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("view log entries are append-only")
        super().save(*args, **kwargs)


class CaseActivity(models.Model):
    """Something a staff member did on a case that is not a status change: a note, an override,
    a re-sent invitation. Status changes live in ReferralEvent and AppointmentEvent."""

    class Kind(models.TextChoices):
        NOTE = "note", "Internal note"
        LIMIT_OVERRIDDEN = "limit_overridden", "Session limit changed"
        INVITATION_RESENT = "invitation_resent", "Invitation sent again"
        REMATCH_REQUESTED = "rematch_requested", "Asked the matcher for another clinician"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # A coordinator's own words (a note or a reason); never shown in statistics or logs.
    text = EncryptedTextField(blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name_plural = "case activities"

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.kind}"


class UrgentRealert(models.Model):
    """How often, and when last, an unacknowledged urgent case re-alerted the on-call address."""

    referral = models.OneToOneField(
        Referral, on_delete=models.CASCADE, related_name="urgent_realert"
    )
    times_sent = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.referral_id}: re-alerted {self.times_sent}×"
