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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    DateField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from psycopg.types.range import Range

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
    clinician_breaches,
    week_starts,
    window_intervals,
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

    def as_postgresql(self, compiler, connection, **extra):
        template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


class _IsAnyOf(Func):
    template = "(%(expressions)s))"
    arg_joiner = " = ANY("
    output_field = BooleanField()


def among(field: str, values: Iterable) -> Q | Func:
    """A filter keeping rows whose `field` is one of `values`: `= ANY(array)` on PostgreSQL,
    one parameter however many values (a batch passes ten thousand ids, and quoting each as
    its own parameter cost more than the query), IN elsewhere."""
    values = list(values)
    if connection.vendor == "postgresql":
        return _IsAnyOf(F(field), Value(values))
    return Q(**{f"{field}__in": values})


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


def referrals_locked_for_matching(*conditions, **filters):
    """Referrals with what matching reads (REFERRAL_MATCH_FIELDS), their own rows locked."""
    return (
        Referral.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("program", "episode")
        .only(*REFERRAL_MATCH_FIELDS)
        .filter(*conditions, **filters)
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
    related = Referral.objects.filter(among("pk", by_referral) | among("episode_id", episodes))
    rows = (
        Appointment.objects.filter(referral_id__in=related.values("pk"))
        .order_by("slot__starts_at", "pk")
        .values_list("referral_id", "referral__episode_id", "clinician_id", "status")
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


def _week_has_room() -> Exists:
    """The slot's clinician week is below capacity by the maintained counts (ClinicianWeek);
    the engine and the lock check it again against the appointments."""
    full = ClinicianWeek.objects.filter(
        clinician_id=OuterRef("clinician_id"),
        starts_at__lte=OuterRef("starts_at"),
        ends_at__gt=OuterRef("starts_at"),
        held__gte=OuterRef("clinician__weekly_capacity"),
    )
    return ~Exists(full)


SLOT_COLUMNS = ("pk", "clinician_id", "starts_at_s", "ends_at_s")


def slot_table(slots) -> SlotTable:
    """A SlotTable from a Slot queryset, times read as integers."""
    rows = slots.annotate(
        starts_at_s=EpochSeconds("starts_at"), ends_at_s=EpochSeconds("ends_at")
    ).values_list(*SLOT_COLUMNS)
    return SlotTable.from_epoch_rows(list(rows))


def _candidate_slots(need: Need, *, earliest: dt.datetime, clinician_ids: list[int] | None = None):
    """Open, offered times of clinicians who may see this referral, from `earliest`, earliest
    first. Windows and modality narrow it here too; capacity is left to the engine.

    With `clinician_ids` (a single match: `eligible_clinician_ids`) those clinicians stand in
    for the clinician-level rules (program, activity, districts, facilities, asked before,
    session type), which made the read twice as slow as joins; the chosen clinician is then
    checked against the rows as they are under the lock (services.matching)."""
    slots = Slot.objects.filter(
        _is_open(), _week_has_room(), is_offered=True, starts_at__gte=earliest
    )
    if clinician_ids is not None:
        slots = slots.filter(among("clinician_id", clinician_ids))
    else:
        slots = slots.filter(clinician__is_active=True, clinician__programs=need.program_id)
        if need.excluded_district_ids:
            slots = slots.exclude(clinician__districts__in=need.excluded_district_ids)
        if need.excluded_facility_ids:
            slots = slots.exclude(clinician__facilities__in=need.excluded_facility_ids)
        if need.excluded_clinician_ids:
            slots = slots.exclude(clinician_id__in=need.excluded_clinician_ids)
        if need.modality == "phone":
            slots = slots.filter(clinician__offers_phone=True)
        elif need.modality == "video":
            slots = slots.filter(clinician__offers_video=True)
    if need.windows:
        slots = slots.filter(_windows_q(need, earliest))
    return slots.order_by("starts_at", "pk")


class _WithinAnyRange(Func):
    """The slot lies wholly inside one of the ranges: one array parameter, so a referral's
    two dozen window occurrences cost the planner nothing (an OR of that many ranges took it
    longer to plan than to run)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra):
        (starts_sql, starts_params), (ends_sql, ends_params), (ranges_sql, ranges_params) = (
            compiler.compile(e) for e in self.source_expressions
        )
        sql = f"tstzrange({starts_sql}, {ends_sql}, '[]') <@ ANY({ranges_sql}::tstzrange[])"
        return sql, (*starts_params, *ends_params, *ranges_params)


def _windows_q(need: Need, earliest: dt.datetime) -> Q | Func:
    zone = ZoneInfo(need.time_zone)
    first_on = earliest.astimezone(zone).date()
    last_on = first_on + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS, days=1)
    starts, ends, _keys = window_intervals(need.time_zone, need.windows, first_on, last_on)
    bounds = [
        (dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC))
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
    if connection.vendor == "postgresql":
        # Typed ranges, not text: text cast to tstzrange[] would be parsed again for every
        # row once the statement is prepared.
        ranges = [Range(start, end, bounds="[]") for start, end in bounds]
        return _WithinAnyRange(F("starts_at"), F("ends_at"), Value(ranges))
    query = Q(pk__in=[])
    for start, end in bounds:
        query |= Q(starts_at__gte=start, ends_at__lte=end)
    return query


def candidate_page(
    need: Need, *, now: dt.datetime, after: tuple[dt.datetime, int] | None, limit: int
) -> SlotTable:
    """The next `limit` candidate times for a referral, earliest first, after `after`."""
    earliest = now + dt.timedelta(hours=need.min_notice_hours)
    slots = _candidate_slots(need, earliest=earliest, clinician_ids=eligible_clinician_ids(need))
    if after is not None:
        slots = slots.filter(Q(starts_at__gt=after[0]) | Q(starts_at=after[0], pk__gt=after[1]))
    return slot_table(slots[:limit])


def earliest_candidates(
    need: Need,
    *,
    now: dt.datetime,
    after: tuple[dt.datetime, int],
    until: dt.datetime | None,
    skip_clinician_ids: Iterable[int],
    per_clinician: int,
) -> SlotTable:
    """The first `per_clinician` candidate times of each clinician after `after` (and before
    `until`), leaving out `skip_clinician_ids`: within one clinician a later time never costs
    less, so these are all a match needs to see of the rest."""
    earliest = now + dt.timedelta(hours=need.min_notice_hours)
    slots = _candidate_slots(
        need, earliest=earliest, clinician_ids=eligible_clinician_ids(need)
    ).filter(Q(starts_at__gt=after[0]) | Q(starts_at=after[0], pk__gt=after[1]))
    if until is not None:
        slots = slots.filter(starts_at__lt=until)
    skip = list(skip_clinician_ids)
    if skip:
        slots = slots.exclude(among("clinician_id", skip))
    ranked = slots.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("clinician_id")],
            order_by=[F("starts_at").asc(), F("pk").asc()],
        )
    ).filter(rank__lte=per_clinician)
    return slot_table(ranked.order_by("starts_at", "pk"))


def clinician_candidate_slots(need: Need, clinician_id: int, *, now: dt.datetime) -> SlotTable:
    """Every candidate time of one clinician (the episode's earlier one, for continuity)."""
    earliest = now + dt.timedelta(hours=need.min_notice_hours)
    return slot_table(_candidate_slots(need, earliest=earliest).filter(clinician_id=clinician_id))


def clinician_profiles(
    clinicians, *, now: dt.datetime, start: dt.datetime, end: dt.datetime, weights: Weights
) -> dict[int, ClinicianProfile]:
    """Profiles of the clinicians in `clinicians` (a queryset or ids), with the sessions their
    weeks hold between `start` and `end` and their load over the fairness window. Three
    queries whatever their number."""
    if not hasattr(clinicians, "values_list"):
        clinicians = Clinician.objects.filter(among("pk", clinicians))
    rows = list(clinicians.values_list(*PROFILE_FIELDS))
    ids = [row[0] for row in rows]
    links = _links(ids)
    fairness_end = now + dt.timedelta(weeks=weights.fairness_weeks)
    booked = (
        Appointment.objects.filter(
            among("clinician_id", ids),
            status__in=HELD,
            slot__starts_at__gte=min(start, now),
            slot__starts_at__lt=max(end, fairness_end),
        )
        .annotate(starts_at_s=EpochSeconds("slot__starts_at"))
        .values_list("clinician_id", "starts_at_s", "status")
    )
    zone_of = {row[0]: row[7] for row in rows}
    by_week, upcoming = _held_by_week(list(booked), zone_of, now=now, fairness_end=fairness_end)
    return {
        row[0]: _profile(
            row,
            links,
            booked_by_week=dict(by_week.get(row[0], {})),
            upcoming_load=upcoming.get(row[0], 0),
        )
        for row in rows
    }


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
    The counts and the live sessions of the fairness window are one query. Neither copy can
    let a hard constraint through: the candidate SQL reads the clinicians as they are now,
    and the chosen time's week is counted again from the appointments under a lock
    (services.matching), so a count that drifted never overfills a week."""
    ids = list(clinician_ids)
    attributes = _clinician_attributes(ids)
    fairness_end = now + dt.timedelta(weeks=weights.fairness_weeks)
    weeks = ClinicianWeek.objects.filter(
        among("clinician_id", ids),
        week_start_on__gte=start.date() - dt.timedelta(days=7),
        week_start_on__lte=end.date() + dt.timedelta(days=1),
    ).values_list("clinician_id", "week_start_on", "held")
    # Counted per clinician (index lookups): grouped over all of them, PostgreSQL scanned
    # every slot.
    live_in_window = (
        Appointment.objects.filter(
            clinician_id=OuterRef("pk"),
            status__in=LIVE,
            slot__starts_at__gte=now,
            slot__starts_at__lt=fairness_end,
        )
        .order_by()
        .values("clinician_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    upcoming = (
        Clinician.objects.filter(among("pk", ids))
        .order_by()
        .annotate(week=Value(None, output_field=DateField()), count=Subquery(live_in_window))
        .values_list("pk", "week", "count")
    )
    by_week: dict[int, dict[dt.date, int]] = defaultdict(dict)
    upcoming_load: dict[int, int] = {}
    for clinician_id, monday, count in weeks.union(upcoming, all=True):
        if monday is None:
            upcoming_load[clinician_id] = count or 0
        else:
            by_week[clinician_id][monday] = count
    return {
        pk: _profile(
            row,
            links,
            booked_by_week=by_week.get(pk, {}),
            upcoming_load=upcoming_load.get(pk, 0),
        )
        for pk, (row, links) in attributes.items()
    }


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
    try:
        cache.set(CLINICIANS_VERSION_KEY, uuid.uuid4().hex, None)
    except Exception:  # the cache down must not fail a change to a clinician
        logger.warning("could not publish the clinicians' version; copies age out instead")


def _clinicians_version() -> str | None:
    """The version last published, or a new one when the cache cannot say: a worker that
    cannot tell whether clinicians changed reads them again."""
    try:
        return cache.get(CLINICIANS_VERSION_KEY)
    except Exception:
        logger.warning("could not read the clinicians' version; reading clinicians afresh")
        return uuid.uuid4().hex


def clinician_copies_forget() -> None:
    """Drop this process's copy of clinicians' attributes: read again at the next match."""
    global _copy
    _copy = _EMPTY_COPY


def _clinician_copy() -> _ClinicianCopy:
    """This process's copy, read again (two queries) when it is empty, old or out of date."""
    global _copy
    version, clock, current = _clinicians_version(), time.monotonic(), _copy
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
        copy.eligible[key] = [
            profile.clinician_id
            for profile in copy.by_program.get(kind.program_id, ())
            if not clinician_breaches(kind, profile)
        ]
    return [pk for pk in copy.eligible[key] if pk not in need.excluded_clinician_ids]


def clinician_locked(
    clinician_id: int, *, week: tuple[dt.datetime, dt.datetime]
) -> tuple[ClinicianProfile, int]:
    """Lock a clinician's row and read them as the database holds them now, with the
    sessions they hold in `week` (start, end): for checking a choice made from the copy, and
    the week's room, while no other match can fill it. The sessions are counted by a
    statement after the lock is held, so it sees what the previous holder committed."""
    row = (
        Clinician.objects.select_for_update(of=("self",))
        .filter(pk=clinician_id)
        .values_list(*PROFILE_FIELDS)
        .get()
    )
    held = Appointment.objects.filter(
        clinician_id=clinician_id,
        status__in=HELD,
        slot__starts_at__gte=week[0],
        slot__starts_at__lt=week[1],
    ).count()
    profile = _profile(row, _links([clinician_id]), booked_by_week={}, upcoming_load=0)
    return profile, held


def _held_by_week(
    booked: list[tuple[int, int, str]], zone_of: dict[int, str], *, now, fairness_end
) -> tuple[dict[int, dict[dt.date, int]], dict[int, int]]:
    """Held sessions per clinician and week (Monday in their zone), and live ones per
    clinician in the fairness window, from (clinician id, start in epoch seconds, status)."""
    by_week: dict[int, dict[dt.date, int]] = defaultdict(dict)
    upcoming: dict[int, int] = defaultdict(int)
    if not booked:
        return by_week, upcoming
    clinician = np.fromiter((b[0] for b in booked), np.int64, len(booked))
    starts = np.fromiter((b[1] for b in booked), np.int64, len(booked))
    is_live = np.fromiter((b[2] in LIVE for b in booked), bool, len(booked))
    zones = np.array([zone_of[int(c)] for c in clinician])
    in_window = is_live & (starts >= now.timestamp()) & (starts < fairness_end.timestamp())
    ids, counts = np.unique(clinician[in_window], return_counts=True)
    upcoming.update(zip(ids.tolist(), counts.tolist(), strict=True))
    for zone in np.unique(zones):
        rows = np.nonzero(zones == zone)[0]
        mondays, index = week_starts(str(zone), starts[rows])
        pairs, counts = np.unique(np.stack([clinician[rows], index]), axis=1, return_counts=True)
        for (clinician_id, week), count in zip(pairs.T.tolist(), counts.tolist(), strict=True):
            by_week[clinician_id][mondays[week]] = count
    return by_week, upcoming


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
