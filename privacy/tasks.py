"""Periodic privacy work. Tasks take no personal data, are idempotent and acknowledge late."""

import logging
from importlib import import_module

from celery import shared_task
from django.conf import settings

from .models import RetentionRecord
from .selectors import referral_ids_due_for_deidentification
from .services import referral_deidentify

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def retention_sweep() -> int:
    """De-identify up to RETENTION_SWEEP_BATCH referrals whose retention period has ended.

    Each referral is its own transaction, so one failure stops nothing else; a referral left
    over is found again by the next run. Returns how many were de-identified.
    """
    referral_ids = referral_ids_due_for_deidentification(limit=settings.RETENTION_SWEEP_BATCH)
    for referral_id in referral_ids:
        referral_deidentify(
            referral_id=referral_id, reason=RetentionRecord.Reason.RETENTION_EXPIRED, actor=None
        )
    if referral_ids:
        logger.info("retention sweep de-identified %d referrals", len(referral_ids))
    return len(referral_ids)


@shared_task(acks_late=True)
def sessions_clear_expired() -> None:
    """Delete expired sessions, and with them any unfinished wizard answers. Idempotent."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
