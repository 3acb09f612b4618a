"""Reads for a case's timeline (what was sent about a referral and what came back), and for
sending."""

from django.db.models import QuerySet

from .models import InboundMessage, InboundReply, OutboundMessage


def messages_for_referral(*, referral_id: int) -> QuerySet[OutboundMessage]:
    """Every outbox row about the referral or its sessions, oldest first (bodies deferred)."""
    return (
        OutboundMessage.objects.filter(referral_id=referral_id)
        .defer("body_text", "body_html", "ical_text")
        .order_by("created_at", "pk")
    )


def replies_for_referral(*, referral_id: int) -> QuerySet[InboundReply]:
    """Every calendar reply matched to one of the referral's sessions, with its outcome."""
    return (
        InboundReply.objects.filter(appointment__referral_id=referral_id)
        .select_related("message", "appointment")
        .defer("message__raw")
        .order_by("created_at", "pk")
    )


def message_ids_waiting_for_flush(*, kinds, limit: int) -> list[int]:
    """Queued rows of `kinds` never tried yet, oldest first: what an outbox_flush sends."""
    return list(
        OutboundMessage.objects.filter(
            status=OutboundMessage.Status.QUEUED, attempts=0, kind__in=kinds
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def inbound_waiting_locked(*, limit: int) -> list[InboundMessage]:
    """Up to `limit` kept messages not applied yet, oldest first, locked for this transaction;
    rows another transaction has locked are skipped (another worker is applying them)."""
    return list(
        InboundMessage.objects.select_for_update(skip_locked=True)
        .filter(applied_at__isnull=True)
        .order_by("pk")[:limit]
    )
