"""Which concrete slots weekly availability rules produce: pure slot maths, no ORM, no I/O.

Rules are wall-clock windows in the clinician's own zone, so a 09:00 rule stays at 09:00 across
a daylight-saving change; a start that does not exist that night (clocks jump forward) is left
out, and a start that happens twice (clocks go back) is taken at its first occurrence. Public
holidays of the clinician's state and their leave produce no slots.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays

UTC = dt.UTC


@dataclass(frozen=True)
class WeeklyWindow:
    weekday: int  # 0 = Monday
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


Interval = tuple[dt.datetime, dt.datetime]


def public_holidays(state: str, from_on: dt.date, until_on: dt.date) -> set[dt.date]:
    years = range(from_on.year, until_on.year + 1)
    return set(holidays.country_holidays("AU", subdiv=state, years=years))


def _local(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The aware moment of a wall-clock time, or None when that time does not exist that day."""
    moment = dt.datetime.combine(day, time, tzinfo=zone)
    round_trip = moment.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return moment


def _overlaps(start: dt.datetime, end: dt.datetime, busy: Iterable[Interval]) -> bool:
    return any(start < busy_end and busy_start < end for busy_start, busy_end in busy)


def slots_from_rules(
    *,
    windows: Iterable[WeeklyWindow],
    time_off: Iterable[Interval],
    time_zone: str,
    from_on: dt.date,
    until_on: dt.date,
    slot_minutes: int,
    closed_on: set[dt.date] = frozenset(),
    not_before: dt.datetime | None = None,
) -> list[Interval]:
    """Every slot (start, end in UTC) the windows make between two dates inclusive, sorted and
    without duplicates, skipping `closed_on` days, leave and anything starting before
    `not_before`."""
    zone = ZoneInfo(time_zone)
    windows, time_off = list(windows), list(time_off)
    length = dt.timedelta(minutes=slot_minutes)
    found: set[Interval] = set()
    day = from_on
    while day <= until_on:
        if day not in closed_on:
            for window in windows:
                if window.applies_on(day):
                    found.update(_window_slots(day, window, zone, length))
        day += dt.timedelta(days=1)
    return sorted(
        (start, end)
        for start, end in found
        if not _overlaps(start, end, time_off) and (not_before is None or start >= not_before)
    )


def _window_slots(
    day: dt.date, window: WeeklyWindow, zone: ZoneInfo, length: dt.timedelta
) -> list[Interval]:
    slots = []
    wall = dt.datetime.combine(day, window.starts_at_time)
    window_end = dt.datetime.combine(day, window.ends_at_time)
    while wall + length <= window_end:
        start = _local(day, wall.time(), zone)
        end = _local(day, (wall + length).time(), zone) if start else None
        if start is not None and end is not None:
            slots.append((start.astimezone(UTC), end.astimezone(UTC)))
        wall += length
    return slots
