"""Writing the audit log. Entries join the caller's transaction: a change rolled back leaves no
entry claiming it happened."""

import uuid
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from ..models import AuditEntry
from ..redaction import redact

DETAIL_MAX_LENGTH = AuditEntry._meta.get_field("detail").max_length


def _actor(user: AbstractBaseUser | None, actor_label: str) -> tuple[AbstractBaseUser | None, str]:
    if user is not None and user.is_authenticated:
        return user, actor_label or user.get_username()
    return None, actor_label or "system"


def _clean_detail(detail: str) -> str:
    return redact(detail)[:DETAIL_MAX_LENGTH]


def audit_record(
    *,
    user: AbstractBaseUser | None,
    action: str,
    obj: models.Model,
    detail: str = "",
    actor_label: str = "",
) -> AuditEntry:
    """Record that `user` did `action` (an AuditEntry.Action) to `obj`; returns the entry.

    `detail` says what, never the values: "viewed details, triage answers", not the answers.
    Emails and phone numbers in it are replaced all the same. An anonymous or missing user is
    recorded under `actor_label` ("referrer" for signed links; "system" by default).
    """
    actor, label = _actor(user, actor_label)
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=label,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        detail=_clean_detail(detail),
    )


def audit_record_bulk(
    *,
    user: AbstractBaseUser | None,
    action: str,
    model: type[models.Model],
    object_ids: Iterable[int | str],
    detail: str = "",
    actor_label: str = "",
) -> list[AuditEntry]:
    """Record one action applied to many objects of `model`, one entry per object (one INSERT).

    One entry per object keeps "who touched referral 42?" a plain indexed lookup and lets
    retention treat each referral's entries alone; the shared batch id shows they were one act.
    """
    actor, label = _actor(user, actor_label)
    batch_id, clean_detail = uuid.uuid4(), _clean_detail(detail)
    return AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=actor,
            actor_label=label,
            action=action,
            object_type=model._meta.label_lower,
            object_id=str(object_id),
            detail=clean_detail,
            batch_id=batch_id,
        )
        for object_id in dict.fromkeys(object_ids)
    )
