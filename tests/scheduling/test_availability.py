"""Slot maths from weekly rules: explicit daylight-saving examples and properties that hold for
any rules, leave, holidays and zone."""

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.availability import Session, WeeklyRule, local_instant, sessions_from_rules

SYDNEY = ZoneInfo("Australia/Sydney")
SUNDAY, MONDAY = 6, 0


def sessions(rules, *, first_on, last_on, zone="Australia/Sydney", minutes=60, **extra):
    return sessions_from_rules(
        rules=rules,
        time_off=extra.get("time_off", []),
        holiday_dates=extra.get("holiday_dates", set()),
        time_zone=zone,
        session_minutes=minutes,
        first_on=first_on,
        last_on=last_on,
    )


def local_starts(found, zone=SYDNEY):
    return [s.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for s in found]


def rule(weekday, start_hour, end_hour, valid_from_on=dt.date(2026, 1, 1), valid_until_on=None):
    return WeeklyRule(
        weekday, dt.time(start_hour), dt.time(end_hour), valid_from_on, valid_until_on
    )


# Explicit daylight-saving examples (Sydney: back on the first Sunday of April at 03:00,
# forward on the first Sunday of October at 02:00).


def test_a_monday_ten_oclock_session_stays_at_ten_local_across_the_april_change():
    found = sessions(
        [rule(MONDAY, 10, 11)], first_on=dt.date(2026, 3, 30), last_on=dt.date(2026, 4, 6)
    )
    assert local_starts(found) == ["2026-03-30 10:00 AEDT", "2026-04-06 10:00 AEST"]
    assert [s.starts_at for s in found] == [
        dt.datetime(2026, 3, 29, 23, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 6, 0, tzinfo=dt.UTC),
    ]


def test_a_monday_ten_oclock_session_stays_at_ten_local_across_the_october_change():
    found = sessions(
        [rule(MONDAY, 10, 11)], first_on=dt.date(2026, 9, 28), last_on=dt.date(2026, 10, 5)
    )
    assert local_starts(found) == ["2026-09-28 10:00 AEST", "2026-10-05 10:00 AEDT"]
    assert [s.starts_at.hour for s in found] == [0, 23]


def test_sunday_ten_oclock_on_the_days_of_the_2027_changes_is_ten_local():
    found = sessions(
        [rule(SUNDAY, 10, 11)], first_on=dt.date(2027, 4, 4), last_on=dt.date(2027, 10, 3)
    )
    assert local_starts(found)[0] == "2027-04-04 10:00 AEST"
    assert local_starts(found)[-1] == "2027-10-03 10:00 AEDT"
    assert {s.starts_at.astimezone(SYDNEY).hour for s in found} == {10}


def test_the_hour_skipped_when_clocks_go_forward_offers_no_session():
    day = dt.date(2026, 10, 4)
    found = sessions([rule(SUNDAY, 1, 4)], first_on=day, last_on=day)
    assert local_starts(found) == ["2026-10-04 01:00 AEST", "2026-10-04 03:00 AEDT"]
    assert found[0].ends_at == found[1].starts_at


def test_the_hour_repeated_when_clocks_go_back_offers_one_session_not_two():
    day = dt.date(2027, 4, 4)
    found = sessions([rule(SUNDAY, 1, 4)], first_on=day, last_on=day)
    assert local_starts(found) == [
        "2027-04-04 01:00 AEDT",
        "2027-04-04 02:00 AEDT",
        "2027-04-04 03:00 AEST",
    ]
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(found))


def test_a_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence():
    day = dt.date(2026, 4, 5)
    ends_in_repeat = WeeklyRule(SUNDAY, dt.time(1), dt.time(2, 30), dt.date(2026, 1, 1))
    found = sessions([ends_in_repeat], first_on=day, last_on=day)
    # 02:00 AEDT plus an hour is 02:00 AEST: past 02:30 AEDT, so only 01:00 fits.
    assert local_starts(found) == ["2026-04-05 01:00 AEDT"]


def test_long_sessions_never_overlap_when_clocks_go_forward_under_them():
    day = dt.date(2026, 10, 4)
    found = sessions([rule(SUNDAY, 1, 7)], first_on=day, last_on=day, minutes=120)
    # 01:00 AEST runs to 04:00 AEDT in real time, so the 03:00 start is left out.
    assert local_starts(found) == ["2026-10-04 01:00 AEST", "2026-10-04 05:00 AEDT"]


def test_a_session_whose_wall_clock_start_is_skipped_is_reported_as_never_occurring():
    assert local_instant(dt.date(2026, 10, 4), dt.time(2, 30), SYDNEY) is None
    assert local_instant(dt.date(2026, 4, 5), dt.time(2, 30), SYDNEY) == dt.datetime(
        2026, 4, 4, 15, 30, tzinfo=dt.UTC
    )


def test_a_public_holiday_offers_no_sessions():
    found = sessions(
        [rule(MONDAY, 9, 12)],
        first_on=dt.date(2026, 1, 19),
        last_on=dt.date(2026, 2, 2),
        holiday_dates={dt.date(2026, 1, 26)},
    )
    assert {s.starts_at.astimezone(SYDNEY).date() for s in found} == {
        dt.date(2026, 1, 19),
        dt.date(2026, 2, 2),
    }


def test_time_off_removes_every_session_it_touches_and_no_other():
    leave_starts_at = dt.datetime(2026, 3, 2, 10, 30, tzinfo=SYDNEY)
    found = sessions(
        [rule(MONDAY, 9, 13)],
        first_on=dt.date(2026, 3, 2),
        last_on=dt.date(2026, 3, 2),
        time_off=[(leave_starts_at, leave_starts_at + dt.timedelta(hours=1))],
    )
    assert local_starts(found) == ["2026-03-02 09:00 AEDT", "2026-03-02 12:00 AEDT"]


def test_a_rule_offers_sessions_only_within_its_valid_dates():
    limited = rule(MONDAY, 9, 10, dt.date(2026, 3, 9), dt.date(2026, 3, 16))
    found = sessions([limited], first_on=dt.date(2026, 3, 1), last_on=dt.date(2026, 3, 31))
    assert [s.starts_at.astimezone(SYDNEY).day for s in found] == [9, 16]


def test_a_window_shorter_than_a_session_offers_nothing():
    short = WeeklyRule(MONDAY, dt.time(9), dt.time(9, 45), dt.date(2026, 1, 1))
    assert sessions([short], first_on=dt.date(2026, 3, 2), last_on=dt.date(2026, 3, 2)) == []


def test_overlapping_rules_on_one_day_give_one_session_per_start():
    found = sessions(
        [rule(MONDAY, 9, 12), rule(MONDAY, 11, 13)],
        first_on=dt.date(2026, 3, 2),
        last_on=dt.date(2026, 3, 2),
    )
    assert [s.starts_at.astimezone(SYDNEY).hour for s in found] == [9, 10, 11, 12]


def test_a_zone_without_daylight_saving_offers_every_hour_of_every_window():
    found = sessions(
        [rule(MONDAY, 9, 12), rule(3, 14, 16)],
        first_on=dt.date(2026, 3, 30),
        last_on=dt.date(2026, 4, 26),
        zone="Australia/Brisbane",
    )
    assert len(found) == 4 * 3 + 4 * 2


# Properties over any rules, leave and holidays, in zones with and without daylight saving
# (Lord Howe moves by half an hour).

ZONES = ["Australia/Sydney", "Australia/Melbourne", "Australia/Lord_Howe", "Australia/Brisbane"]
# Ranges that start near the April and October changes of 2026 and 2027.
CHANGE_DAYS = [dt.date(2026, 4, 5), dt.date(2026, 10, 4), dt.date(2027, 4, 4), dt.date(2027, 10, 3)]


@st.composite
def weekly_rules(draw, around: dt.date):
    start_minute = draw(st.integers(0, 23 * 4 - 1)) * 15
    end_minute = draw(st.integers(start_minute // 15 + 1, 24 * 4 - 1)) * 15
    valid_from_on = around + dt.timedelta(days=draw(st.integers(-10, 5)))
    valid_days = draw(st.none() | st.integers(0, 20))
    return WeeklyRule(
        weekday=draw(st.integers(0, 6)),
        starts_at_time=dt.time(start_minute // 60, start_minute % 60),
        ends_at_time=dt.time(end_minute // 60, end_minute % 60),
        valid_from_on=valid_from_on,
        valid_until_on=None if valid_days is None else valid_from_on + dt.timedelta(valid_days),
    )


@st.composite
def availability_cases(draw):
    around = draw(st.sampled_from(CHANGE_DAYS))
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    first_on = around - dt.timedelta(days=draw(st.integers(0, 7)))
    last_on = first_on + dt.timedelta(days=draw(st.integers(0, 14)))
    leave_starts = draw(
        st.lists(st.integers(0, 15 * 24 * 4), max_size=3).map(
            lambda quarters: [
                dt.datetime.combine(first_on, dt.time(), tzinfo=zone) + dt.timedelta(minutes=15 * q)
                for q in quarters
            ]
        )
    )
    leave_hours = draw(
        st.lists(st.integers(1, 30), min_size=len(leave_starts), max_size=len(leave_starts))
    )
    return {
        "rules": draw(st.lists(weekly_rules(around), min_size=1, max_size=4)),
        "time_off": [
            (s, s + dt.timedelta(hours=h)) for s, h in zip(leave_starts, leave_hours, strict=True)
        ],
        "holiday_dates": set(
            draw(st.lists(st.integers(0, 14).map(lambda n: first_on + dt.timedelta(n)), max_size=2))
        ),
        "time_zone": zone.key,
        "session_minutes": draw(st.sampled_from([30, 45, 60, 90, 120])),
        "first_on": first_on,
        "last_on": last_on,
    }


def _producing_rule(session: Session, case: dict) -> WeeklyRule | None:
    """A rule whose grid has this session's local start and whose window holds all of it."""
    zone = ZoneInfo(case["time_zone"])
    local = session.starts_at.astimezone(zone)
    for candidate in case["rules"]:
        if not candidate.applies_on(local.date()):
            continue
        offset = dt.datetime.combine(local.date(), local.time()) - dt.datetime.combine(
            local.date(), candidate.starts_at_time
        )
        window_ends_at = min(
            dt.datetime.combine(local.date(), candidate.ends_at_time, tzinfo=zone)
            .replace(fold=fold)
            .astimezone(dt.UTC)
            for fold in (0, 1)
        )
        on_grid = offset >= dt.timedelta(0) and offset % dt.timedelta(
            minutes=case["session_minutes"]
        ) == dt.timedelta(0)
        if on_grid and local.time() < candidate.ends_at_time and session.ends_at <= window_ends_at:
            return candidate
    return None


@settings(max_examples=150, deadline=None)
@given(availability_cases())
def test_sessions_never_overlap_and_each_is_one_whole_session_long(case):
    found = sessions_from_rules(**case)
    assert found == sorted(found)
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(found))
    length = dt.timedelta(minutes=case["session_minutes"])
    assert all(s.ends_at - s.starts_at == length for s in found)
    assert all(s.starts_at.utcoffset() == dt.timedelta(0) for s in found)


@settings(max_examples=150, deadline=None)
@given(availability_cases())
def test_every_session_lies_in_a_rule_on_its_grid_and_avoids_holidays_and_leave(case):
    zone = ZoneInfo(case["time_zone"])
    for session in sessions_from_rules(**case):
        local_day = session.starts_at.astimezone(zone).date()
        assert case["first_on"] <= local_day <= case["last_on"]
        assert local_day not in case["holiday_dates"]
        assert not any(session.overlaps(start, end) for start, end in case["time_off"])
        assert _producing_rule(session, case) is not None


@settings(max_examples=100, deadline=None)
@given(availability_cases())
def test_every_existing_grid_start_with_room_is_offered_when_nothing_is_in_the_way(case):
    """Completeness: with no leave, holidays or competing rules, only skipped or cut-short
    starts are missing."""
    single = {**case, "rules": case["rules"][:1], "time_off": [], "holiday_dates": set()}
    found = {s.starts_at for s in sessions_from_rules(**single)}
    zone = ZoneInfo(case["time_zone"])
    only = single["rules"][0]
    length = dt.timedelta(minutes=case["session_minutes"])
    day = case["first_on"]
    expected = []
    while day <= case["last_on"]:
        wall = dt.datetime.combine(day, only.starts_at_time)
        while only.applies_on(day) and wall < dt.datetime.combine(day, only.ends_at_time):
            starts_at = local_instant(day, wall.time(), zone)
            ends_in_window = starts_at is not None and _producing_rule(
                Session(starts_at, starts_at + length), single
            )
            if ends_in_window and (not expected or starts_at >= expected[-1] + length):
                expected.append(starts_at)
            wall += length
        day += dt.timedelta(days=1)
    assert found == set(expected)
