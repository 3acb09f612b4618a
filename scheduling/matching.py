"""The matching engine: which clinician and time to offer a referral, and why.

Pure: dataclasses and numpy arrays in, a ranked proposal or the constraint that emptied the pool
out. No ORM, no I/O. `scheduling.matching_batch` assigns many referrals at once with the same
constraints and costs.

Hard constraints (never broken): the clinician offers the program and is active; works in none of
the referrer's districts (workplace, employer) and at no facility they named; has not declined or
let a proposal for this referral expire; offers the session type the referrer chose. The time is
offered and not held by another session, at least the program's minimum notice ahead (the shorter
priority notice for PRIORITY cases), wholly inside one of the referrer's preferred windows in the
referrer's own time zone (no windows: any time), and in a week (Monday to Sunday in the
clinician's zone) where the clinician is below their weekly capacity.

Soft cost, in points: one point is one hour of waiting at weight 1 (slots are hourly), and each
weight is stated in hours of waiting (settings MATCH_WEIGHT_*); every term is rounded to a point:
- wait: minutes from now to the start, times the wait weight (times the priority factor);
- fairness: the fairness weight times the clinician's load, their live sessions in the next
  MATCH_FAIRNESS_WEEKS weeks relative to their capacity for those weeks (capped at 1);
- preferences: gender and specialty are stated preferences, so they are soft: each one the
  clinician does not meet costs its weight (modality is the exception: it is hard, because a
  person who asked for phone may have no private place for video);
- continuity: for a later session of an episode, every time costs the continuity weight except
  the earlier clinician's times within MATCH_CONTINUITY_DAYS, so the same clinician is kept when
  they can see the person soon enough.
"""

import datetime as dt
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from referrals.windows import PARTS_OF_DAY, WEEKDAYS, WINDOW_KEYS, is_within_windows

ANY = "any"
POINTS_PER_HOUR = 1


class Constraint(enum.StrEnum):
    """The hard constraints, in the order the pool of candidates is narrowed by them."""

    PROGRAM = "program"
    INACTIVE = "inactive"
    DISTRICT = "district"
    FACILITY = "facility"
    ALREADY_ASKED = "already_asked"
    MODALITY = "modality"
    NOT_OFFERED = "not_offered"
    TAKEN = "taken"
    NOTICE = "notice"
    WINDOWS = "windows"
    CAPACITY = "capacity"


CLINICIAN_CONSTRAINTS = (
    Constraint.PROGRAM,
    Constraint.INACTIVE,
    Constraint.DISTRICT,
    Constraint.FACILITY,
    Constraint.ALREADY_ASKED,
    Constraint.MODALITY,
)

# What a coordinator reads when a manual assignment would break a constraint.
BREACH_LABELS = {
    Constraint.PROGRAM: "The clinician does not offer this program.",
    Constraint.INACTIVE: "The clinician is not active.",
    Constraint.DISTRICT: "The clinician works in the referrer's district (conflict of interest).",
    Constraint.FACILITY: "The clinician works at the facility the referrer named "
    "(conflict of interest).",
    Constraint.ALREADY_ASKED: "The clinician declined or let a proposal for this referral expire.",
    Constraint.MODALITY: "The clinician does not offer the session type the referrer chose.",
    Constraint.NOT_OFFERED: "The time is no longer offered.",
    Constraint.TAKEN: "The time is already held by another session.",
    Constraint.NOTICE: "The time is sooner than the program's minimum notice.",
    Constraint.WINDOWS: "The time is outside the referrer's preferred times.",
    Constraint.CAPACITY: "The clinician's week is already at capacity.",
}

# Why nobody could be offered: the constraint that left no candidate (Referral.unmatched_reason).
EMPTIED_POOL_REASONS = {
    Constraint.PROGRAM: "No clinician offers this program yet.",
    Constraint.INACTIVE: "No clinician offering this program is taking sessions at the moment.",
    Constraint.DISTRICT: "Every available clinician works in the referrer's own district.",
    Constraint.FACILITY: "Every available clinician works at the facility the referrer named.",
    Constraint.ALREADY_ASKED: "Every suitable clinician has already been asked for this referral.",
    Constraint.MODALITY: "No suitable clinician offers the session type the referrer chose.",
    Constraint.NOT_OFFERED: "No suitable clinician has published any times.",
    Constraint.TAKEN: "No suitable clinician has an open time.",
    Constraint.NOTICE: "Every open time is sooner than the program's minimum notice.",
    Constraint.WINDOWS: "No open time falls inside the referrer's preferred times.",
    Constraint.CAPACITY: "Every suitable clinician is fully booked in the weeks that fit.",
}
CONTENDED_REASON = "Every suitable time was offered to another referral in this round."


@dataclass(frozen=True, slots=True)
class Weights:
    """The soft-cost weights, each in hours of waiting (see the module docstring)."""

    wait_per_hour: float = 1.0
    fairness: float = 24.0
    fairness_weeks: int = 4
    gender: float = 72.0
    specialty: float = 48.0
    continuity: float = 500.0
    continuity_days: int = 14
    priority_wait_factor: float = 3.0
    unmatched_penalty: float = 10000.0


@dataclass(frozen=True, slots=True)
class Need:
    """What one referral needs. `min_notice_hours` is already the priority notice if it applies;
    the excluded sets hold the referrer's districts and facilities and the clinicians who
    declined or let a proposal for it expire."""

    referral_id: int
    program_id: int
    min_notice_hours: int
    is_priority: bool = False
    time_zone: str = "Australia/Sydney"
    windows: tuple[str, ...] = ()
    excluded_district_ids: frozenset[int] = frozenset()
    excluded_facility_ids: frozenset[int] = frozenset()
    excluded_clinician_ids: frozenset[int] = frozenset()
    modality: str = ANY
    gender: str = ANY
    specialty_preference: str = ANY
    specialty: str = ""
    previous_clinician_id: int | None = None
    order: int = 0


@dataclass(frozen=True, slots=True)
class ClinicianProfile:
    """A clinician's attributes and current load. `booked_by_week` maps the Monday of a week (in
    the clinician's zone) to the sessions that week already holds; `upcoming_load` is what
    their weeks of the fairness window hold (`fairness_load`)."""

    clinician_id: int
    program_ids: frozenset[int]
    district_ids: frozenset[int] = frozenset()
    facility_ids: frozenset[int] = frozenset()
    is_active: bool = True
    gender: str = ""
    specialty: str = ""
    offers_phone: bool = True
    offers_video: bool = True
    weekly_capacity: int = 5
    time_zone: str = "Australia/Sydney"
    booked_by_week: Mapping[dt.date, int] = field(default_factory=dict)
    upcoming_load: int = 0
    last_booked_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SlotView:
    """One concrete time, for checking a single assignment."""

    slot_id: int
    clinician_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    is_offered: bool = True
    is_open: bool = True


@dataclass(frozen=True)
class SlotTable:
    """Candidate times as columns: offered and held by no live session. Times are UTC epoch
    seconds."""

    slot_ids: np.ndarray
    clinician_ids: np.ndarray
    starts_at: np.ndarray
    ends_at: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, dt.datetime, dt.datetime]]) -> "SlotTable":
        rows = list(rows)
        return cls(
            np.fromiter((r[0] for r in rows), np.int64, len(rows)),
            np.fromiter((r[1] for r in rows), np.int64, len(rows)),
            np.fromiter((int(r[2].timestamp()) for r in rows), np.int64, len(rows)),
            np.fromiter((int(r[3].timestamp()) for r in rows), np.int64, len(rows)),
        )

    @classmethod
    def from_epoch_rows(cls, rows: Sequence[tuple[int, int, int, int]]) -> "SlotTable":
        """From (slot id, clinician id, start, end) rows with times in epoch seconds."""
        if not rows:
            return cls.from_rows([])
        return cls(*np.array(rows, np.int64).T.copy())

    def __len__(self) -> int:
        return len(self.slot_ids)

    def take(self, index: np.ndarray) -> "SlotTable":
        columns = (self.slot_ids, self.clinician_ids, self.starts_at, self.ends_at)
        return SlotTable(*(column[index] for column in columns))

    def concat(self, other: "SlotTable") -> "SlotTable":
        keep = ~np.isin(other.slot_ids, self.slot_ids)
        return SlotTable(
            np.concatenate([self.slot_ids, other.slot_ids[keep]]),
            np.concatenate([self.clinician_ids, other.clinician_ids[keep]]),
            np.concatenate([self.starts_at, other.starts_at[keep]]),
            np.concatenate([self.ends_at, other.ends_at[keep]]),
        )

    def starts_at_datetime(self, index: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self.starts_at[index]), dt.UTC)


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """A proposal's soft cost by term, in points (one point = one hour of waiting at weight 1)."""

    wait: int
    fairness: int
    preferences: int
    continuity: int
    wait_minutes: int = 0
    load_ratio: float = 0.0
    unmet_preferences: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.wait + self.fairness + self.preferences + self.continuity

    def as_explanation(self) -> dict:
        """The terms as stored in Appointment.match_explanation (no personal data)."""
        return {
            "cost": self.total,
            "terms": {
                "wait": self.wait,
                "fairness": self.fairness,
                "preferences": self.preferences,
                "continuity": self.continuity,
            },
            "wait_hours": round(self.wait_minutes / 60, 1),
            "load_ratio": round(self.load_ratio, 3),
            "unmet_preferences": list(self.unmet_preferences),
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    referral_id: int
    slot_id: int
    clinician_id: int
    starts_at: dt.datetime
    cost: CostBreakdown


@dataclass(frozen=True, slots=True)
class NoProposal:
    referral_id: int
    constraint: Constraint | None
    reason: str


@dataclass(frozen=True)
class MatchResult:
    """The feasible options, best first (several, so a caller can fall back when another worker
    holds the best), or why there are none."""

    options: tuple[Proposal, ...]
    considered: int
    no_proposal: NoProposal | None = None

    @property
    def best(self) -> Proposal | None:
        return self.options[0] if self.options else None


# --- Scalar rules: one assignment at a time (coordinators' checks, tests, explanations) ---


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def week_start_on(moment: dt.datetime, time_zone: str) -> dt.date:
    """The Monday of the week `moment` falls in, in `time_zone`."""
    local = moment.astimezone(ZoneInfo(time_zone)).date()
    return local - dt.timedelta(days=local.weekday())


def week_bounds(monday: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants, in UTC, that a clinician's week starts and ends: Monday midnight and the
    next, in their zone."""
    zone = ZoneInfo(time_zone)
    starts_at = dt.datetime.combine(monday, dt.time(), zone).astimezone(dt.UTC)
    ends_at = dt.datetime.combine(monday + dt.timedelta(weeks=1), dt.time(), zone)
    return starts_at, ends_at.astimezone(dt.UTC)


def offers_modality(clinician: ClinicianProfile, modality: str) -> bool:
    if modality == "phone":
        return clinician.offers_phone
    if modality == "video":
        return clinician.offers_video
    return clinician.offers_phone or clinician.offers_video


def clinician_breaches(need: Need, clinician: ClinicianProfile) -> list[Constraint]:
    """The clinician-level hard constraints this clinician breaks for this referral, in the
    order of CLINICIAN_CONSTRAINTS. (A tuple, not a dict: a single match asks this of every
    clinician of the program, and building a dict each time took half its time.)"""
    is_broken = (
        need.program_id not in clinician.program_ids,
        not clinician.is_active,
        not clinician.district_ids.isdisjoint(need.excluded_district_ids),
        not clinician.facility_ids.isdisjoint(need.excluded_facility_ids),
        clinician.clinician_id in need.excluded_clinician_ids,
        not offers_modality(clinician, need.modality),
    )
    if not any(is_broken):
        return []  # the usual answer, without building the list below
    return [
        constraint
        for constraint, broken in zip(CLINICIAN_CONSTRAINTS, is_broken, strict=True)
        if broken
    ]


def breached_constraints(
    need: Need, clinician: ClinicianProfile, slot: SlotView, *, now: dt.datetime
) -> list[Constraint]:
    """Every hard constraint that offering `slot` with `clinician` would break, in order.

    `clinician.booked_by_week` must not count the assignment being checked.
    """
    breaches = clinician_breaches(need, clinician)
    zone = ZoneInfo(need.time_zone)
    week = week_start_on(slot.starts_at, clinician.time_zone)
    checks = {
        Constraint.NOT_OFFERED: not slot.is_offered,
        Constraint.TAKEN: not slot.is_open,
        Constraint.NOTICE: epoch(slot.starts_at) < epoch(now) + need.min_notice_hours * 3600,
        Constraint.WINDOWS: not is_within_windows(
            slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone), list(need.windows)
        ),
        Constraint.CAPACITY: clinician.booked_by_week.get(week, 0) >= clinician.weekly_capacity,
    }
    return breaches + [constraint for constraint, is_broken in checks.items() if is_broken]


def wait_factor(need: Need, weights: Weights) -> float:
    return weights.wait_per_hour * (weights.priority_wait_factor if need.is_priority else 1.0)


def wait_points(factor: float, minutes):
    """The wait term before rounding, for an int or an array of minutes; scalar and vector
    code round this same value, so they agree to the point."""
    return factor * minutes / 60 * POINTS_PER_HOUR


def unmatched_points(need: Need, weights: Weights) -> int:
    factor = weights.priority_wait_factor if need.is_priority else 1.0
    return round(weights.unmatched_penalty * POINTS_PER_HOUR * factor)


def fairness_load(
    booked_by_week: Mapping[dt.date, int], *, now: dt.datetime, time_zone: str, weeks: int
) -> int:
    """The sessions a clinician's weeks hold from this week (in their zone) for `weeks`
    weeks: the load fairness weighs against their capacity for those weeks. Counted per week,
    as capacity is, so the counts a single match keeps per week (ClinicianWeek) give it
    without counting sessions."""
    mondays = fairness_mondays(now=now, time_zone=time_zone, weeks=weeks)
    return sum(booked_by_week.get(monday, 0) for monday in mondays)


def fairness_mondays(*, now: dt.datetime, time_zone: str, weeks: int) -> list[dt.date]:
    """The Mondays of the weeks `fairness_load` counts, from this week's on."""
    first = week_start_on(now, time_zone)
    return [first + dt.timedelta(weeks=w) for w in range(weeks)]


def load_ratio(clinician: ClinicianProfile, weights: Weights) -> float:
    capacity = clinician.weekly_capacity * weights.fairness_weeks
    return min(1.0, clinician.upcoming_load / capacity) if capacity > 0 else 1.0


def fairness_points(clinician: ClinicianProfile, weights: Weights) -> int:
    return round(weights.fairness * POINTS_PER_HOUR * load_ratio(clinician, weights))


def _same_specialty(first: str, second: str) -> bool:
    return first.strip().casefold() == second.strip().casefold()


def unmet_preferences(need: Need, gender: str, specialty: str) -> tuple[str, ...]:
    """Which stated preferences a clinician with this gender and specialty does not meet."""
    unmet = []
    if need.gender != ANY and gender != need.gender:
        unmet.append("gender")
    if need.specialty and need.specialty_preference != ANY:
        is_same = _same_specialty(specialty, need.specialty)
        if is_same != (need.specialty_preference == "same"):
            unmet.append("specialty")
    return tuple(unmet)


def preference_points(need: Need, gender: str, specialty: str, weights: Weights) -> int:
    unmet = unmet_preferences(need, gender, specialty)
    points = {"gender": weights.gender, "specialty": weights.specialty}
    return sum(round(points[name] * POINTS_PER_HOUR) for name in unmet)


def continuity_points(
    need: Need, clinician_id: int, starts_at_s: int, now_s: int, weights: Weights
) -> int:
    if need.previous_clinician_id is None:
        return 0
    is_kept = (
        clinician_id == need.previous_clinician_id
        and starts_at_s < now_s + weights.continuity_days * 86400
    )
    return 0 if is_kept else round(weights.continuity * POINTS_PER_HOUR)


def slot_cost(
    need: Need,
    clinician: ClinicianProfile,
    starts_at: dt.datetime,
    *,
    now: dt.datetime,
    weights: Weights,
) -> CostBreakdown:
    """The soft cost of offering `starts_at` with `clinician`, term by term."""
    now_s, start_s = epoch(now), epoch(starts_at)
    minutes = (start_s - now_s) // 60
    return CostBreakdown(
        wait=round(wait_points(wait_factor(need, weights), minutes)),
        fairness=fairness_points(clinician, weights),
        preferences=preference_points(need, clinician.gender, clinician.specialty, weights),
        continuity=continuity_points(need, clinician.clinician_id, start_s, now_s, weights),
        wait_minutes=minutes,
        load_ratio=load_ratio(clinician, weights),
        unmet_preferences=unmet_preferences(need, clinician.gender, clinician.specialty),
    )


# --- Vectorised rules over a SlotTable ---


@functools.lru_cache(maxsize=4096)
def window_intervals(
    time_zone: str, keys: tuple[str, ...], first_on: dt.date, last_on: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each occurrence of the windows `keys` between two local dates, as sorted UTC epoch
    starts, ends and the index of its key in WINDOW_KEYS."""
    zone = ZoneInfo(time_zone)
    by_weekday: dict[int, list[tuple[int, dt.time, dt.time]]] = {}
    for key in keys:
        day, _, part = key.partition("-")
        start, end, _label = PARTS_OF_DAY[part]
        by_weekday.setdefault(WEEKDAYS.index(day), []).append((WINDOW_KEYS.index(key), start, end))
    starts, ends, key_index = [], [], []
    day = first_on
    while day <= last_on:
        for index, start, end in sorted(by_weekday.get(day.weekday(), ()), key=lambda w: w[1]):
            starts.append(int(dt.datetime.combine(day, start, zone).timestamp()))
            ends.append(int(dt.datetime.combine(day, end, zone).timestamp()))
            key_index.append(index)
        day += dt.timedelta(days=1)
    return np.array(starts, np.int64), np.array(ends, np.int64), np.array(key_index, np.int64)


def _local_span(time_zone: str, starts: np.ndarray, ends: np.ndarray) -> tuple[dt.date, dt.date]:
    zone = ZoneInfo(time_zone)
    first = dt.datetime.fromtimestamp(int(starts.min()), zone).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(int(ends.max()), zone).date() + dt.timedelta(days=1)
    return first, last


def window_key_index(
    time_zone: str, keys: tuple[str, ...], starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """For each time, the index in WINDOW_KEYS of the window among `keys` (in `time_zone`)
    that wholly contains it, or -1."""
    if len(starts) == 0:
        return np.zeros(0, np.int64)
    iv_starts, iv_ends, iv_keys = window_intervals(
        time_zone, keys, *_local_span(time_zone, starts, ends)
    )
    if len(iv_starts) == 0:
        return np.full(len(starts), -1, np.int64)
    position = np.clip(np.searchsorted(iv_starts, starts, side="right") - 1, 0, None)
    inside = (starts >= iv_starts[position]) & (ends <= iv_ends[position])
    return np.where(inside, iv_keys[position], -1)


def windows_mask(need: Need, slots: SlotTable) -> np.ndarray:
    if not need.windows:
        return np.ones(len(slots), bool)
    keys = tuple(sorted(set(need.windows) & set(WINDOW_KEYS)))
    return window_key_index(need.time_zone, keys, slots.starts_at, slots.ends_at) >= 0


@functools.lru_cache(maxsize=1024)
def _week_boundaries(time_zone: str, first_monday: dt.date, weeks: int) -> np.ndarray:
    zone = ZoneInfo(time_zone)
    mondays = (first_monday + dt.timedelta(weeks=w) for w in range(weeks + 1))
    return np.array(
        [int(dt.datetime.combine(monday, dt.time(), zone).timestamp()) for monday in mondays],
        np.int64,
    )


def week_starts(time_zone: str, starts: np.ndarray) -> tuple[list[dt.date], np.ndarray]:
    """The Mondays (in `time_zone`) of the weeks spanned by `starts`, and each time's index
    into them."""
    if len(starts) == 0:
        return [], np.zeros(0, np.int64)
    zone = ZoneInfo(time_zone)
    first = dt.datetime.fromtimestamp(int(starts.min()), zone).date()
    last = dt.datetime.fromtimestamp(int(starts.max()), zone).date()
    first_monday = first - dt.timedelta(days=first.weekday())
    weeks = (last - first_monday).days // 7 + 1
    boundaries = _week_boundaries(time_zone, first_monday, weeks)
    index = np.searchsorted(boundaries, starts, side="right") - 1
    return [first_monday + dt.timedelta(weeks=w) for w in range(weeks)], index


def booked_counts(
    clinicians: Mapping[int, ClinicianProfile], slots: SlotTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each time: the sessions its clinician's week already holds, the clinician's weekly
    capacity, and an id of that clinician week (equal ids, same week). Weeks are placed one
    time zone at a time rather than one clinician at a time: a match sees hundreds of
    clinicians but a handful of zones."""
    if len(slots) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids, owner = np.unique(slots.clinician_ids, return_inverse=True)
    owner = owner.ravel()
    profiles = [clinicians[clinician_id] for clinician_id in ids.tolist()]
    capacity = np.array([p.weekly_capacity for p in profiles], np.int64)
    zone_of = np.array([p.time_zone for p in profiles])[owner]
    monday = np.zeros(len(slots), np.int64)  # the week's Monday as a proleptic ordinal
    for zone in np.unique(zone_of).tolist():
        rows = np.nonzero(zone_of == zone)[0]
        mondays, index = week_starts(zone, slots.starts_at[rows])
        monday[rows] = np.array([m.toordinal() for m in mondays], np.int64)[index]
    first, span = int(monday.min()), int(monday.max() - monday.min()) + 1
    weeks, week_id = np.unique(owner * span + (monday - first), return_inverse=True)
    held = [
        profiles[week // span].booked_by_week.get(dt.date.fromordinal(first + week % span), 0)
        for week in weeks.tolist()
    ]
    week_id = week_id.ravel()
    return np.array(held, np.int64)[week_id], capacity[owner], week_id


def _clinician_ok(
    need: Need, clinicians: Mapping[int, ClinicianProfile], slots: SlotTable
) -> dict[Constraint, np.ndarray]:
    """Per clinician-level constraint, which times pass it."""
    ids = np.unique(slots.clinician_ids)
    passes = {constraint: np.ones(len(slots), bool) for constraint in CLINICIAN_CONSTRAINTS}
    for clinician_id in ids:
        broken = clinician_breaches(need, clinicians[int(clinician_id)])
        if broken:
            rows = slots.clinician_ids == clinician_id
            for constraint in broken:
                passes[constraint] &= ~rows
    return passes


def slot_masks(
    need: Need, clinicians: Mapping[int, ClinicianProfile], slots: SlotTable, *, now_s: int
) -> dict[Constraint, np.ndarray]:
    """Per hard constraint, in order, which times in the table pass it."""
    masks = _clinician_ok(need, clinicians, slots)
    booked, capacity, _weeks = booked_counts(clinicians, slots)
    masks[Constraint.NOTICE] = slots.starts_at >= now_s + need.min_notice_hours * 3600
    masks[Constraint.WINDOWS] = windows_mask(need, slots)
    masks[Constraint.CAPACITY] = booked < capacity
    return masks


def emptied_by(
    need: Need, clinicians: Mapping[int, ClinicianProfile], slots: SlotTable, *, now: dt.datetime
) -> Constraint | None:
    """The first hard constraint, in order, after which no candidate is left; None if some
    candidate passes them all. Clinicians with no times count for the clinician-level ones."""
    pool = list(clinicians.values())
    for constraint in CLINICIAN_CONSTRAINTS:
        pool = [c for c in pool if constraint not in clinician_breaches(need, c)]
        if not pool:
            return constraint
    kept = np.isin(slots.clinician_ids, [c.clinician_id for c in pool])
    if not kept.any():
        return Constraint.TAKEN
    masks = slot_masks(need, clinicians, slots.take(np.nonzero(kept)[0]), now_s=epoch(now))
    alive = np.ones(int(kept.sum()), bool)
    for constraint in (Constraint.NOTICE, Constraint.WINDOWS, Constraint.CAPACITY):
        alive &= masks[constraint]
        if not alive.any():
            return constraint
    return None


def cost_vector(
    need: Need,
    clinicians: Mapping[int, ClinicianProfile],
    slots: SlotTable,
    *,
    now_s: int,
    weights: Weights,
) -> np.ndarray:
    """The total soft cost of each time in the table, exactly as `slot_cost` computes it."""
    minutes = (slots.starts_at - now_s) // 60
    cost = np.rint(wait_points(wait_factor(need, weights), minutes)).astype(np.int64)
    ids, owner = np.unique(slots.clinician_ids, return_inverse=True)
    preferences: dict[tuple[str, str], int] = {}  # clinicians share a few of these
    per_clinician = []
    for clinician_id in ids.tolist():
        clinician = clinicians[clinician_id]
        shown = (clinician.gender, clinician.specialty)
        if shown not in preferences:
            preferences[shown] = preference_points(need, *shown, weights)
        per_clinician.append(fairness_points(clinician, weights) + preferences[shown])
    cost += np.array(per_clinician, np.int64)[owner.ravel()]
    if need.previous_clinician_id is not None:
        is_kept = (slots.clinician_ids == need.previous_clinician_id) & (
            slots.starts_at < now_s + weights.continuity_days * 86400
        )
        cost += np.where(is_kept, 0, round(weights.continuity * POINTS_PER_HOUR))
    return cost


def match_single(
    need: Need,
    clinicians: Mapping[int, ClinicianProfile],
    slots: SlotTable,
    *,
    now: dt.datetime,
    weights: Weights,
    options: int = 5,
) -> MatchResult:
    """The cheapest feasible times for one referral, best first, ties broken by start then
    slot id. With none feasible, the constraint that emptied the pool (exact only when `slots`
    holds every open time of the program's clinicians)."""
    now_s = epoch(now)
    if len(slots) == 0:
        return _no_match(need, clinicians, slots, now=now)
    alive = np.logical_and.reduce(list(slot_masks(need, clinicians, slots, now_s=now_s).values()))
    feasible = np.nonzero(alive)[0]
    if len(feasible) == 0:
        return _no_match(need, clinicians, slots, now=now)
    chosen = slots.take(feasible)
    cost = cost_vector(need, clinicians, chosen, now_s=now_s, weights=weights)
    ranked = np.lexsort((chosen.slot_ids, chosen.starts_at, cost))[:options]
    proposals = tuple(
        _proposal(need, clinicians[int(chosen.clinician_ids[i])], chosen, i, now, weights)
        for i in ranked
    )
    return MatchResult(options=proposals, considered=len(slots))


def _proposal(
    need: Need,
    clinician: ClinicianProfile,
    slots: SlotTable,
    index: int,
    now: dt.datetime,
    weights: Weights,
) -> Proposal:
    starts_at = slots.starts_at_datetime(index)
    return Proposal(
        referral_id=need.referral_id,
        slot_id=int(slots.slot_ids[index]),
        clinician_id=clinician.clinician_id,
        starts_at=starts_at,
        cost=slot_cost(need, clinician, starts_at, now=now, weights=weights),
    )


def _no_match(
    need: Need, clinicians: Mapping[int, ClinicianProfile], slots: SlotTable, *, now: dt.datetime
) -> MatchResult:
    constraint = emptied_by(need, clinicians, slots, now=now)
    reason = EMPTIED_POOL_REASONS.get(constraint, CONTENDED_REASON) if constraint else ""
    return MatchResult(
        options=(),
        considered=len(slots),
        no_proposal=NoProposal(need.referral_id, constraint, reason),
    )


def cheapest_possible_beyond(need: Need, starts_at_s: int, *, now_s: int, weights: Weights) -> int:
    """A lower bound on the cost of any time starting at or after `starts_at_s` with a
    clinician other than the earlier one: a single match that read candidates earliest first
    can stop once its best option costs no more than this."""
    minutes = (starts_at_s - now_s) // 60
    bound = round(wait_points(wait_factor(need, weights), minutes))
    if need.previous_clinician_id is not None:
        bound += round(weights.continuity * POINTS_PER_HOUR)
    return bound


def latest_start_to_beat(need: Need, cost: int, *, now_s: int, weights: Weights) -> int:
    """A start (epoch seconds) after which no time with a clinician other than the earlier one
    can cost less than `cost`: the inverse of `cheapest_possible_beyond`, rounded up."""
    points = cost + 1
    if need.previous_clinician_id is not None:
        points -= round(weights.continuity * POINTS_PER_HOUR)
    minutes = max(0.0, points) * 60 / (wait_factor(need, weights) * POINTS_PER_HOUR)
    return now_s + (int(minutes) + 2) * 60


def feasible_clinicians(
    need: Need, clinicians: Mapping[int, ClinicianProfile], slots: SlotTable, *, now: dt.datetime
) -> set[int]:
    """The clinicians with at least one time in `slots` that breaks no hard constraint."""
    if len(slots) == 0:
        return set()
    masks = slot_masks(need, clinicians, slots, now_s=epoch(now))
    alive = np.logical_and.reduce(list(masks.values()))
    return set(slots.clinician_ids[alive].tolist())


def check_assignment(
    need: Need, clinician: ClinicianProfile, slot: SlotView, *, now: dt.datetime
) -> list[tuple[Constraint, str]]:
    """The hard constraints a manual assignment would break, each with a label to show."""
    return [(c, BREACH_LABELS[c]) for c in breached_constraints(need, clinician, slot, now=now)]


def profiles_by_id(profiles: Sequence[ClinicianProfile]) -> dict[int, ClinicianProfile]:
    return {profile.clinician_id: profile for profile in profiles}
