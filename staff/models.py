"""What staff did and saw on a case, beyond status changes, and the urgent re-alert record."""

from django.conf import settings
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
