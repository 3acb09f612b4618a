"""De-identifying a referral: at the end of its retention period, or at a person's request.

What each app holds about a referral is blanked by that app's own function, listed in the
RETENTION_DEIDENTIFIERS setting. Each takes `referral_id` (keyword) and returns the rows it
blanked as {model label: [primary keys]}; this module then blanks the audit details of those
rows and writes the register entry, all in one transaction.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.module_loading import import_string

from referrals.models import Referral

from ..append_only import purge_permitted
from ..models import AuditEntry, RetentionRecord
from ..selectors import CLOSED_STATUSES, referral_last_activity_at, retention_cutoff
from .audit import audit_record

Deidentifier = Callable[..., dict[str, list[int]]]


class ReferralStillOpen(Exception):
    """Only a closed or withdrawn referral can be de-identified."""


class RetentionNotDue(Exception):
    """The referral's retention period has not ended."""


def retention_deidentifiers() -> list[Deidentifier]:
    """The functions, one per app, that blank a referral's personal data, in setting order."""
    return [import_string(path) for path in settings.RETENTION_DEIDENTIFIERS]


def _audit_details_blank(rows: dict[str, list[int]]) -> None:
    with purge_permitted():
        for object_type, ids in rows.items():
            AuditEntry.objects.filter(
                object_type=object_type, object_id__in=[str(pk) for pk in ids]
            ).exclude(detail="").update(detail="")


@transaction.atomic
def referral_deidentify(
    *, referral_id: int, reason: str, actor: AbstractBaseUser | None = None
) -> RetentionRecord:
    """Destroy the personal data held about a referral, keeping what statistics need.

    1. Lock the referral; a referral already de-identified returns its register entry
       (idempotent). It must be closed or withdrawn (ReferralStillOpen), and for reason
       RETENTION_EXPIRED its retention period must have ended (RetentionNotDue).
    2. Call every registered de-identifier: names, contact details, free text, triage answers,
       history reasons, session notes and messages are blanked; statuses, dates, program,
       district, career stage and triage outcome stay for statistics.
    3. Blank the detail of audit entries about the rows touched, and record a register entry
       and an audit entry. Nothing is sent.
    """
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    existing = RetentionRecord.objects.filter(referral_id=referral_id).first()
    if existing is not None:
        return existing
    if referral.status not in CLOSED_STATUSES:
        raise ReferralStillOpen(f"referral {referral_id} is {referral.status}")
    last_activity_at = referral_last_activity_at(referral_id=referral_id)
    if reason == RetentionRecord.Reason.RETENTION_EXPIRED and last_activity_at > retention_cutoff():
        raise RetentionNotDue(f"referral {referral_id} is within its retention period")

    rows: dict[str, list[int]] = {referral._meta.label_lower: [referral_id]}
    for deidentify in retention_deidentifiers():
        for label, ids in deidentify(referral_id=referral_id).items():
            rows.setdefault(label, []).extend(ids)
    _audit_details_blank(rows)

    record = RetentionRecord.objects.create(
        referral_id=referral_id,
        reference=referral.reference,
        reason=reason,
        actor=actor if actor is not None and actor.is_authenticated else None,
        last_activity_at=last_activity_at,
        rows_blanked={label: len(set(ids)) for label, ids in sorted(rows.items())},
    )
    audit_record(
        user=actor, action=AuditEntry.Action.DEIDENTIFY, obj=referral, detail=f"reason: {reason}"
    )
    return record
