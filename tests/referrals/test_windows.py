import datetime as dt

from referrals.windows import WINDOW_KEYS, is_within_windows


def test_there_is_a_morning_afternoon_and_evening_for_every_day():
    assert len(WINDOW_KEYS) == 21


def test_a_monday_ten_oclock_session_fits_a_monday_morning_window_only():
    start = dt.datetime(2026, 11, 23, 10)
    end = start + dt.timedelta(hours=1)
    assert is_within_windows(start, end, ["mon-morning"])
    assert not is_within_windows(start, end, ["mon-afternoon", "tue-morning"])


def test_a_session_running_past_the_end_of_the_window_does_not_fit():
    start = dt.datetime(2026, 11, 23, 11, 30)
    assert not is_within_windows(start, start + dt.timedelta(hours=1), ["mon-morning"])


def test_no_windows_means_any_time_suits():
    start = dt.datetime(2026, 11, 29, 22)
    assert is_within_windows(start, start + dt.timedelta(hours=1), [])
