"""Background work for scheduling. Tasks take ids, are idempotent and run after commit."""

import logging
import uuid
from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.services import (
    appointment_created_notify,
    appointment_notify,
    appointments_notify,
    referral_notify,
)

from .models import Clinician
from .services import slots_materialise

logger = logging.getLogger(__name__)


# --- Matching: one referral at a time, expiry, the sweeper and batches ---------------------


@shared_task(acks_late=True, bind=True, max_retries=None)
def match_referral(self, referral_id: int) -> None:
    """Propose a session for a NEW or UNMATCHED referral and hand it to notifications.

    In a burst (MATCH_COALESCE_MIN_WAITING or more new referrals waiting) the referral is
    matched with the others as batches instead (_match_waiting), by one worker at a time; a
    task that finds another worker batching tries again shortly (that batch usually takes its
    referral) and after MATCH_COALESCE_MAX_RETRIES matches alone.

    Idempotent: a referral already proposed, or in any status other than NEW or UNMATCHED,
    is left alone, so running it twice proposes once; after a burst's batches most of these
    tasks find their referral proposed, at the cost of one statement. The referrer hears
    "unmatched" only the first time nothing is feasible, not on every retry. A referral whose
    row another transaction holds is tried again after MATCH_LOCKED_RETRY_SECONDS (at most
    MATCH_LOCKED_MAX_RETRIES times): when a worker is killed mid-match, Celery redelivers the
    task at once while the dead worker's transaction may still hold the lock.
    """
    may_wait = self.request.retries < settings.MATCH_COALESCE_MAX_RETRIES
    outcome = _match_one(referral_id, burst_size=settings.MATCH_COALESCE_MIN_WAITING)
    if outcome.is_burst:
        if not _match_waiting() and may_wait:
            raise self.retry(countdown=settings.MATCH_COALESCE_RETRY_SECONDS)
        # After the batches (a referral they left out, or proposed: then a no-op), or alone.
        outcome = _match_one(referral_id)
    if outcome.is_locked_elsewhere:
        raise self.retry(
            countdown=settings.MATCH_LOCKED_RETRY_SECONDS,
            max_retries=settings.MATCH_LOCKED_MAX_RETRIES,
        )


def _match_one(referral_id: int, *, burst_size: int | None = None):
    from .services import referral_match

    with transaction.atomic():
        outcome = referral_match(referral_id=referral_id, burst_size=burst_size)
        if outcome.appointment_id is not None:
            appointment_created_notify(appointment_id=outcome.appointment_id)
        elif outcome.is_newly_unmatched:
            referral_notify(referral_id=referral_id, change="unmatched")
    logger.info("match referral %s: %s", referral_id, outcome.detail)
    return outcome


_COALESCE_LOCK = "scheduling:match-waiting"


def _match_waiting() -> bool:
    """Match the new referrals waiting as batches, round after round while at least
    MATCH_COALESCE_MIN_WAITING wait (at most MATCH_COALESCE_MAX_ROUNDS). False, doing
    nothing, when another worker is doing it: a cache lock lets one worker batch at a time,
    so two batches never plan the same referrals."""
    from referrals.selectors import referral_ids_waiting_for_match

    token = uuid.uuid4().hex
    if not cache.add(_COALESCE_LOCK, token, timeout=settings.CELERY_TASK_TIME_LIMIT):
        return False
    try:
        for _round in range(settings.MATCH_COALESCE_MAX_ROUNDS):
            waiting = referral_ids_waiting_for_match(limit=settings.MATCH_BATCH_MAX_SIZE)
            if len(waiting) < settings.MATCH_COALESCE_MIN_WAITING:
                break
            _match_batch(waiting)
    finally:
        if cache.get(_COALESCE_LOCK) == token:
            cache.delete(_COALESCE_LOCK)
    return True


@shared_task(acks_late=True)
def proposals_expire() -> None:
    """Expire every proposal past its deadline (the slot is released), tell notifications
    and queue a new match for its referral, without that clinician. Idempotent."""
    from .selectors import due_proposal_ids
    from .services import proposal_expire

    for appointment_id in due_proposal_ids(now=timezone.now()):
        with transaction.atomic():
            outcome = proposal_expire(appointment_id=appointment_id)
            if outcome.is_changed:
                appointment_notify(appointment_id=appointment_id, change="expired")
                match_referral.delay_on_commit(outcome.referral_id)


@shared_task(acks_late=True)
def match_sweep() -> None:
    """Re-queue referrals left behind: NEW ones whose match never ran (broker lost, worker
    killed), UNMATCHED ones due for another try, PROPOSED ones whose proposal vanished. A few
    are matched one by one; more than MATCH_BATCH_MIN_SIZE go to one batch. First the
    clinician-week counts are recounted, so a change that bypassed them heals. Idempotent."""
    from referrals.models import Referral
    from referrals.workflow import referral_transition

    from .selectors import proposed_referral_ids_without_live_session, referral_ids_due_for_matching
    from .services.load import clinician_weeks_recount

    now = timezone.now()
    clinician_weeks_recount(now=now)
    for referral_id in proposed_referral_ids_without_live_session():
        with transaction.atomic():
            referral = Referral.objects.select_for_update().get(pk=referral_id)
            if referral.status == Referral.Status.PROPOSED:
                referral_transition(referral, Referral.Status.NEW, reason="proposal lost")
    due = referral_ids_due_for_matching(now=now, limit=settings.MATCH_BATCH_MAX_SIZE)
    if len(due) > settings.MATCH_BATCH_MIN_SIZE:
        match_backlog.delay()
        return
    Referral.objects.filter(pk__in=due).update(match_requested_at=now)
    for referral_id in due:
        match_referral.delay(referral_id)


@shared_task(acks_late=True)
def match_backlog() -> None:
    """Assign every referral due for matching (PRIORITY ones first) as one minimum-cost batch
    and hand the proposals and newly unmatched referrals to notifications. Idempotent: a
    referral proposed meanwhile is skipped."""
    from .selectors import referral_ids_due_for_matching

    due = referral_ids_due_for_matching(now=timezone.now(), limit=settings.MATCH_BATCH_MAX_SIZE)
    if due:
        _match_batch(due)


def _match_batch(referral_ids: list[int]) -> None:
    from .services import referrals_plan_batch, referrals_propose_batch

    plan = referrals_plan_batch(referral_ids=referral_ids)
    with transaction.atomic():
        outcome = referrals_propose_batch(plan=plan)
        appointments_notify(changes=[(pk, "proposed") for pk in outcome.appointment_ids])
        for referral_id in outcome.newly_unmatched_ids:
            referral_notify(referral_id=referral_id, change="unmatched")
    logger.info(
        "batch: %s proposed, %s newly unmatched, %s skipped",
        len(outcome.appointment_ids),
        len(outcome.newly_unmatched_ids),
        outcome.skipped,
    )


@shared_task(acks_late=True)
def match_unmatched() -> None:
    """Try every UNMATCHED referral again now, as one batch: for when availability changes
    (new slots, a clinician back from leave). Idempotent."""
    from referrals.models import Referral

    Referral.objects.filter(status=Referral.Status.UNMATCHED).update(match_requested_at=None)
    match_backlog.delay()


# --- Slot materialisation -----------------------------------------------------------------
# Availability rules become bookable slots here; beat runs slots_materialise_all every six
# hours (CELERY_BEAT_SCHEDULE) so the rolling horizon moves on by itself. Matching tasks live
# above.


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
