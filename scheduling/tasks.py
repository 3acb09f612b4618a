"""Background work for scheduling. Tasks take ids, are idempotent and run after commit."""

import logging
from dataclasses import asdict

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from .models import Clinician
from .services import slots_materialise

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def match_referral(referral_id: int) -> None:
    """Propose a session for the referral (the matching issue fills this in)."""


# --- Slot materialisation -----------------------------------------------------------------
# Availability rules become bookable slots here; beat runs slots_materialise_all every six
# hours (CELERY_BEAT_SCHEDULE) so the rolling horizon moves on by itself. Matching tasks live
# above, not in this block.


@shared_task(acks_late=True)
def slots_materialise_for_clinician(clinician_id: int) -> dict[str, int] | None:
    """Bring one clinician's slots in line with their rules (see slots_materialise).

    Idempotent; a clinician deleted since the task was queued is nothing to do.
    """
    try:
        summary = slots_materialise(clinician_id=clinician_id)
    except Clinician.DoesNotExist:
        logger.info("clinician %s is gone; no slots to materialise", clinician_id)
        return None
    return asdict(summary)


@shared_task(acks_late=True)
def slots_materialise_all() -> int:
    """Queue slots_materialise_for_clinician for every clinician who offers or may offer slots.

    That is every active clinician, and any inactive one still holding offered future slots (so
    those are withdrawn). Returns how many were queued; idempotent.
    """
    clinician_ids = (
        Clinician.objects.filter(
            Q(is_active=True) | Q(slots__is_offered=True, slots__starts_at__gte=timezone.now())
        )
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    queued = 0
    for clinician_id in clinician_ids:
        slots_materialise_for_clinician.delay_on_commit(clinician_id)
        queued += 1
    return queued
