"""Background work for the coordinator workspace. Tasks take ids only and are idempotent."""

from celery import shared_task
from django.utils import timezone

from .services.alerts import referral_urgent_realert, urgent_realerts_due


@shared_task(acks_late=True)
def urgent_realert_sweep() -> int:
    """Every minute (beat): re-alert the on-call address about each urgent case unacknowledged
    past the interval. Each case is re-checked under a row lock, so overlapping runs send each
    alert once. Returns how many alerts were queued."""
    now = timezone.now()
    return sum(
        referral_urgent_realert(referral_id=referral_id, now=now)
        for referral_id in urgent_realerts_due(now=now)
    )
