"""Matching referrals to clinicians: proposals, expiry, re-matching, batches.

Each function is one transaction. None sends anything: callers (tasks, staff views) hand what
changed to notifications inside the same transaction, so messages go out only if it commits.
"""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.collector import collector_paused
from referrals.models import Referral, ReferralEvent
from referrals.workflow import REFERRAL_TRANSITIONS, check_transition, referral_transition

from ..matching import (
    EMPTIED_POOL_REASONS,
    MatchResult,
    Need,
    NoProposal,
    Proposal,
    SlotTable,
    cheapest_possible_beyond,
    clinician_breaches,
    emptied_by,
    epoch,
    feasible_clinicians,
    latest_start_to_beat,
    match_single,
    week_bounds,
    week_start_on,
)
from ..matching_batch import assign_batch
from ..models import Appointment, AppointmentEvent, Clinician, ClinicianWeek, Slot
from ..selectors import (
    LIVE,
    MATCHABLE,
    CandidateTimes,
    History,
    ReferralRow,
    among,
    batch_inputs,
    clinician_copies_forget,
    clinician_locked,
    clinician_profiles,
    explanation_inputs,
    held_and_taken,
    match_profiles,
    matching_weights,
    need_of,
    profile_span,
    referral_histories,
    referral_locked_for_matching,
    referral_status,
    referrals_for_matching,
    referrals_locked_for_batch,
    slot_locked,
    versions_pinned,
)
from ..workflow import appointment_transition
from .bulk import insert_columns, row_insert, rows_insert
from .load import CAPACITY_NOW, clinician_week_add, clinician_weeks_adjust

logger = logging.getLogger(__name__)
A = Appointment.Status
R = Referral.Status
ATTEMPTS = 3  # rounds of options tried when other workers hold the best times


class SlotUnavailable(Exception):
    """The time is held by another session, withdrawn, or locked by another worker."""


@dataclass(frozen=True)
class MatchOutcome:
    """What a match did: the proposal made, or why none was, and whether the referral has just
    become UNMATCHED (the referrer is told once, not on every retry)."""

    referral_id: int
    appointment_id: int | None = None
    is_newly_unmatched: bool = False
    detail: str = ""
    # Another transaction holds the referral's row: a worker matching it now, or one that died
    # and whose transaction PostgreSQL has not ended yet.
    is_locked_elsewhere: bool = False
    # Asked to look for a burst, it found one: the referral is left to the batches.
    is_burst: bool = False


# --- proposals ---


def _expiry(now: dt.datetime):
    """When a proposal made now for a time starting at `starts_at` expires: after
    MATCH_PROPOSAL_EXPIRY_HOURS, or MATCH_RESPOND_BEFORE_START_HOURS before the start if
    that is sooner (the start itself if both have passed). The settings are read once, for
    a batch's thousands of proposals."""
    expiry = now + dt.timedelta(hours=settings.MATCH_PROPOSAL_EXPIRY_HOURS)
    notice = dt.timedelta(hours=settings.MATCH_RESPOND_BEFORE_START_HOURS)

    def expires_at(starts_at: dt.datetime) -> dt.datetime:
        deadline = min(expiry, starts_at - notice)
        return deadline if deadline > now else starts_at

    return expires_at


def _session_type(referral: Referral | ReferralRow, offers_phone: bool) -> str:
    """The referrer's chosen session type, or phone when the clinician offers it."""
    if referral.modality in ("phone", "video"):
        return referral.modality
    return "phone" if offers_phone else "video"


@dataclass(frozen=True)
class HeldTime:
    """The locked time a proposal will hold, with what the proposal needs of its clinician."""

    slot_id: int
    clinician_id: int
    starts_at: dt.datetime
    time_zone: str
    offers_phone: bool

    @classmethod
    def of(cls, slot: Slot) -> "HeldTime":
        """From a slot read with its clinician."""
        return cls(
            slot_id=slot.pk,
            clinician_id=slot.clinician_id,
            starts_at=slot.starts_at,
            time_zone=slot.clinician.time_zone,
            offers_phone=slot.clinician.offers_phone,
        )


def _create_proposal(
    referral: Referral,
    held: HeldTime,
    *,
    session_number: int,
    explanation: dict,
    now: dt.datetime,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "system",
    reason: str = "",
    manual_reason: str = "",
) -> int:
    """Hold the time `held` for `referral` (both locked by the caller) and record why.
    Returns the new appointment's id."""
    appointment = {
        "referral_id": referral.pk,
        "slot_id": held.slot_id,
        "clinician_id": held.clinician_id,
        "session_number": session_number,
        "modality": _session_type(referral, held.offers_phone),
        "match_explanation": explanation,
        "manual_assignment_reason": manual_reason,
        "expires_at": _expiry(now)(held.starts_at),
    }
    event = {
        "to_status": A.PROPOSED,
        "actor_id": actor.pk if actor is not None and actor.is_authenticated else None,
        "actor_label": actor_label,
        "reason": (reason or "proposed by the matcher")[:500],
    }
    if connection.vendor == "postgresql":
        check_transition(REFERRAL_TRANSITIONS, "Referral", referral.status, R.PROPOSED)
        appointment_id = _proposal_write(
            referral, held, appointment, event, actor_label=actor_label, reason=reason
        )
        if appointment_id is None:
            raise SlotUnavailable(f"slot {held.slot_id} is held by another session")
        return appointment_id
    # the one live appointment a slot may have, or a UID taken: not written, no error
    appointment_id = row_insert(Appointment, appointment, unless_conflict=True)
    if appointment_id is None:
        raise SlotUnavailable(f"slot {held.slot_id} is held by another session")
    clinician_week_add(held.clinician_id, held.starts_at, held.time_zone)
    row_insert(AppointmentEvent, {"appointment_id": appointment_id, **event})
    if referral.unmatched_reason:
        referral.unmatched_reason = ""
        referral.save(update_fields=["unmatched_reason", "updated_at"])
    referral_transition(referral, R.PROPOSED, actor=actor, actor_label=actor_label, reason=reason)
    return appointment_id


def _proposal_write(
    referral: Referral,
    held: HeldTime,
    appointment: dict,
    event: dict,
    *,
    actor_label: str,
    reason: str,
) -> int | None:
    """_create_proposal's writes on PostgreSQL as one statement instead of five (the
    appointment, its event, the week's count, the referral's status and its event), each
    after the first written only if the appointment was: a match spent more time on the
    round trips than PostgreSQL on the writes. The referral instance is updated to match."""
    quote = connection.ops.quote_name
    updated_at = timezone.now()
    referral_event = {
        "referral_id": referral.pk,
        "from_status": referral.status,
        "to_status": R.PROPOSED,
        "actor_id": event["actor_id"],
        "actor_label": actor_label,
        "reason": reason[:500],
    }
    parts, params = [], []

    def insert_after(name: str, model, values: dict, *, appointment_column: str | None = None):
        if appointment_column is not None:  # its value is the new appointment's id
            values = {appointment_column: None, **values}
        columns, values_params = insert_columns(model, values)
        selected = ["%s"] * len(values_params)
        if appointment_column is not None:
            selected[0] = "appointment.id"
            del values_params[0]
        parts.append(
            f"{name} AS (INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)})"
            f" SELECT {', '.join(selected)} FROM appointment)"
        )
        params.extend(values_params)

    columns, appointment_params = insert_columns(Appointment, appointment)
    parts.append(
        f"appointment AS (INSERT INTO {quote(Appointment._meta.db_table)} ({', '.join(columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING RETURNING id)"
    )
    params.extend(appointment_params)
    insert_after("event", AppointmentEvent, event, appointment_column="appointment_id")
    monday = week_start_on(held.starts_at, held.time_zone)
    week_start, week_end = week_bounds(monday, held.time_zone)
    weeks = quote(ClinicianWeek._meta.db_table)
    parts.append(
        f"week AS (INSERT INTO {weeks} (clinician_id, week_start_on, starts_at, ends_at, held,"
        f" capacity) SELECT %s, %s, %s, %s, 1, {CAPACITY_NOW} FROM appointment"
        " ON CONFLICT (clinician_id, week_start_on)"
        f" DO UPDATE SET held = {weeks}.held + 1, capacity = excluded.capacity)"
    )
    params += [held.clinician_id, monday, week_start, week_end, held.clinician_id]
    meta = Referral._meta
    parts.append(
        f"moved AS (UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('status').column)}"
        f" = %s, {quote(meta.get_field('unmatched_reason').column)} = %s,"
        f" {quote(meta.get_field('updated_at').column)} = %s"
        f" WHERE {quote(meta.pk.column)} = %s AND EXISTS (SELECT 1 FROM appointment))"
    )
    params += [R.PROPOSED, "", updated_at, referral.pk]
    insert_after("referral_event", ReferralEvent, referral_event)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT id FROM appointment", params)
        row = cursor.fetchone()
    if row is None:
        return None
    referral.status, referral.unmatched_reason, referral.updated_at = R.PROPOSED, "", updated_at
    return row[0]


def _session_limit(referral: Referral) -> int:
    return referral.episode.session_limit if referral.episode_id else referral.program.session_limit


@transaction.atomic
def appointment_propose(
    *,
    referral_id: int,
    slot_id: int,
    explanation: dict | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "system",
    reason: str = "",
    manual_reason: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """Create a PROPOSED appointment holding `slot_id` for the referral and move the referral
    to PROPOSED. For coordinators' manual assignments (check `assignment_breaches` first and
    pass `manual_reason`); the matcher uses the same steps. Sends nothing: the caller hands
    the appointment to notifications ("proposed"). Raises SlotUnavailable if the time is
    taken or withdrawn, IllegalTransition if the referral cannot be proposed now."""
    now = now or timezone.now()
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("program", "episode")
        .get(pk=referral_id)
    )
    check_transition(REFERRAL_TRANSITIONS, "Referral", referral.status, R.PROPOSED)
    slot = (
        Slot.objects.select_for_update(of=("self",))
        .select_related("clinician")
        .filter(pk=slot_id, is_offered=True)
        .first()
    )
    if slot is None or slot.appointments.filter(status__in=LIVE).exists():
        raise SlotUnavailable(f"slot {slot_id} is not open")
    history = referral_histories([referral])[referral.pk]
    appointment_id = _create_proposal(
        referral,
        HeldTime.of(slot),
        session_number=history.sessions_held + 1,
        explanation=explanation or {"mode": "manual"},
        now=now,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        manual_reason=manual_reason,
    )
    return Appointment.objects.get(pk=appointment_id)


# --- single match ---


def _explanation(proposal: Proposal, *, mode: str, considered: int, session: int) -> dict:
    """Why this proposal: its cost terms (the weights are the MATCH_WEIGHT_* settings)."""
    return {
        "mode": mode,
        **proposal.cost.as_explanation(),
        "considered": considered,
        "session_number": session,
    }


def _options(need: Need, *, now: dt.datetime, skipped: set[int]) -> MatchResult:
    """The best options, reading as little as exactness allows:

    1. the first page of candidates, earliest first (and every time of the episode's
       earlier clinician, for continuity); enough when it holds every candidate or nothing
       later can beat its best;
    2. otherwise, of each clinician with no feasible time yet, their first few candidate
       times after the page and before the latest start that could still beat the best (a
       clinician's later times never cost less than their earlier ones); read again, more
       of each, only for a clinician whose times read so far were all infeasible.
    """
    weights = matching_weights()
    size, now_s = settings.MATCH_CANDIDATE_PAGE_SIZE, epoch(now)
    candidates = CandidateTimes(need, now=now)
    earlier = (
        candidates.of_clinician(need.previous_clinician_id)
        if need.previous_clinician_id
        else SlotTable.from_rows([])
    )
    page = candidates.page(limit=size)
    pool = _Pool(SlotTable.from_rows([]), {})
    pool.add(page.concat(earlier), skipped, now=now, weights=weights)
    result = match_single(need, pool.profiles, pool.slots, now=now, weights=weights)
    if len(page) < size:
        return result
    after = (page.starts_at_datetime(len(page) - 1), int(page.slot_ids[-1]))
    best = result.best.cost.total if result.best else None
    if best is not None and best <= cheapest_possible_beyond(
        need, epoch(after[0]), now_s=now_s, weights=weights
    ):
        return result
    until_s = (
        latest_start_to_beat(need, best, now_s=now_s, weights=weights) if best is not None else None
    )
    per_clinician = settings.MATCH_CANDIDATES_PER_CLINICIAN
    for _read in range(settings.MATCH_CANDIDATE_MAX_PAGES - 1):
        rest = candidates.earliest_of_each(
            after=after,
            until=None if until_s is None else dt.datetime.fromtimestamp(until_s, dt.UTC),
            skip_clinician_ids=feasible_clinicians(need, pool.profiles, pool.slots, now=now),
            per_clinician=per_clinician,
        )
        pool.add(rest, skipped, now=now, weights=weights)
        result = match_single(need, pool.profiles, pool.slots, now=now, weights=weights)
        ids, counts = np.unique(rest.clinician_ids, return_counts=True)
        unsettled = set(ids[counts >= per_clinician].tolist()) - feasible_clinicians(
            need, pool.profiles, pool.slots, now=now
        )
        if not unsettled:
            break
        per_clinician *= 2
    return result


@dataclass
class _Pool:
    """What a single match has read: candidate times and their clinicians' profiles, with
    the span of weeks the profiles counted."""

    slots: SlotTable
    profiles: dict
    span: tuple[dt.datetime, dt.datetime] | None = None

    def add(self, slots: SlotTable, skipped: set[int], *, now: dt.datetime, weights) -> None:
        """Add times (less the skipped ones) and read the profiles still missing: all of them
        again when the times now reach weeks the profiles were not counted for."""
        pool = self.slots.concat(slots)
        self.slots = pool.take(np.nonzero(~np.isin(pool.slot_ids, list(skipped)))[0])
        start, end = profile_span(self.slots, now)
        if self.span is None or start < self.span[0] or end > self.span[1]:
            # Counted weeks are a few rows per clinician, so count every week a time can be
            # published in: a later read then needs only the clinicians it adds.
            horizon = now + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS, days=8)
            self.span, self.profiles = (min(start, now), max(end, horizon)), {}
        missing = set(self.slots.clinician_ids.tolist()) - set(self.profiles)
        if missing:
            self.profiles |= match_profiles(
                missing, now=now, start=self.span[0], end=self.span[1], weights=weights
            )


def _lock_free_slot(need: Need, proposal: Proposal) -> HeldTime | None:
    """Lock the proposal's clinician, then its time unless another worker holds it, and make
    sure the time is still theirs and not taken, the clinician may still see this referral as
    they are now (the choice was made from this process's copy of clinicians) and their week
    still has room (the clinician row serialises that check)."""
    clinician = clinician_locked(need, proposal.clinician_id)
    locked = slot_locked(proposal.slot_id)
    if locked is None or locked[0] != proposal.clinician_id:
        return None
    starts_at = locked[1]
    held, is_taken = held_and_taken(clinician, proposal.slot_id, starts_at=starts_at)
    if is_taken:
        return None
    if clinician_breaches(need, clinician):
        logger.info("clinician %s changed since this worker read them", proposal.clinician_id)
        clinician_copies_forget()
        return None
    if held >= clinician.weekly_capacity:
        return None
    return HeldTime(
        slot_id=proposal.slot_id,
        clinician_id=proposal.clinician_id,
        starts_at=starts_at,
        time_zone=clinician.time_zone,
        offers_phone=clinician.offers_phone,
    )


def _mark_unmatched(referral: Referral, reason: str, now: dt.datetime) -> bool:
    """Record why nobody could be offered; True when the referral has just become UNMATCHED."""
    referral.unmatched_reason = reason[:200]
    referral.match_requested_at = now
    referral.save(update_fields=["unmatched_reason", "match_requested_at", "updated_at"])
    if referral.status == R.UNMATCHED:
        return False
    referral_transition(referral, R.UNMATCHED, reason=reason)
    return True


def _hold_over_limit(referral: Referral) -> None:
    referral.hold_reason = "Session limit reached: a coordinator may extend it."
    referral.save(update_fields=["hold_reason", "updated_at"])
    referral_transition(referral, R.HELD, reason=referral.hold_reason)


# No savepoint of its own when called in a transaction (the task's, a service's): none of its
# callers goes on after it fails, and the savepoint cost every match two round trips.
@transaction.atomic(savepoint=False)
def referral_match(
    *,
    referral_id: int,
    avoid_clinician_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
    burst_size: int | None = None,
) -> MatchOutcome:
    """Propose the cheapest feasible session to a NEW or UNMATCHED referral.

    Locks the referral (skipping it if another worker has it) and the chosen slot (skipping
    slots other workers hold), so two workers never propose one slot. Creates one PROPOSED
    appointment with its cost terms and moves the referral to PROPOSED; with nothing feasible,
    moves it to UNMATCHED with the constraint that emptied the pool; past the session limit,
    holds it for a coordinator. Idempotent: a referral already proposed (or in any other
    status) is left alone. Sends nothing. Given `burst_size`, a matchable referral is left
    alone (is_burst) when at least that many referrals wait, for the batches to take.
    """
    now = now or timezone.now()
    read = referral_locked_for_matching(referral_id, burst_size=burst_size)
    if read is None:
        status = referral_status(referral_id)
        if status is None:
            return MatchOutcome(referral_id, detail="gone")
        if status in MATCHABLE:
            return MatchOutcome(referral_id, detail="locked elsewhere", is_locked_elsewhere=True)
        return MatchOutcome(referral_id, detail=f"referral is {status}")
    referral, history = read.referral, read.history
    if read.is_burst:
        return MatchOutcome(referral_id, detail="left to the batches", is_burst=True)
    if history.has_live_proposal:
        return MatchOutcome(referral_id, detail="already has a live proposal")
    if history.sessions_held >= _session_limit(referral):
        _hold_over_limit(referral)
        return MatchOutcome(referral_id, detail="session limit reached")
    history.asked_clinician_ids |= set(avoid_clinician_ids)
    need = need_of(referral, history)
    with versions_pinned():
        return _propose_best(referral, need, history, now=now)


def _propose_best(referral: Referral, need: Need, history: History, *, now) -> MatchOutcome:
    skipped: set[int] = set()
    for _attempt in range(ATTEMPTS):
        result = _options(need, now=now, skipped=skipped)
        if not result.options:
            break
        for option in result.options:
            held = _lock_free_slot(need, option)
            if held is None:
                skipped.add(option.slot_id)
                continue
            session = history.sessions_held + 1
            explanation = _explanation(
                option, mode="single", considered=result.considered, session=session
            )
            appointment_id = _create_proposal(
                referral, held, session_number=session, explanation=explanation, now=now
            )
            return MatchOutcome(referral.pk, appointment_id=appointment_id, detail="proposed")
    if skipped:
        logger.info("referral %s: every good time was taken meanwhile; left for retry", referral.pk)
        referral.match_requested_at = now
        referral.save(update_fields=["match_requested_at", "updated_at"])
        return MatchOutcome(referral.pk, detail="times taken meanwhile")
    reason = _why_none(need, now=now)
    return MatchOutcome(
        referral.pk, is_newly_unmatched=_mark_unmatched(referral, reason, now), detail=reason
    )


def _why_none(need: Need, *, now: dt.datetime) -> str:
    profiles, slots = explanation_inputs(need, now=now, weights=matching_weights())
    constraint = emptied_by(need, profiles, slots, now=now)
    return EMPTIED_POOL_REASONS.get(constraint, "No suitable time is open yet.")


# --- expiry and re-matching ---


@dataclass(frozen=True)
class ReleaseOutcome:
    appointment_id: int
    referral_id: int
    is_changed: bool


@transaction.atomic
def proposal_expire(*, appointment_id: int, now: dt.datetime | None = None) -> ReleaseOutcome:
    """Expire a proposal nobody answered by its deadline: EXPIRED (the slot is free again,
    and that clinician is not asked again for this referral) and the referral back to NEW.
    Idempotent; skips a proposal another worker is handling. The caller notifies
    ("expired") and queues the new match."""
    now = now or timezone.now()
    appointment = (
        Appointment.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=appointment_id, status__in=(A.PROPOSED, A.TENTATIVE), expires_at__lte=now)
        .first()
    )
    if appointment is None:
        return ReleaseOutcome(appointment_id, 0, False)
    referral = Referral.objects.select_for_update().get(pk=appointment.referral_id)
    appointment_transition(appointment, A.EXPIRED, reason="no answer by the deadline")
    if referral.status in (R.PROPOSED, R.BOOKED):
        referral.match_requested_at = now
        referral.save(update_fields=["match_requested_at", "updated_at"])
        referral_transition(referral, R.NEW, reason="proposal expired")
    return ReleaseOutcome(appointment.pk, referral.pk, True)


@dataclass(frozen=True)
class RematchOutcome:
    cancelled_appointment_id: int | None
    match: MatchOutcome


@transaction.atomic
def referral_rematch(
    *,
    referral_id: int,
    actor: AbstractBaseUser | None,
    actor_label: str,
    reason: str,
    avoid_current_clinician: bool = False,
    now: dt.datetime | None = None,
) -> RematchOutcome:
    """A coordinator's re-match: withdraw the referral's unanswered proposal, if any
    (CANCELLED, the slot is free), and match it again now, optionally avoiding that
    clinician this time. Sends nothing: the caller notifies "cancelled" for the withdrawn
    proposal and "proposed" or "unmatched" for the result."""
    now = now or timezone.now()
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    live = (
        Appointment.objects.select_for_update(of=("self",))
        .filter(referral=referral, status__in=(A.PROPOSED, A.TENTATIVE))
        .first()
    )
    avoid = []
    if live is not None:
        appointment_transition(
            live, A.CANCELLED, actor=actor, actor_label=actor_label, reason=reason
        )
        avoid = [live.clinician_id] if avoid_current_clinician else []
    if referral.status == R.PROPOSED:
        referral_transition(referral, R.NEW, actor=actor, actor_label=actor_label, reason=reason)
    match = referral_match(referral_id=referral.pk, avoid_clinician_ids=avoid, now=now)
    return RematchOutcome(live.pk if live else None, match)


def referral_request_match(*, referral_id: int, now: dt.datetime | None = None) -> None:
    """Stamp when a match was asked for, so the sweeper knows how long it has waited."""
    Referral.objects.filter(pk=referral_id).update(
        match_requested_at=now or timezone.now(), updated_at=timezone.now()
    )


# --- batches ---


@dataclass(frozen=True)
class BatchPlan:
    """A solved batch, not yet written: what to propose and who is left unmatched."""

    now: dt.datetime
    proposals: tuple[Proposal, ...]
    unmatched: tuple[NoProposal, ...]
    total_cost: int


@dataclass(frozen=True)
class BatchOutcome:
    appointment_ids: tuple[int, ...]
    newly_unmatched_ids: tuple[int, ...]
    skipped: int


def referrals_plan_batch(
    *, referral_ids: Sequence[int], now: dt.datetime | None = None
) -> BatchPlan:
    """Read and solve a batch (no writes, no locks): the minimum-cost assignment of the NEW and
    UNMATCHED referrals among `referral_ids`, PRIORITY ones first."""
    now = now or timezone.now()
    weights = matching_weights()
    with collector_paused():
        referrals = [r for r in referrals_for_matching(referral_ids) if r.status in MATCHABLE]
        needs, profiles, slots = batch_inputs(referrals, now=now, weights=weights)
        result = assign_batch(needs, profiles, slots, now=now, weights=weights)
    return BatchPlan(now, result.proposals, result.unmatched, result.total_cost)


@collector_paused()
@transaction.atomic
def referrals_propose_batch(*, plan: BatchPlan) -> BatchOutcome:
    """Write a solved batch: one PROPOSED appointment per proposal, referrals to PROPOSED, and
    the unmatched ones to UNMATCHED with their reason. Referrals, slots and clinician weeks
    are locked and checked again first; a proposal that no longer fits (another worker was
    faster) is skipped and left for the next run. Sends nothing."""
    now = plan.now
    wanted = {p.referral_id for p in plan.proposals} | {u.referral_id for u in plan.unmatched}
    referrals = {
        r.pk: r
        for r in referrals_locked_for_batch(
            among("pk", wanted),
            ~Exists(Appointment.objects.filter(referral=OuterRef("pk"), status__in=LIVE)),
            status__in=MATCHABLE,
        )
    }
    proposals = [p for p in plan.proposals if p.referral_id in referrals]
    # Clinicians before their times, as a single match and saving availability lock them.
    _clinicians_locked({p.clinician_id for p in proposals})
    free = set(
        Slot.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(among("pk", [p.slot_id for p in proposals]), is_offered=True)
        .exclude(appointments__status__in=LIVE)
        .values_list("pk", flat=True)
    )
    proposals = _within_capacity([p for p in proposals if p.slot_id in free])
    histories = referral_histories(list(referrals.values()))
    appointment_ids = _write_proposals(proposals, referrals, histories, now=now)
    unmatched = [u for u in plan.unmatched if u.referral_id in referrals]
    newly = _write_unmatched(unmatched, referrals, now=now)
    skipped = len(plan.proposals) - len(proposals)
    return BatchOutcome(tuple(appointment_ids), tuple(newly), skipped)


def _clinicians_locked(ids: set[int]) -> None:
    """Lock the clinicians' rows, in id order."""
    locked = Clinician.objects.select_for_update().filter(among("pk", sorted(ids))).order_by("pk")
    list(locked.values_list("pk"))


def _within_capacity(proposals: list[Proposal]) -> list[Proposal]:
    """The proposals the clinicians' weeks (locked by the caller) still have room for,
    counting what is held now."""
    if not proposals:
        return []
    ids = sorted({p.clinician_id for p in proposals})
    first = min(p.starts_at for p in proposals) - dt.timedelta(days=8)
    last = max(p.starts_at for p in proposals) + dt.timedelta(days=8)
    weights = matching_weights()
    profiles = clinician_profiles(ids, now=first, start=first, end=last, weights=weights)
    booked: dict[tuple[int, dt.date], int] = defaultdict(int)
    kept = []
    for proposal in proposals:
        profile = profiles[proposal.clinician_id]
        week = week_start_on(proposal.starts_at, profile.time_zone)
        held = profile.booked_by_week.get(week, 0) + booked[(proposal.clinician_id, week)]
        if held < profile.weekly_capacity:
            booked[(proposal.clinician_id, week)] += 1
            kept.append(proposal)
    return kept


def _write_proposals(proposals, referrals, histories, *, now) -> list[int]:
    """The appointments, their first events, the referrals moved to PROPOSED and the
    clinician weeks counted: a few statements however many proposals."""
    clinicians = Clinician.objects.filter(among("pk", {p.clinician_id for p in proposals}))
    offers_phone = dict(clinicians.values_list("pk", "offers_phone"))
    rows = []
    expires = _expiry(now)
    for p in proposals:
        session = histories[p.referral_id].sessions_held + 1
        explanation = _explanation(p, mode="batch", considered=0, session=session)
        modality = _session_type(referrals[p.referral_id], offers_phone[p.clinician_id])
        expires_at = expires(p.starts_at)
        rows.append(
            (p.referral_id, p.slot_id, p.clinician_id, session, modality, explanation, expires_at)
        )
    fields = (
        "referral_id",
        "slot_id",
        "clinician_id",
        "session_number",
        "modality",
        "match_explanation",
        "expires_at",
    )
    ids = rows_insert(Appointment, fields, rows, with_ids=True)
    rows_insert(
        AppointmentEvent,
        ("appointment_id", "from_status", "to_status", "actor_label", "reason"),
        [(pk, "", A.PROPOSED, "system", "batch match") for pk in ids],
        with_ids=False,
    )
    clinician_weeks_adjust(slot_ids=[p.slot_id for p in proposals], delta=1)
    _bulk_transition(
        [referrals[p.referral_id] for p in proposals], R.PROPOSED, "batch match", now=now
    )
    return ids


def _write_unmatched(unmatched: list[NoProposal], referrals, *, now) -> list[int]:
    by_reason: dict[str, list[int]] = defaultdict(list)
    for item in unmatched:
        by_reason[item.reason[:200]].append(item.referral_id)
    for reason, ids in by_reason.items():
        Referral.objects.filter(among("pk", ids)).update(
            unmatched_reason=reason, match_requested_at=now, updated_at=now
        )
    newly = [
        referrals[u.referral_id] for u in unmatched if referrals[u.referral_id].status == R.NEW
    ]
    reasons = {u.referral_id: u.reason[:200] for u in unmatched}
    for referral in newly:
        referral.unmatched_reason = reasons[referral.pk]
    _bulk_transition(newly, R.UNMATCHED, "no feasible time in the batch", now=now)
    return [r.pk for r in newly]


def _bulk_transition(referrals: list[ReferralRow], to_status: str, reason: str, *, now) -> None:
    """referral_transition for many referrals: their events, and one UPDATE (which also
    clears the unmatched reason of referrals now proposed)."""
    for referral in referrals:
        check_transition(REFERRAL_TRANSITIONS, "Referral", referral.status, to_status)
    rows_insert(
        ReferralEvent,
        ("referral_id", "from_status", "to_status", "actor_label", "reason"),
        [
            (
                r.pk,
                r.status,
                to_status,
                "system",
                (r.unmatched_reason if to_status == R.UNMATCHED else reason)[:500],
            )
            for r in referrals
        ],
        with_ids=False,
    )
    changes = {"status": to_status, "updated_at": timezone.now()}
    if to_status == R.PROPOSED:
        changes["unmatched_reason"] = ""
    Referral.objects.filter(among("pk", [r.pk for r in referrals])).update(**changes)
    for referral in referrals:
        referral.status = to_status
