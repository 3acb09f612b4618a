"""Reads for matching: a referral's needs, candidate times, clinicians with their load.

Every query is decided here (joins, prefetches, the SQL pre-filter), so the number of queries a
match costs does not grow with the data. The SQL narrows candidates only by rules the pure
engine checks again; the engine has the last word.
"""

import datetime as dt
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Value,
)
from django.utils import timezone
from django.utils.functional import cached_property

from config.db import among_sql, instances_with_related, int_array, is_int_list
from referrals.limits import counted_statuses
from referrals.models import Program, Referral
from referrals.windows import WINDOW_KEYS

from .matching import (
    ClinicianProfile,
    Need,
    SlotTable,
    SlotView,
    Weights,
    check_assignment,
    epoch,
    fairness_load,
    fairness_mondays,
    offers_modality,
    week_bounds,
    week_start_on,
    week_starts,
    window_key_index,
)
from .models import Appointment, Clinician, ClinicianWeek, Slot

logger = logging.getLogger(__name__)
A = Appointment.Status
LIVE = tuple(str(s) for s in Appointment.LIVE_STATUSES)
# Sessions that used or hold an hour of the clinician's week: a week's capacity counts these,
# so a session already held on Monday still counts on Thursday.
HELD = (*LIVE, A.COMPLETED, A.NO_SHOW)
# What a ClinicianProfile is built from (`_profile`), in this order.
PROFILE_FIELDS = (
    "pk",
    "is_active",
    "gender",
    "specialty",
    "offers_phone",
    "offers_video",
    "weekly_capacity",
    "time_zone",
)
# An earlier clinician, for continuity: one the person actually met or is booked with.
CONTINUITY_STATUSES = (A.ACCEPTED, A.COMPLETED, A.NO_SHOW)
ASKED_STATUSES = (A.DECLINED, A.EXPIRED)
MATCHABLE = (Referral.Status.NEW, Referral.Status.UNMATCHED)
# What matching reads of a referral: loading only these keeps the encrypted free text (never
# needed here) from being fetched and decrypted thousands of times in a batch.
REFERRAL_MATCH_FIELDS = (
    "status",
    "priority",
    "program",
    "episode",
    "time_zone",
    "preferred_windows",
    "workplace_district",
    "employer_district",
    "workplace_facility",
    "modality",
    "clinician_gender",
    "specialty_preference",
    "specialty",
    "unmatched_reason",
    "hold_reason",
    "match_requested_at",
    "updated_at",
    "program__min_notice_hours",
    "program__priority_min_notice_hours",
    "program__session_limit",
    "program__late_cancellation_uses_session",
    "episode__session_limit",
)


class EpochSeconds(Func):
    """A datetime column as whole seconds since 1970 UTC, computed by the database: tens of
    thousands of times come back as plain integers instead of time-zone-aware datetimes."""

    output_field = BigIntegerField()

    @cached_property
    def convert_value(self):
        # Both templates CAST to an integer, which the drivers hand back as int already.
        # Django's default for an integer expression calls int() on every value: about 40 %
        # of the CPU time of reading a batch's open times.
        return self._convert_value_noop

    def as_postgresql(self, compiler, connection, **extra):
        template = EPOCH_SECONDS_TEMPLATES["postgresql"]
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = EPOCH_SECONDS_TEMPLATES["sqlite"]
        return self.as_sql(compiler, connection, template=template, **extra)


EPOCH_SECONDS_TEMPLATES = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)",
    "sqlite": "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)",
}


def _epoch_seconds_sql(column: str) -> str:
    """EpochSeconds for statements written as SQL."""
    return EPOCH_SECONDS_TEMPLATES[connection.vendor] % {"expressions": column}


class _IsAnyOf(Func):
    template = "(%(expressions)s))"
    arg_joiner = " = ANY("
    output_field = BooleanField()


class _IsAnyOfIds(_IsAnyOf):
    template = "(%(expressions)s::bigint[]))"  # the ids as one array literal (int_array)


def among(field: str, values: Iterable) -> Q | Func:
    """A filter keeping rows whose `field` is one of `values`: `= ANY(array)` on PostgreSQL,
    one parameter however many values (a batch passes ten thousand ids, and quoting each as
    its own parameter cost more than the query), IN elsewhere."""
    values = list(values)
    if connection.vendor == "postgresql":
        if is_int_list(values):
            return _IsAnyOfIds(F(field), Value(int_array(values)))
        return _IsAnyOf(F(field), Value(values))
    return Q(**{f"{field}__in": values})


def _rows(sql: str, params: Sequence) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _datetime_value(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _profile_columns(alias: str) -> str:
    """PROFILE_FIELDS as columns of the clinicians' table under `alias`, in order."""
    meta = Clinician._meta
    return ", ".join(
        f"{alias}.{(meta.pk if name == 'pk' else meta.get_field(name)).column}"
        for name in PROFILE_FIELDS
    )


@dataclass
class ReferralRow:
    """What a batch reads of a referral, as plain values with its program attached: a batch
    reads ten thousand, and building model instances (each with its own copy of one of a
    few programs) cost more than the query."""

    pk: int
    status: str
    priority: str
    program_id: int
    episode_id: int | None
    time_zone: str
    preferred_windows: list
    workplace_district_id: int | None
    employer_district_id: int | None
    workplace_facility_id: int | None
    modality: str
    clinician_gender: str
    specialty_preference: str
    specialty: str
    unmatched_reason: str
    program: Program | None = None


REFERRAL_ROW_FIELDS = tuple(f.name for f in fields(ReferralRow) if f.name != "program")


def _referral_rows(referrals) -> list[ReferralRow]:
    rows = [ReferralRow(*values) for values in referrals.values_list(*REFERRAL_ROW_FIELDS)]
    programs = Program.objects.in_bulk({row.program_id for row in rows})
    for row in rows:
        row.program = programs[row.program_id]
    return rows


def referrals_locked_for_batch(*conditions, **filters) -> list[ReferralRow]:
    """What a batch reads of the referrals, their rows locked, skipping those another worker
    holds."""
    return _referral_rows(
        Referral.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            *conditions, **filters
        )
    )


@dataclass(frozen=True)
class MatchingRead:
    """A referral locked for matching, with its history and whether a burst is waiting."""

    referral: Referral
    history: "History"
    is_burst: bool = False


def referral_locked_for_matching(
    referral_id: int, *, burst_size: int | None = None
) -> MatchingRead | None:
    """The referral with what matching reads (REFERRAL_MATCH_FIELDS), its row locked, with its
    history (`referral_histories`) and, given `burst_size`, whether at least that many
    referrals wait for a match (as referral_status_and_burst asks); None when it is gone, not
    NEW or UNMATCHED, or another transaction holds it (`referral_status` tells which). On
    PostgreSQL one statement: the history and the burst are columns of the referral's read,
    where they cost a match task two statements more. A referral that cannot be matched is
    not locked: after a burst's batches most match tasks find theirs proposed, and a lock
    would have made each of them a transaction to commit to disk."""
    if connection.vendor != "postgresql":
        found = _referral_locked(referral_id, extra=())
        if not found:
            return None
        referral = found[0]
        is_burst = burst_size is not None and _is_burst(referral_id, burst_size)
        return MatchingRead(referral, referral_histories([referral])[referral.pk], is_burst)
    extra = [("history_rows", _history_rows_sql())]
    if burst_size is not None:
        extra.append(("is_burst", _burst_sql(burst_size)))
    found = _referral_locked(referral_id, extra=tuple(extra))
    if not found:
        return None
    referral = found[0]
    history = History()
    _fold(history, referral, [tuple(row) for row in referral.history_rows])
    return MatchingRead(referral, history, bool(getattr(referral, "is_burst", False)))


def _referral_locked(referral_id: int, *, extra: tuple) -> list:
    return instances_with_related(
        Referral,
        related=("program", "episode"),
        only=REFERRAL_MATCH_FIELDS,
        where="t0.id = %s AND t0.status IN (%s, %s)",
        params=[referral_id, *MATCHABLE],
        lock=True,
        skip_locked=True,
        extra=extra,
    )


def referral_status(referral_id: int) -> str | None:
    """The referral's status, None when it is gone: one statement, unlocked."""
    rows = _rows(
        f"SELECT r.{Referral._meta.get_field('status').column} FROM {Referral._meta.db_table}"
        " AS r WHERE r.id = %s",
        [referral_id],
    )
    return rows[0][0] if rows else None


def _history_rows_sql() -> str:
    """The referral's (t0's) sessions and those of the rest of its episode as one JSON array
    of [referral, clinician, status], by start then id, as `_histories` reads them: two
    branches, each an index lookup (as one OR, PostgreSQL read every session)."""
    appointments, referrals, slots = (
        Appointment._meta.db_table,
        Referral._meta.db_table,
        Slot._meta.db_table,
    )
    return (
        "(SELECT COALESCE(json_agg(json_build_array(h.referral_id, h.clinician_id, h.status)"
        " ORDER BY h.starts_at, h.id), '[]'::json) FROM ("
        f"SELECT a.id, a.referral_id, a.clinician_id, a.status, s.starts_at FROM {appointments}"
        f" AS a INNER JOIN {slots} AS s ON s.id = a.slot_id WHERE a.referral_id = t0.id"
        " UNION ALL"
        f" SELECT a.id, a.referral_id, a.clinician_id, a.status, s.starts_at FROM {referrals}"
        f" AS e INNER JOIN {appointments} AS a ON a.referral_id = e.id"
        f" INNER JOIN {slots} AS s ON s.id = a.slot_id"
        " WHERE e.episode_id = t0.episode_id AND e.id <> t0.id) AS h)"
    )


def _is_burst(referral_id: int, burst_size: int) -> bool:
    from referrals.selectors import referral_status_and_burst

    return referral_status_and_burst(referral_id=referral_id, burst_size=burst_size)[1]


def _burst_sql(burst_size: int) -> str:
    """Whether at least `burst_size` referrals wait for a match (referral_waiting_match_idx).
    The status and the count are written in, not passed: with an OFFSET it could not see,
    PostgreSQL planned the whole read afresh at every match (0.6 ms) instead of reusing
    its plan."""
    return (
        f"EXISTS (SELECT 1 FROM {Referral._meta.db_table} AS w"
        f" WHERE w.status = '{Referral.Status.NEW.value}' AND w.match_requested_at IS NOT NULL"
        f" LIMIT 1 OFFSET {int(burst_size) - 1})"
    )


def matching_weights() -> Weights:
    """The soft-cost weights from settings."""
    return Weights(
        wait_per_hour=settings.MATCH_WEIGHT_WAIT_PER_HOUR,
        fairness=settings.MATCH_WEIGHT_FAIRNESS,
        fairness_weeks=settings.MATCH_FAIRNESS_WEEKS,
        gender=settings.MATCH_WEIGHT_GENDER,
        specialty=settings.MATCH_WEIGHT_SPECIALTY,
        continuity=settings.MATCH_WEIGHT_CONTINUITY,
        continuity_days=settings.MATCH_CONTINUITY_DAYS,
        priority_wait_factor=settings.MATCH_PRIORITY_WAIT_FACTOR,
        unmatched_penalty=settings.MATCH_UNMATCHED_PENALTY,
    )


@dataclass
class History:
    """What earlier sessions of a referral's episode mean for its next match."""

    asked_clinician_ids: set[int] = field(default_factory=set)
    previous_clinician_id: int | None = None
    sessions_held: int = 0
    has_live_proposal: bool = False


def _histories(referrals: Sequence[Referral | ReferralRow]) -> dict[int, History]:
    """One query: every appointment of the referrals and of their episodes."""
    by_referral = {r.pk: History() for r in referrals}
    episode_of = {r.pk: r.episode_id for r in referrals}
    episodes = {e for e in episode_of.values() if e is not None}
    condition, params = among_sql("r.id", by_referral)
    if episodes:  # left out when empty: an empty array too made PostgreSQL plan it every time
        episodes_of, episodes_values = among_sql("r.episode_id", episodes)
        condition, params = f"{condition} OR {episodes_of}", [*params, *episodes_values]
    # Ordered by each session's start looked up by id: joined to the slots instead, PostgreSQL
    # hashed every slot to order a batch's thousand sessions. Written as SQL: a single match
    # spent twice as long building this statement with the ORM as running it.
    rows = _rows(
        f"SELECT a.referral_id, r.episode_id, a.clinician_id, a.status"
        f" FROM {Appointment._meta.db_table} AS a"
        f" INNER JOIN {Referral._meta.db_table} AS r ON r.id = a.referral_id"
        f" WHERE {condition}"
        f" ORDER BY (SELECT s.starts_at FROM {Slot._meta.db_table} AS s WHERE s.id = a.slot_id),"
        " a.id",
        params,
    )
    of_episode: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for referral_id, episode_id, clinician_id, status in rows:
        if episode_id is not None:
            of_episode[episode_id].append((referral_id, clinician_id, status))
        elif referral_id in by_referral:
            of_episode[-referral_id].append((referral_id, clinician_id, status))
    for referral in referrals:
        key = referral.episode_id if referral.episode_id is not None else -referral.pk
        _fold(by_referral[referral.pk], referral, of_episode.get(key, []))
    return by_referral


def _fold(
    history: History, referral: Referral | ReferralRow, rows: list[tuple[int, int, str]]
) -> None:
    # A live proposal takes a session number; what else uses a session is the limits' rule.
    held = set(LIVE) | counted_statuses(
        late_cancellation_uses_session=referral.program.late_cancellation_uses_session
    )
    for referral_id, clinician_id, status in rows:
        if referral_id == referral.pk and status in ASKED_STATUSES:
            history.asked_clinician_ids.add(clinician_id)
        if referral_id == referral.pk and status in LIVE:
            history.has_live_proposal = True
        if status in held:
            history.sessions_held += 1
        if status in CONTINUITY_STATUSES:
            history.previous_clinician_id = clinician_id
    if history.previous_clinician_id in history.asked_clinician_ids:
        history.previous_clinician_id = None


def referral_histories(referrals: Sequence[Referral | ReferralRow]) -> dict[int, History]:
    """Each referral's history (declined or lapsed clinicians, earlier clinician, sessions)."""
    return _histories(referrals)


def need_of(referral: Referral | ReferralRow, history: History, *, order: int = 0) -> Need:
    """The pure engine's view of a referral. `referral.program` must be loaded."""
    program = referral.program
    is_priority = referral.priority == Referral.Priority.PRIORITY
    return Need(
        referral_id=referral.pk,
        program_id=referral.program_id,
        min_notice_hours=program.priority_min_notice_hours
        if is_priority
        else program.min_notice_hours,
        is_priority=is_priority,
        time_zone=referral.time_zone,
        windows=tuple(sorted(k for k in set(referral.preferred_windows) if k in WINDOW_KEYS)),
        excluded_district_ids=frozenset(
            d for d in (referral.workplace_district_id, referral.employer_district_id) if d
        ),
        excluded_facility_ids=frozenset(f for f in (referral.workplace_facility_id,) if f),
        excluded_clinician_ids=frozenset(history.asked_clinician_ids),
        modality=referral.modality,
        gender=referral.clinician_gender,
        specialty_preference=referral.specialty_preference,
        specialty=referral.specialty,
        previous_clinician_id=history.previous_clinician_id,
        order=order,
    )


def _is_open() -> Exists:
    return ~Exists(Appointment.objects.filter(slot=OuterRef("pk"), status__in=LIVE))


SLOT_COLUMNS = ("pk", "clinician_id", "starts_at_s", "ends_at_s")


def slot_table(slots) -> SlotTable:
    """A SlotTable from a Slot queryset, times read as integers."""
    rows = slots.annotate(
        starts_at_s=EpochSeconds("starts_at"), ends_at_s=EpochSeconds("ends_at")
    ).values_list(*SLOT_COLUMNS)
    return SlotTable.from_epoch_rows(list(rows))


def _open_mask(times: SlotTable) -> np.ndarray:
    """Which of `times` no live session holds: one statement of lookups by id in the index of
    live sessions. The times come from this process's copy of the offered times, which is
    read again whenever availability changes (`offered_times_changed`); a time withdrawn
    since the copy was read is refused under its lock (`slot_locked`) and the match goes on
    to its next option. Full weeks were left out before (`_outside_full_weeks`); the engine
    and the lock check capacity again."""
    if len(times) == 0:
        return np.zeros(0, bool)
    ids = times.slot_ids.tolist()
    if connection.vendor == "postgresql":
        held_ids = _held_ids_postgresql(ids)
    else:  # in parts: SQLite takes at most 32,766 parameters in a statement
        held_ids = [
            pk
            for part in range(0, len(ids), SQLITE_IDS_PER_STATEMENT)
            for pk in Appointment.objects.filter(
                slot_id__in=ids[part : part + SQLITE_IDS_PER_STATEMENT], status__in=LIVE
            )
            .order_by()
            .values_list("slot_id", flat=True)
        ]
    return ~np.isin(times.slot_ids, held_ids)


SQLITE_IDS_PER_STATEMENT = 10_000
# The live statuses written into the statement, as the partial index of live sessions
# (one_live_appointment_per_slot) names them: given as a parameter, PostgreSQL cannot tell
# the index covers them, and read each session's row from the table instead.
_LIVE_SQL = ", ".join(f"'{status}'" for status in LIVE)


def _held_ids_postgresql(ids: list[int]) -> list[int]:
    # Only the few held ids come back; asking about the slots' own rows too (whether still
    # offered, which the copy and the lock already see to) cost twice as long.
    sql = (
        f"SELECT a.slot_id FROM {Appointment._meta.db_table} AS a"
        f" WHERE a.slot_id = ANY(%s::bigint[]) AND a.status IN ({_LIVE_SQL})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [int_array(ids)])
        return [pk for (pk,) in cursor.fetchall()]


class CandidateTimes:
    """A single match's candidate times: open, offered times of the clinicians who may see
    the referral, from its earliest notice on, inside its windows, earliest first.

    Which times exist comes from this process's copy of the offered times
    (`_offered_times`), filtered by rules of time and clinician alone; the database is asked
    only whether the few times a read keeps are still open (`_open_mask`). Walking the
    slots table instead cost a match most of its time: PostgreSQL visited thousands of times
    to keep two hundred. The clinician-level rules come from this process's copy of the
    clinicians (`eligible_clinician_ids`); the chosen time's clinician is checked against
    their row under a lock (services.matching)."""

    def __init__(self, need: Need, *, now: dt.datetime) -> None:
        earliest = now + dt.timedelta(hours=need.min_notice_hours)
        copy = _offered_times(earliest)
        first = int(np.searchsorted(copy.times.starts_at, epoch(earliest), side="left"))
        kept = np.isin(copy.clinicians, eligible_clinician_ids(need))[copy.owner]
        kept[:first] = False
        if need.windows:
            kept &= _inside_windows(copy, need)
        self.times = _outside_full_weeks(copy.times.take(np.nonzero(kept)[0]), earliest=earliest)

    def page(self, *, limit: int) -> SlotTable:
        """The first `limit` candidates."""
        return _first_open(self.times, limit)

    def earliest_of_each(
        self,
        *,
        after: tuple[dt.datetime, int],
        until: dt.datetime | None,
        skip_clinician_ids: Iterable[int],
        per_clinician: int,
    ) -> SlotTable:
        """The first `per_clinician` candidates of each clinician after `after` (and before
        `until`), leaving out `skip_clinician_ids`, earliest first: within one clinician a
        later time never costs less, so these are all a match needs to see of the rest."""
        times = self.times
        after_s, after_id = epoch(after[0]), after[1]
        later = (times.starts_at > after_s) | (
            (times.starts_at == after_s) & (times.slot_ids > after_id)
        )
        if until is not None:
            later &= times.starts_at < epoch(until)
        later &= ~np.isin(times.clinician_ids, list(skip_clinician_ids))
        return _first_open_of_each(times.take(np.nonzero(later)[0]), per_clinician)

    def of_clinician(self, clinician_id: int) -> SlotTable:
        """Every candidate of one clinician (the episode's earlier one, for continuity)."""
        mine = self.times.take(np.nonzero(self.times.clinician_ids == clinician_id)[0])
        return mine.take(np.nonzero(_open_mask(mine))[0])


def _inside_windows(copy: "_OfferedCopy", need: Need) -> np.ndarray:
    """Which of the copy's times lie wholly inside one of the need's windows, by one mask per
    zone and window kept with the copy: combining a few masks cost a match a tenth of
    placing its candidates in its windows."""
    inside = np.zeros(len(copy.times), bool)
    for key in sorted(set(need.windows) & set(WINDOW_KEYS)):
        mask = copy.window_masks.get((need.time_zone, key))
        if mask is None:
            times = copy.times
            mask = window_key_index(need.time_zone, (key,), times.starts_at, times.ends_at) >= 0
            copy.window_masks[(need.time_zone, key)] = mask
        inside |= mask
    return inside


def _outside_full_weeks(times: SlotTable, *, earliest: dt.datetime) -> SlotTable:
    """`times` less those in a week the maintained counts (ClinicianWeek) say is full, by
    this process's copy of the full weeks (`_full_weeks`), so that however many early weeks
    are full, the times asked about next are nearly all open."""
    full = _full_weeks(earliest).weeks
    if len(full) == 0 or len(times) == 0:
        return times
    weeks = full
    # Only the times of clinicians with a full week are placed in weeks: with a few full
    # weeks among tens of thousands of candidate times, sorting them all cost more than the
    # query.
    asked = np.nonzero(np.isin(times.clinician_ids, weeks[:, 0]))[0]
    clinician_ids, starts_at = times.clinician_ids[asked], times.starts_at[asked]
    # (clinician, start) pairs sorted as one integer: each clinician as a small code, times
    # in epoch seconds below 2**33 (the year 2242).
    _ids, code = np.unique(np.concatenate([weeks[:, 0], clinician_ids]), return_inverse=True)
    week_key = code[: len(weeks)] * 2**33 + weeks[:, 1]
    order = np.argsort(week_key)
    week_key, weeks = week_key[order], weeks[order]
    time_code = code[len(weeks) :]
    # Each time's week among its own clinician's full weeks: the last one starting before it.
    position = np.searchsorted(week_key, time_code * 2**33 + starts_at, "right") - 1
    position = np.clip(position, 0, None)
    inside = (
        (weeks[position, 0] == clinician_ids)
        & (weeks[position, 1] <= starts_at)
        & (starts_at < weeks[position, 2])
    )
    kept = np.ones(len(times), bool)
    kept[asked[inside]] = False
    return times.take(np.nonzero(kept)[0])


@dataclass(frozen=True)
class _FullWeeksCopy:
    """The full weeks ending after `from_s` (epoch seconds): (clinician id, start, end) rows."""

    version: str | None
    read_at: float
    from_s: float
    weeks: np.ndarray


# Which weeks are full changes with every proposal, but a week stops being full only when a
# session is released, a capacity rises or the counts are set afresh: those publish a new
# version (`full_weeks_changed`), and so does a batch, which fills many at once. A copy that
# misses a week filled since only lets that week's times be asked about (the engine counts
# each candidate clinician's weeks afresh, and the lock counts the chosen week again); it
# never hides a week that has room. Read afresh after MATCH_FULL_WEEKS_CACHE_SECONDS too,
# and for a change made without signals, the sweeper's recount publishes a new version.
# Read for every match instead, after a batch it was most of the match's time in the
# database: thousands of full weeks.
_NO_FULL_WEEKS = _FullWeeksCopy(None, float("-inf"), float("inf"), np.zeros((0, 3), np.int64))
_full = _NO_FULL_WEEKS
FULL_WEEKS_VERSION_KEY = "scheduling:full-weeks-version"


def full_weeks_changed() -> None:
    """A week may have room again (or many weeks changed at once): every process reads the
    full weeks afresh for its next match, now and again once the change commits."""
    full_weeks_version_publish()
    transaction.on_commit(full_weeks_version_publish)


def full_weeks_version_publish() -> None:
    _version_publish(FULL_WEEKS_VERSION_KEY)


def full_weeks_forget() -> None:
    """Drop this process's copy of the full weeks: read again at the next match."""
    global _full
    _full = _NO_FULL_WEEKS


def _full_weeks(earliest: dt.datetime) -> _FullWeeksCopy:
    """This process's copy, holding every full week ending after `earliest`; read again (one
    query, by the partial index of full weeks) when it is old, out of date or starts later."""
    global _full
    version, clock = _version(FULL_WEEKS_VERSION_KEY), time.monotonic()
    if _is_current(_full, version, clock, settings.MATCH_FULL_WEEKS_CACHE_SECONDS, earliest):
        return _full
    start = min(earliest, timezone.now())
    rows = _rows(
        f"SELECT w.clinician_id, {_epoch_seconds_sql('w.starts_at')},"
        f" {_epoch_seconds_sql('w.ends_at')} FROM {ClinicianWeek._meta.db_table} AS w"
        " WHERE w.held >= w.capacity AND w.ends_at > %s",  # clinician_week_full_idx
        [_datetime_value(start)],
    )
    weeks = np.array(rows, np.int64).reshape(-1, 3)
    _full = _FullWeeksCopy(version, clock, epoch(start), weeks)
    return _full


def _first_open(times: SlotTable, limit: int) -> SlotTable:
    """The first `limit` of `times`, in their order, that are still open: the database is
    asked about a prefix with MATCH_CANDIDATE_CHECK_SPARE to spare for times taken, then
    about twice as many each round."""
    is_open = np.zeros(len(times), bool)
    checked, ask = 0, limit + settings.MATCH_CANDIDATE_CHECK_SPARE
    while is_open.sum() < limit and checked < len(times):
        part = np.arange(checked, min(checked + ask, len(times)))
        is_open[part] = _open_mask(times.take(part))
        checked, ask = checked + ask, ask * 2
    return times.take(np.nonzero(is_open)[0][:limit])


def _first_open_of_each(times: SlotTable, per_clinician: int) -> SlotTable:
    """Of each clinician in `times`, their first `per_clinician` times that are still open,
    in the order of `times`: each round asks the database about the next times of every
    clinician not yet settled, twice as many as the round before."""
    rank = _rank_within_clinician(times.clinician_ids)
    kept = np.zeros(len(times), bool)
    unsettled = np.ones(len(times), bool)
    low, high = 0, max(1, per_clinician + settings.MATCH_CANDIDATES_PER_CLINICIAN_SPARE)
    while unsettled.any():
        asked = np.nonzero(unsettled & (rank >= low) & (rank < high))[0]
        kept[asked] = _open_mask(times.take(asked))
        ids, counts = np.unique(times.clinician_ids[kept], return_counts=True)
        settled = ids[counts >= per_clinician]
        unsettled &= (rank >= high) & ~np.isin(times.clinician_ids, settled)
        low, high = high, high * 2
    kept_rank = _rank_within_clinician(np.where(kept, times.clinician_ids, -1))
    return times.take(np.nonzero(kept & (kept_rank < per_clinician))[0])


def _rank_within_clinician(clinician_ids: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions hold the same clinician."""
    count = len(clinician_ids)
    order = np.argsort(clinician_ids, kind="stable")
    grouped = clinician_ids[order]
    is_first = np.ones(count, bool)
    is_first[1:] = grouped[1:] != grouped[:-1]
    group_start = np.maximum.accumulate(np.where(is_first, np.arange(count), 0))
    rank = np.empty(count, np.int64)
    rank[order] = np.arange(count) - group_start
    return rank


@dataclass(frozen=True)
class _OfferedCopy:
    """Every time offered from `from_s` on (epoch seconds), as columns sorted by start then
    id, with the distinct clinicians and each time's index into them."""

    version: str | None
    read_at: float
    from_s: float
    times: SlotTable
    clinicians: np.ndarray
    owner: np.ndarray
    # Which times lie inside each window, by (time zone, window key): `_inside_windows`.
    window_masks: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


# Offered times change only when availability does (`slots_materialise`, or a slot saved
# one at a time). Replaced whole when they change (`offered_times_changed`) and after
# MATCH_OFFERED_TIMES_CACHE_SECONDS whatever happens, for a change made without signals. A
# copy that is behind can hide a new time until then, and never gets a gone one proposed:
# the chosen time's row is read under its lock (`slot_locked`), and a withdrawn one is
# skipped for the match's next option.
_EMPTY_OFFERED = _OfferedCopy(
    None,
    float("-inf"),
    float("inf"),
    SlotTable.from_rows([]),
    np.zeros(0, np.int64),
    np.zeros(0, np.int64),
)
_offered = _EMPTY_OFFERED
OFFERED_TIMES_VERSION_KEY = "scheduling:offered-times-version"


def offered_times_changed() -> None:
    """Slots were created, deleted, withdrawn or offered again: every process reads offered
    times afresh for its next match, now and again once the change commits."""
    offered_times_version_publish()
    transaction.on_commit(offered_times_version_publish)


def offered_times_version_publish() -> None:
    _version_publish(OFFERED_TIMES_VERSION_KEY)


def offered_times_forget() -> None:
    """Drop this process's copy of the offered times: read again at the next match."""
    global _offered
    _offered = _EMPTY_OFFERED


def _is_current(
    copy, version: str | None, clock: float, max_age: float, earliest: dt.datetime
) -> bool:
    """Whether a per-process copy (the offered times, the full weeks) may serve a match from
    `earliest` on: of the version published, younger than `max_age` seconds, and starting no
    later than `earliest`."""
    return (
        version == copy.version
        and clock - copy.read_at < max_age
        and copy.from_s <= epoch(earliest)
    )


def _offered_times(earliest: dt.datetime) -> _OfferedCopy:
    """This process's copy, holding every time offered from `earliest` on; read again (one
    query) when it is old, out of date or starts later."""
    global _offered
    version, clock = _version(OFFERED_TIMES_VERSION_KEY), time.monotonic()
    if _is_current(_offered, version, clock, settings.MATCH_OFFERED_TIMES_CACHE_SECONDS, earliest):
        return _offered
    start = min(earliest, timezone.now())
    times = slot_table(
        Slot.objects.filter(is_offered=True, starts_at__gte=start).order_by("starts_at", "pk")
    )
    clinicians, owner = np.unique(times.clinician_ids, return_inverse=True)
    _offered = _OfferedCopy(version, clock, epoch(start), times, clinicians, owner.ravel())
    return _offered


def clinician_profiles(
    clinicians, *, now: dt.datetime, start: dt.datetime, end: dt.datetime, weights: Weights
) -> dict[int, ClinicianProfile]:
    """Profiles of the clinicians in `clinicians` (a queryset or ids), with the sessions their
    weeks hold between `start` and `end` and over the fairness window. Three queries whatever
    their number."""
    if not hasattr(clinicians, "values_list"):
        clinicians = Clinician.objects.filter(among("pk", clinicians))
    rows = list(clinicians.values_list(*PROFILE_FIELDS))
    ids = [row[0] for row in rows]
    links = _links(ids)
    # Whole weeks in any zone, the fairness window's from this week's Monday on.
    margin = dt.timedelta(days=8)
    fairness_end = now + dt.timedelta(weeks=weights.fairness_weeks) + margin
    booked = (
        Appointment.objects.filter(
            among("clinician_id", ids),
            status__in=HELD,
            slot__starts_at__gte=min(start, now - margin),
            slot__starts_at__lt=max(end, fairness_end),
        )
        .annotate(starts_at_s=EpochSeconds("slot__starts_at"))
        .values_list("clinician_id", "starts_at_s")
    )
    zone_of = {row[0]: row[7] for row in rows}
    by_week = _held_by_week(list(booked), zone_of)
    profiles = {}
    for row in rows:
        weeks = dict(by_week.get(row[0], {}))
        load = fairness_load(weeks, now=now, time_zone=row[7], weeks=weights.fairness_weeks)
        profiles[row[0]] = _profile(row, links, booked_by_week=weeks, upcoming_load=load)
    return profiles


def _profile(row, links, *, booked_by_week, upcoming_load) -> ClinicianProfile:
    """A profile from a row read with PROFILE_FIELDS and the clinicians' links (`_links`)."""
    pk, is_active, gender, specialty, phone, video, capacity, time_zone = row[: len(PROFILE_FIELDS)]
    return ClinicianProfile(
        clinician_id=pk,
        program_ids=frozenset(links["program"].get(pk, ())),
        district_ids=frozenset(links["district"].get(pk, ())),
        facility_ids=frozenset(links["facility"].get(pk, ())),
        is_active=is_active,
        gender=gender,
        specialty=specialty,
        offers_phone=phone,
        offers_video=video,
        weekly_capacity=capacity,
        time_zone=time_zone,
        booked_by_week=booked_by_week,
        upcoming_load=upcoming_load,
    )


def match_profiles(
    clinician_ids: Iterable[int],
    *,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    weights: Weights,
) -> dict[int, ClinicianProfile]:
    """Profiles for a single match: like `clinician_profiles`, but each week's sessions come
    from the maintained counts (ClinicianWeek) instead of counting appointments, and the
    clinicians' attributes and links from this process's copy (`_clinician_attributes`).
    The counts give the fairness load too, so this is one query of a few rows per
    clinician. Neither copy can let a hard constraint through: the candidate SQL reads the
    clinicians as they are now, and the chosen time's week is counted again from the
    appointments under a lock (services.matching), so a count that drifted never overfills
    a week."""
    ids = list(clinician_ids)
    attributes = _clinician_attributes(ids)
    weeks_of, weeks_values = among_sql("w.clinician_id", ids)
    rows = _rows(
        f"SELECT w.clinician_id, w.week_start_on, w.held FROM {ClinicianWeek._meta.db_table} AS w"
        f" WHERE {weeks_of} AND w.week_start_on >= %s AND w.week_start_on <= %s",
        [
            *weeks_values,
            connection.ops.adapt_datefield_value(start.date() - dt.timedelta(days=7)),
            connection.ops.adapt_datefield_value(end.date() + dt.timedelta(days=1)),
        ],
    )
    by_week: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for clinician_id, monday, held in rows:
        by_week[clinician_id][monday] = held
    # fairness_load's weeks, placed once per zone instead of once per clinician.
    mondays_of: dict[str, list[dt.date]] = {}
    profiles = {}
    for pk, (row, links) in attributes.items():
        weeks = by_week.get(pk, {})
        zone = row[7]
        if zone not in mondays_of:
            mondays_of[zone] = fairness_mondays(
                now=now, time_zone=zone, weeks=weights.fairness_weeks
            )
        load = sum(weeks.get(monday, 0) for monday in mondays_of[zone]) if weeks else 0
        profiles[pk] = _profile(row, links, booked_by_week=weeks, upcoming_load=load)
    return profiles


@dataclass(frozen=True)
class _ClinicianCopy:
    """Every clinician's attributes and links as this process read them at one moment: rows
    (PROFILE_FIELDS) and links (`_links`' shape, theirs only) by id, the same clinicians as
    profiles without load by program, and the eligible ids worked out per kind of need."""

    version: str | None
    read_at: float
    attributes: dict[int, tuple] = field(default_factory=dict)
    by_program: dict[int, list[ClinicianProfile]] = field(default_factory=dict)
    eligible: dict[tuple, list[int]] = field(default_factory=dict)
    # Who is linked to each district and facility: the clinicians a referral's conflicts rule
    # out, found without asking every clinician of the program.
    in_district: dict[int, set[int]] = field(default_factory=dict)
    in_facility: dict[int, set[int]] = field(default_factory=dict)


# They change a few times a year, and reading them took a third of a match. Replaced whole
# (so a thread never sees one half built) when any clinician changes (`clinicians_changed`)
# and after MATCH_PROFILE_CACHE_SECONDS whatever happens, for a change made without signals
# (a queryset update).
_EMPTY_COPY = _ClinicianCopy(version=None, read_at=float("-inf"))
_copy = _EMPTY_COPY
CLINICIANS_VERSION_KEY = "scheduling:clinicians-version"


def clinicians_changed() -> None:
    """A clinician or their programs, districts or facilities changed: every process reads
    clinicians afresh for its next match. Now, and again once the change commits, because
    a match between the two would copy the rows as they were before it."""
    clinicians_version_publish()
    transaction.on_commit(clinicians_version_publish)


def clinicians_version_publish() -> None:
    _version_publish(CLINICIANS_VERSION_KEY)


def _version_publish(key: str) -> None:
    """A new version of a per-process copy (the clinicians, the offered times), for every
    process to see through the cache."""
    try:
        cache.set(key, uuid.uuid4().hex, None)
    except Exception:  # the cache down must not fail a change to a clinician or a slot
        logger.warning("could not publish %s; copies age out instead", key)


def _version(key: str) -> str | None:
    """The version last published (or the one pinned for this match, `versions_pinned`), or
    a new one when the cache cannot say: a worker that cannot tell whether its copy is
    current reads it again."""
    pinned = _pinned_versions.get()
    if pinned is not None:
        return pinned[key]
    try:
        return cache.get(key)
    except Exception:
        logger.warning("could not read %s; reading afresh", key)
        return uuid.uuid4().hex


VERSION_KEYS = (CLINICIANS_VERSION_KEY, OFFERED_TIMES_VERSION_KEY, FULL_WEEKS_VERSION_KEY)
_pinned_versions: ContextVar[dict[str, str | None] | None] = ContextVar(
    "matching_copy_versions", default=None
)


@contextmanager
def versions_pinned() -> Iterator[None]:
    """Within one match, ask the cache for the copies' versions once, in one round trip,
    instead of at every read of a copy (a match reads the clinicians' copy three or four
    times, and each ask cost the Django Redis cache a new client)."""
    try:
        found = cache.get_many(VERSION_KEYS)
        pinned = {key: found.get(key) for key in VERSION_KEYS}
    except Exception:
        logger.warning("could not read the copies' versions; reading afresh")
        pinned = {key: uuid.uuid4().hex for key in VERSION_KEYS}
    token = _pinned_versions.set(pinned)
    try:
        yield
    finally:
        _pinned_versions.reset(token)


def clinician_copies_forget() -> None:
    """Drop this process's copy of clinicians' attributes: read again at the next match."""
    global _copy
    _copy = _EMPTY_COPY


def _clinician_copy() -> _ClinicianCopy:
    """This process's copy, read again (two queries) when it is empty, old or out of date."""
    global _copy
    version, clock, current = _version(CLINICIANS_VERSION_KEY), time.monotonic(), _copy
    is_old = clock - current.read_at >= settings.MATCH_PROFILE_CACHE_SECONDS
    if version == current.version and not is_old and current.attributes:
        return current
    rows = list(Clinician.objects.order_by().values_list(*PROFILE_FIELDS))
    links = _links([row[0] for row in rows])
    fresh = _ClinicianCopy(version=version, read_at=clock)
    for row in rows:
        own = {kind: {row[0]: of.get(row[0], [])} for kind, of in links.items()}
        fresh.attributes[row[0]] = (row, own)
        profile = _profile(row, own, booked_by_week={}, upcoming_load=0)
        for program_id in profile.program_ids:
            fresh.by_program.setdefault(program_id, []).append(profile)
        for district_id in profile.district_ids:
            fresh.in_district.setdefault(district_id, set()).add(profile.clinician_id)
        for facility_id in profile.facility_ids:
            fresh.in_facility.setdefault(facility_id, set()).add(profile.clinician_id)
    _copy = fresh
    return fresh


def _clinician_attributes(ids: list[int]) -> dict[int, tuple]:
    """The copy's entries for `ids`; a clinician it lacks (created since, without signals)
    makes it be read again."""
    copy = _clinician_copy()
    if any(pk not in copy.attributes for pk in ids):
        clinician_copies_forget()
        copy = _clinician_copy()
    return {pk: copy.attributes[pk] for pk in ids if pk in copy.attributes}


def eligible_clinician_ids(need: Need) -> list[int]:
    """The clinicians the engine's clinician-level rules allow for this referral
    (`matching.clinician_breaches`), by this process's copy of them."""
    copy = _clinician_copy()
    # Kept per kind of need (program, conflicts, session type), of which there are as many
    # as districts and facilities allow; clinicians asked before are left out afterwards.
    kind = replace(need, excluded_clinician_ids=frozenset())
    key = (kind.program_id, kind.excluded_district_ids, kind.excluded_facility_ids, kind.modality)
    if key not in copy.eligible:
        # clinician_breaches, with the conflicts looked up by district and facility.
        conflicted = set().union(
            *(copy.in_district.get(pk, ()) for pk in kind.excluded_district_ids),
            *(copy.in_facility.get(pk, ()) for pk in kind.excluded_facility_ids),
        )
        copy.eligible[key] = [
            profile.clinician_id
            for profile in copy.by_program.get(kind.program_id, ())
            if profile.is_active
            and offers_modality(profile, kind.modality)
            and profile.clinician_id not in conflicted
        ]
    return [pk for pk in copy.eligible[key] if pk not in need.excluded_clinician_ids]


def slot_locked(slot_id: int) -> tuple[int, dt.datetime] | None:
    """Lock an offered slot's row unless another worker holds it: its clinician and start,
    or None. Taken after its clinician's (`clinician_locked`). Written as SQL, like that."""
    lock = (
        " FOR UPDATE OF s SKIP LOCKED"
        if connection.features.has_select_for_update_skip_locked
        else ""
    )
    rows = _rows(
        f"SELECT s.clinician_id, {_epoch_seconds_sql('s.starts_at')}"
        f" FROM {Slot._meta.db_table} AS s WHERE s.id = %s AND s.is_offered{lock}",
        [slot_id],
    )
    if not rows:
        return None
    ((clinician_id, starts_at_s),) = rows
    return clinician_id, dt.datetime.fromtimestamp(starts_at_s, dt.UTC)


def clinician_locked(need: Need, clinician_id: int) -> ClinicianProfile:
    """Lock a clinician's row and read them as the database holds them now, for checking a
    choice made from this process's copy: their links only as far as this referral's rules
    ask about them (its program, the districts and facilities it excludes). Taken before the
    lock on any of their times (`slot_locked`), in the order saving their availability takes
    them (`slots_materialise`), so neither waits on the other while holding what it needs.
    Written as SQL, like `held_and_taken`: every match runs both, and building them with the
    ORM cost three times as long as running them."""
    asked = (
        (Clinician.programs.through, "program_id", [need.program_id]),
        (Clinician.districts.through, "district_id", sorted(need.excluded_district_ids)),
        (Clinician.facilities.through, "facility_id", sorted(need.excluded_facility_ids)),
    )
    links, params = [], []
    for through, column, ids in asked:
        if not ids:
            links.append("NULL")
            continue
        condition, values = among_sql(f"link.{column}", ids)
        links.append(
            f"(SELECT link.{column} FROM {through._meta.db_table} AS link"
            f" WHERE link.clinician_id = c.id AND {condition} LIMIT 1)"
        )
        params += values
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update else ""
    ((*row, program_id, district_id, facility_id),) = _rows(
        f"SELECT {_profile_columns('c')}, {', '.join(links)}"
        f" FROM {Clinician._meta.db_table} AS c WHERE c.id = %s{lock}",
        [*params, clinician_id],
    )
    own = {
        "program": {clinician_id: [program_id] if program_id else []},
        "district": {clinician_id: [district_id] if district_id else []},
        "facility": {clinician_id: [facility_id] if facility_id else []},
    }
    return _profile(row, own, booked_by_week={}, upcoming_load=0)


def held_and_taken(
    clinician: ClinicianProfile, slot_id: int, *, starts_at: dt.datetime
) -> tuple[int, bool]:
    """In one statement, once the clinician's and the slot's locks are held (so it sees what
    the previous holder committed): the sessions the clinician holds in the week of
    `starts_at` (in their zone as it is now) and whether a live session holds `slot_id`."""
    zone = clinician.time_zone
    held_statuses, held_values = among_sql("a.status", HELD)
    live_statuses, live_values = among_sql("a.status", LIVE)
    ((held, is_taken),) = _rows(
        f"SELECT (SELECT COUNT(*) FROM {Appointment._meta.db_table} AS a"
        f" INNER JOIN {Slot._meta.db_table} AS s ON s.id = a.slot_id"
        f" WHERE a.clinician_id = %s AND {held_statuses}"
        " AND s.starts_at >= %s AND s.starts_at < %s),"
        f" EXISTS (SELECT 1 FROM {Appointment._meta.db_table} AS a"
        f" WHERE a.slot_id = %s AND {live_statuses})",
        [
            clinician.clinician_id,
            *held_values,
            *map(_datetime_value, week_bounds(week_start_on(starts_at, zone), zone)),
            slot_id,
            *live_values,
        ],
    )
    return held, bool(is_taken)


def _held_by_week(
    booked: list[tuple[int, int]], zone_of: dict[int, str]
) -> dict[int, dict[dt.date, int]]:
    """Held sessions per clinician and week (Monday in their zone), from (clinician id, start
    in epoch seconds)."""
    by_week: dict[int, dict[dt.date, int]] = defaultdict(dict)
    if not booked:
        return by_week
    clinician = np.fromiter((b[0] for b in booked), np.int64, len(booked))
    starts = np.fromiter((b[1] for b in booked), np.int64, len(booked))
    zones = np.array([zone_of[int(c)] for c in clinician])
    for zone in np.unique(zones):
        rows = np.nonzero(zones == zone)[0]
        mondays, index = week_starts(str(zone), starts[rows])
        pairs, counts = np.unique(np.stack([clinician[rows], index]), axis=1, return_counts=True)
        for (clinician_id, week), count in zip(pairs.T.tolist(), counts.tolist(), strict=True):
            by_week[clinician_id][mondays[week]] = count
    return by_week


def _links(ids: list[int]) -> dict[str, dict[int, list[int]]]:
    """Programs, districts and facilities of the clinicians, in one query."""
    through = [
        ("program", Clinician.programs.through, "program_id"),
        ("district", Clinician.districts.through, "district_id"),
        ("facility", Clinician.facilities.through, "facility_id"),
    ]
    queries = [
        model.objects.filter(among("clinician_id", ids))
        .annotate(kind=Value(kind))
        .values_list("kind", "clinician_id", column)
        for kind, model, column in through
    ]
    links: dict[str, dict[int, list[int]]] = {kind: defaultdict(list) for kind, _m, _c in through}
    for kind, clinician_id, other_id in queries[0].union(*queries[1:], all=True):
        links[kind][clinician_id].append(other_id)
    return links


def profile_span(slots: SlotTable, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The instants whose weeks a set of times can touch, in any zone."""
    if len(slots) == 0:
        return now, now
    first = dt.datetime.fromtimestamp(int(slots.starts_at.min()), dt.UTC)
    last = dt.datetime.fromtimestamp(int(slots.starts_at.max()), dt.UTC)
    return first - dt.timedelta(days=8), last + dt.timedelta(days=8)


def explanation_inputs(
    need: Need, *, now: dt.datetime, weights: Weights
) -> tuple[dict[int, ClinicianProfile], SlotTable]:
    """Everything needed to say which constraint left no candidate: every clinician offering
    the program and their open, offered times from now on."""
    clinicians = Clinician.objects.filter(programs=need.program_id)
    slots = Slot.objects.filter(
        _is_open(), is_offered=True, starts_at__gte=now, clinician__in=clinicians
    )
    table = slot_table(slots.order_by("starts_at", "pk"))
    start, end = profile_span(table, now)
    return clinician_profiles(clinicians, now=now, start=start, end=end, weights=weights), table


def batch_inputs(
    referrals: Sequence[ReferralRow], *, now: dt.datetime, weights: Weights
) -> tuple[list[Need], list[ClinicianProfile], SlotTable]:
    """Needs of `referrals` (program loaded), every active clinician of their programs, and
    those clinicians' open, offered times from the earliest notice on."""
    histories = _histories(referrals)
    needs = [need_of(r, histories[r.pk], order=i) for i, r in enumerate(referrals)]
    programs = {n.program_id for n in needs}
    clinicians = Clinician.objects.filter(is_active=True, programs__in=programs).distinct()
    earliest = now + dt.timedelta(hours=min((n.min_notice_hours for n in needs), default=0))
    table = slot_table(
        Slot.objects.filter(
            _is_open(), is_offered=True, starts_at__gte=earliest, clinician__in=clinicians
        )
    )
    start, end = profile_span(table, now)
    profiles = clinician_profiles(clinicians, now=now, start=start, end=end, weights=weights)
    return needs, list(profiles.values()), table


def referral_ids_due_for_matching(*, now: dt.datetime, limit: int) -> list[int]:
    """Referrals waiting for a match that the sweeper or the batch should take up, PRIORITY
    first, then oldest: NEW ones whose match was asked for long ago (lost on the way) and
    UNMATCHED ones due for another try; for PRIORITY ones both come sooner."""
    stuck = now - dt.timedelta(minutes=settings.MATCH_STUCK_AFTER_MINUTES)
    retry = now - dt.timedelta(minutes=settings.MATCH_UNMATCHED_RETRY_MINUTES)
    priority_retry = now - dt.timedelta(minutes=settings.MATCH_PRIORITY_RETRY_MINUTES)
    R = Referral.Status
    is_priority = Q(priority=Referral.Priority.PRIORITY)
    asked_long_ago = Q(match_requested_at__lte=stuck) | Q(
        match_requested_at__isnull=True, submitted_at__lte=stuck
    )
    asked_recently = Q(match_requested_at__lte=priority_retry) | Q(
        match_requested_at__isnull=True, submitted_at__lte=priority_retry
    )
    tried_long_ago = Q(match_requested_at__isnull=True) | Q(match_requested_at__lte=retry)
    due = Q(status=R.NEW) & (asked_long_ago | is_priority & asked_recently) | Q(
        status=R.UNMATCHED
    ) & (tried_long_ago | is_priority & asked_recently)
    return list(
        Referral.objects.filter(due)
        .exclude(Exists(Appointment.objects.filter(referral=OuterRef("pk"), status__in=LIVE)))
        .order_by("-priority", "submitted_at")
        .values_list("pk", flat=True)[:limit]
    )


def proposed_referral_ids_without_live_session() -> list[int]:
    """PROPOSED referrals whose proposal is gone (a lost hand-off): they need a new match."""
    return list(
        Referral.objects.filter(status=Referral.Status.PROPOSED)
        .exclude(Exists(Appointment.objects.filter(referral=OuterRef("pk"), status__in=LIVE)))
        .values_list("pk", flat=True)
    )


def due_proposal_ids(*, now: dt.datetime) -> list[int]:
    """Proposals nobody answered in time."""
    return list(
        Appointment.objects.filter(
            status__in=(A.PROPOSED, A.TENTATIVE), expires_at__lte=now
        ).values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class Breach:
    code: str
    label: str


def assignment_breaches(
    *, referral_id: int, slot_id: int, now: dt.datetime | None = None
) -> list[Breach]:
    """The hard constraints offering `slot_id` to `referral_id` would break, each with a label
    for the coordinator. An empty list means the assignment is allowed."""
    now = now or timezone.now()
    referral = Referral.objects.select_related("program").get(pk=referral_id)
    slot = Slot.objects.annotate(is_open=_is_open()).get(pk=slot_id)
    need = need_of(referral, _histories([referral])[referral.pk])
    start, end = slot.starts_at - dt.timedelta(days=8), slot.starts_at + dt.timedelta(days=8)
    profile = clinician_profiles(
        [slot.clinician_id], now=now, start=start, end=end, weights=matching_weights()
    )
    view = SlotView(
        slot.pk, slot.clinician_id, slot.starts_at, slot.ends_at, slot.is_offered, slot.is_open
    )
    return [
        Breach(str(c), label)
        for c, label in check_assignment(need, profile[slot.clinician_id], view, now=now)
    ]


def referrals_for_matching(ids: Iterable[int]) -> list[ReferralRow]:
    """What a batch reads of the referrals, in the order asked."""
    ids = list(ids)
    found = {row.pk: row for row in _referral_rows(Referral.objects.filter(among("pk", ids)))}
    return [found[pk] for pk in ids if pk in found]
