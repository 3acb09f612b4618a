"""Recording who looked at sensitive fields. Append-only; the values shown are never stored."""

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models

from ..models import ViewLogEntry


def view_log_record(*, user: AbstractBaseUser, obj: models.Model, action: str) -> ViewLogEntry:
    """Append one entry: this user saw `action` on `obj` now. One insert, in the caller's
    transaction if there is one."""
    return ViewLogEntry.objects.create(
        user=user,
        user_label=user.get_username(),
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        action=action,
    )


def view_log_for(obj: models.Model) -> models.QuerySet[ViewLogEntry]:
    """Every recorded look at `obj`, oldest first."""
    return ViewLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).order_by("occurred_at", "pk")
