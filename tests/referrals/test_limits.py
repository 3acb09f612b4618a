import pytest

from referrals import limits
from scheduling.models import Appointment


def test_completed_and_booked_sessions_always_count():
    statuses = ["completed", "accepted", "proposed", "declined", "cancelled", "expired"]
    assert limits.sessions_used(statuses, late_cancellation_uses_session=False) == 2


@pytest.mark.parametrize(("uses_session", "used"), [(False, 1), (True, 3)])
def test_late_cancellations_and_no_shows_count_only_when_the_program_says(uses_session, used):
    statuses = ["completed", "late_cancelled", "no_show"]
    assert limits.sessions_used(statuses, late_cancellation_uses_session=uses_session) == used


def test_the_limit_is_reached_when_every_session_is_used():
    assert not limits.is_over_limit(used=2, limit=3)
    assert limits.is_over_limit(used=3, limit=3)


def test_the_counted_statuses_are_real_appointment_statuses():
    counted = limits.ALWAYS_COUNTED | limits.COUNTED_WHEN_LATE_CANCELLATION_USES_SESSION
    assert counted <= set(Appointment.Status.values)


def test_one_person_is_one_address_whatever_the_case_or_spacing():
    assert limits.normalise_email("  Alex.Doctor@Health.NSW.gov.au ") == (
        "alex.doctor@health.nsw.gov.au"
    )
