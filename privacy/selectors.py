"""Reads for the audit log and retention."""

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.db.models import Max
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from referrals.models import Referral

from .models import AuditEntry, RetentionRecord

CLOSED_STATUSES = (Referral.Status.CLOSED, Referral.Status.WITHDRAWN)


def audit_entries_for(*, obj: models.Model) -> models.QuerySet[AuditEntry]:
    """Every audit entry about `obj`, newest first: the "who saw or changed this" view."""
    return AuditEntry.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).select_related("actor")


def retention_cutoff(*, now: dt.datetime | None = None) -> dt.datetime:
    """Referrals whose last activity is at or before this moment are past retention."""
    return (now or timezone.now()) - relativedelta(years=settings.RETENTION_YEARS)


def _last_activity() -> Greatest:
    # The last service, or failing that the last thing that happened to the case: the latest of
    # its submission, its history and the end of its last session.
    return Greatest(
        "submitted_at",
        Coalesce(Max("events__occurred_at"), "submitted_at"),
        Coalesce(Max("appointments__slot__ends_at"), "submitted_at"),
    )


def referral_last_activity_at(*, referral_id: int) -> dt.datetime:
    """When the referral's retention clock started."""
    return (
        Referral.objects.filter(pk=referral_id)
        .annotate(last_activity_at=_last_activity())
        .values_list("last_activity_at", flat=True)
        .get()
    )


def referral_ids_due_for_deidentification(
    *, now: dt.datetime | None = None, limit: int
) -> list[int]:
    """Closed or withdrawn referrals, not yet de-identified, whose retention period has ended."""
    return list(
        Referral.objects.filter(status__in=CLOSED_STATUSES)
        .exclude(pk__in=RetentionRecord.objects.values("referral_id"))
        .annotate(last_activity_at=_last_activity())
        .filter(last_activity_at__lte=retention_cutoff(now=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
