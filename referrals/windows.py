"""Preferred time windows: what a key such as "mon-morning" covers, in the person's own zone."""

import datetime as dt

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
PARTS_OF_DAY = {
    "morning": (dt.time(8), dt.time(12), "Morning (8am–12pm)"),
    "afternoon": (dt.time(12), dt.time(17), "Afternoon (12pm–5pm)"),
    "evening": (dt.time(17), dt.time(20), "Evening (5pm–8pm)"),
}
WINDOW_KEYS = tuple(f"{day}-{part}" for day in WEEKDAYS for part in PARTS_OF_DAY)


def window_bounds(key: str) -> tuple[int, dt.time, dt.time]:
    """Return (weekday 0=Monday, start, end) for a window key; ValueError for an unknown key."""
    day, _, part = key.partition("-")
    if day not in WEEKDAYS or part not in PARTS_OF_DAY:
        raise ValueError(f"unknown time window {key!r}")
    start, end, _label = PARTS_OF_DAY[part]
    return WEEKDAYS.index(day), start, end


def is_within_windows(local_start: dt.datetime, local_end: dt.datetime, keys: list[str]) -> bool:
    """True when a session, in the person's local time, lies wholly inside one of the windows.

    No windows given means any time suits.
    """
    if not keys:
        return True
    for key in keys:
        weekday, start, end = window_bounds(key)
        if (
            local_start.weekday() == weekday
            and local_end.date() == local_start.date()
            and start <= local_start.time()
            and local_end.time() <= end
        ):
            return True
    return False
