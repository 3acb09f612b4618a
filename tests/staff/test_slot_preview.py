import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from staff.slot_preview import WeeklyWindow, public_holidays, slots_from_rules

SYDNEY = ZoneInfo("Australia/Sydney")


def _local(slots):
    return [
        (s.astimezone(SYDNEY).strftime("%a %d %b %H:%M"), e.astimezone(SYDNEY).strftime("%H:%M"))
        for s, e in slots
    ]


def _slots(windows, from_on, until_on, **kwargs):
    return slots_from_rules(
        windows=windows,
        time_off=kwargs.pop("time_off", []),
        time_zone="Australia/Sydney",
        from_on=from_on,
        until_on=until_on,
        slot_minutes=60,
        **kwargs,
    )


def test_a_morning_rule_gives_hourly_slots_on_its_weekday_only():
    monday = WeeklyWindow(0, dt.time(9), dt.time(12), dt.date(2026, 1, 1))
    slots = _slots([monday], dt.date(2026, 2, 2), dt.date(2026, 2, 8))
    assert _local(slots) == [
        ("Mon 02 Feb 09:00", "10:00"),
        ("Mon 02 Feb 10:00", "11:00"),
        ("Mon 02 Feb 11:00", "12:00"),
    ]


def test_wall_clock_times_hold_across_the_end_of_daylight_saving():
    # Sydney leaves daylight saving at 3am on Sunday 5 April 2026.
    sunday = WeeklyWindow(6, dt.time(9), dt.time(10), dt.date(2026, 1, 1))
    before, after = _slots([sunday], dt.date(2026, 3, 29), dt.date(2026, 4, 5))
    assert _local([before, after]) == [("Sun 29 Mar 09:00", "10:00"), ("Sun 05 Apr 09:00", "10:00")]
    assert before[0].hour == 22 and after[0].hour == 23  # UTC moves, the wall clock does not


def test_a_start_that_does_not_exist_when_clocks_go_forward_is_left_out():
    # At 2am on Sunday 4 October 2026 Sydney clocks jump to 3am.
    early = WeeklyWindow(6, dt.time(1), dt.time(4), dt.date(2026, 1, 1))
    slots = _slots([early], dt.date(2026, 10, 4), dt.date(2026, 10, 4))
    assert [s.astimezone(SYDNEY).strftime("%H:%M") for s, _e in slots] == ["03:00"]


def test_leave_public_holidays_and_past_times_make_no_slots():
    weekdays = [WeeklyWindow(day, dt.time(9), dt.time(10), dt.date(2026, 1, 1)) for day in range(5)]
    leave = [(dt.datetime(2026, 1, 28, tzinfo=SYDNEY), dt.datetime(2026, 1, 29, tzinfo=SYDNEY))]
    slots = _slots(
        weekdays,
        dt.date(2026, 1, 26),
        dt.date(2026, 1, 30),
        time_off=leave,
        closed_on=public_holidays("NSW", dt.date(2026, 1, 26), dt.date(2026, 1, 30)),
        not_before=dt.datetime(2026, 1, 27, 12, tzinfo=SYDNEY),
    )
    # 26th: Australia Day; 27th: before not_before; 28th: leave.
    assert [s.astimezone(SYDNEY).day for s, _e in slots] == [29, 30]


def test_a_rule_outside_its_valid_dates_makes_nothing():
    ended = WeeklyWindow(0, dt.time(9), dt.time(10), dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert _slots([ended], dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == []


@settings(max_examples=40, deadline=None)
@given(
    weekday=st.integers(0, 6),
    start_hour=st.integers(0, 20),
    length=st.integers(1, 4),
    first_on=st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 1)),
)
def test_slots_are_sorted_unique_an_hour_long_and_inside_the_window(
    weekday, start_hour, length, first_on
):
    window = WeeklyWindow(
        weekday, dt.time(start_hour), dt.time(min(start_hour + length, 23)), dt.date(2026, 1, 1)
    )
    slots = _slots([window, window], first_on, first_on + dt.timedelta(days=20))
    assert slots == sorted(set(slots))
    for start, end in slots:
        local_start, local_end = start.astimezone(SYDNEY), end.astimezone(SYDNEY)
        assert local_start.weekday() == weekday
        assert (
            window.starts_at_time <= local_start.time() and local_end.time() <= window.ends_at_time
        )
        assert end - start == dt.timedelta(hours=1)
