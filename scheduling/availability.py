"""Slot maths: weekly availability rules → the concrete sessions a clinician offers.

Pure: no ORM, no I/O, no clock. Rules are in the clinician's own wall-clock time; the sessions
that come out are aware UTC datetimes.

Daylight saving is handled on the wall clock, so a 10:00 session stays at 10:00 local across the
April and October changes. A session whose local start does not exist (the hour skipped when
clocks go forward) is left out. A local start that happens twice (the hour repeated when clocks
go back) is read as its first occurrence, so it yields one session. Sessions always last
`session_minutes` of real time, and no two sessions ever overlap: where a change would make them,
the later one is left out.
"""

import datetime as dt
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC


@dataclass(frozen=True)
class WeeklyRule:
    """A recurring weekly window in local time; `weekday` 0 is Monday, dates are inclusive."""

    weekday: int
    starts_at_time: dt.time
    ends_at_time: dt.time
    valid_from_on: dt.date
    valid_until_on: dt.date | None = None

    def applies_on(self, day: dt.date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from_on <= day
            and (self.valid_until_on is None or day <= self.valid_until_on)
        )


@dataclass(frozen=True, order=True)
class Session:
    """One bookable session as an interval [starts_at, ends_at) in UTC."""

    starts_at: dt.datetime
    ends_at: dt.datetime

    def overlaps(self, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
        return self.starts_at < ends_at and starts_at < self.ends_at


def sessions_from_rules(
    *,
    rules: Iterable[WeeklyRule],
    time_off: Iterable[tuple[dt.datetime, dt.datetime]],
    holiday_dates: Collection[dt.date],
    time_zone: str,
    session_minutes: int,
    first_on: dt.date,
    last_on: dt.date,
) -> list[Session]:
    """The sessions the rules produce on the local dates first_on..last_on (inclusive), sorted.

    Whole days in `holiday_dates` (local dates) are skipped, and any session touching a time off
    interval (aware datetimes) is left out.
    """
    if session_minutes <= 0:
        raise ValueError("session_minutes must be positive")
    zone = ZoneInfo(time_zone)
    length = dt.timedelta(minutes=session_minutes)
    rules = list(rules)
    candidates = [
        session
        for day in _days(first_on, last_on)
        if day not in holiday_dates
        for rule in rules
        if rule.applies_on(day)
        for session in _sessions_of_rule_on(rule, day, zone, length)
    ]
    return _without_overlaps(_outside_time_off(sorted(candidates), list(time_off)))


def local_instant(day: dt.date, wall_time: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local wall-clock time: its first occurrence, None if it never occurs."""
    local = dt.datetime.combine(day, wall_time, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _earliest_reading(day: dt.date, wall_time: dt.time, zone: ZoneInfo) -> dt.datetime:
    # A window's end may fall in a skipped or repeated hour; the earliest reading of it keeps
    # every session inside the window whichever way the wall time is read.
    readings = (
        dt.datetime.combine(day, wall_time, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    )
    return min(readings)


def _sessions_of_rule_on(
    rule: WeeklyRule, day: dt.date, zone: ZoneInfo, length: dt.timedelta
) -> Iterator[Session]:
    window_ends_at = _earliest_reading(day, rule.ends_at_time, zone)
    wall = dt.datetime.combine(day, rule.starts_at_time)
    wall_end = dt.datetime.combine(day, rule.ends_at_time)
    while wall < wall_end:
        starts_at = local_instant(day, wall.time(), zone)
        if starts_at is not None and starts_at + length <= window_ends_at:
            yield Session(starts_at, starts_at + length)
        wall += length


def _outside_time_off(
    sessions: list[Session], time_off: list[tuple[dt.datetime, dt.datetime]]
) -> list[Session]:
    return [s for s in sessions if not any(s.overlaps(start, end) for start, end in time_off)]


def _without_overlaps(sessions: list[Session]) -> list[Session]:
    kept: list[Session] = []
    for session in sessions:
        if not kept or session.starts_at >= kept[-1].ends_at:
            kept.append(session)
    return kept


def _days(first_on: dt.date, last_on: dt.date) -> Iterator[dt.date]:
    day = first_on
    while day <= last_on:
        yield day
        day += dt.timedelta(days=1)
