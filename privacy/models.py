"""The audit log and the register of de-identified referrals. Both tables are append-only."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .append_only import AppendOnlyError, is_purge_permitted


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused outside privacy.append_only.purge_permitted()."""

    def update(self, **kwargs) -> int:
        if not is_purge_permitted():
            raise AppendOnlyError(f"{self.model._meta.label} rows cannot be updated")
        return super().update(**kwargs)

    def delete(self):
        if not is_purge_permitted():
            raise AppendOnlyError(f"{self.model._meta.label} rows cannot be deleted")
        return super().delete()


class AppendOnlyModel(models.Model):
    """A row is written once; changing or deleting it raises AppendOnlyError."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} rows cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.label} rows cannot be deleted")


class AuditEntry(AppendOnlyModel):
    """Who viewed or changed which object, when, and a short non-sensitive detail.

    The object is named by its model label and primary key rather than a foreign key, so the
    entry outlives any change to the object and no cascade can reach it. A bulk change writes
    one entry per object, sharing a batch id. The detail never holds personal data or a
    decrypted value: audit_record scrubs emails and phone numbers as a second line of defence.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        DEIDENTIFY = "deidentify", "De-identified"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: staff accounts with a history are disabled, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, help_text="The username at the time, or 'system' or 'referrer'."
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    object_type = models.CharField(max_length=100, help_text="Model label, e.g. referrals.referral")
    object_id = models.CharField(max_length=64)
    detail = models.CharField(max_length=200, blank=True)
    batch_id = models.UUIDField(null=True, blank=True, help_text="Shared by a bulk change.")

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type}:{self.object_id}"


class RetentionRecord(AppendOnlyModel):
    """The register of referrals whose personal data was destroyed: what, when, why and by whom.

    Keeps the referral's id and reference (which identify a case, not a person) so a person can
    be told their data is gone, and counts of the rows each app blanked.
    """

    class Reason(models.TextChoices):
        RETENTION_EXPIRED = "retention_expired", "Retention period ended"
        PERSON_REQUEST = "person_request", "The person asked for deletion"

    referral_id = models.BigIntegerField(unique=True)
    reference = models.CharField(max_length=12)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_activity_at = models.DateTimeField(help_text="When the retention clock started.")
    deidentified_at = models.DateTimeField(default=timezone.now)
    rows_blanked = models.JSONField(
        default=dict, help_text="Model label → number of rows whose personal data was removed."
    )

    class Meta:
        ordering = ["-deidentified_at"]

    def __str__(self) -> str:
        return f"{self.reference} de-identified {self.deidentified_at:%Y-%m-%d}"
