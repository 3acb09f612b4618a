"""Background work for scheduling. Tasks take ids, are idempotent and run after commit."""

from celery import shared_task


@shared_task(acks_late=True)
def match_referral(referral_id: int) -> None:
    """Propose a session for the referral (the matching issue fills this in)."""
