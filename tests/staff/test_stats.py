import csv
import datetime as dt
import io
from collections import Counter
from zoneinfo import ZoneInfo

import numpy
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from referrals.models import ReferralEvent, TriageAssessment
from scheduling.models import AppointmentEvent
from staff.stats import percentile, program_stats
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.staff.factories import bulk_cases

SYDNEY = ZoneInfo("Australia/Sydney")
MARCH = dt.date(2026, 3, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=40), st.sampled_from([0.5, 0.9, 0.1]))
def test_percentiles_from_a_histogram_match_those_of_the_raw_values(values, fraction):
    assert percentile(Counter(values), fraction) == pytest.approx(
        numpy.percentile(values, fraction * 100)
    )


def test_an_empty_histogram_has_no_percentile():
    assert percentile(Counter(), 0.5) is None


def _case(
    program, submitted_at, *, first_session_days=None, status="accepted", k10=None, diverted=False
):
    """One referral submitted at a given moment, with its first session some days later."""
    with time_machine.travel(submitted_at, tick=False):
        referral = ReferralFactory(program=program, status="booked", given_name="Zebedee-Marker")
        if diverted:
            ReferralEvent.objects.create(
                referral=referral, to_status="diverted", actor_label="system"
            )
        if k10 is not None:
            TriageAssessment.objects.create(
                referral=referral,
                answers={},
                k10_score=k10,
                outcome="routine",
                rule_version="1",
                rule_fired="none",
            )
        if first_session_days is not None:
            starts_at = submitted_at + dt.timedelta(days=first_session_days)
            appointment = AppointmentFactory(
                referral=referral, status=status, slot=SlotFactory(starts_at=starts_at)
            )
            if status in ("accepted", "completed", "no_show"):
                AppointmentEvent.objects.create(
                    appointment=appointment, to_status="accepted", actor_label="clinician"
                )
    return referral


@pytest.fixture
def program(db):
    return ProgramFactory(code="stats-test", short_name="TST")


@pytest.fixture
def march_cases(program):
    day = dt.datetime(2026, 3, 2, 10, tzinfo=SYDNEY)
    for n, days in enumerate([1, 2, 3, 4, 10, 20]):
        _case(
            program,
            day + dt.timedelta(days=n),
            first_session_days=days,
            status="completed",
            k10=20 + n,
        )
    _case(program, day, first_session_days=5, status="declined")
    _case(program, day, first_session_days=6, status="expired", diverted=True)
    _case(program, day, k10=40)


def test_figures_per_program_and_month(march_cases, program):
    ((result,),) = [
        [r for r in program_stats(from_month=MARCH, to_month=MARCH) if r.program == program]
    ]
    ((month, figures),) = result.months
    assert month == MARCH
    assert (figures.referrals, figures.diverted, figures.matched) == (9, 1, 8)
    assert sum(figures.days_to_first_session.values()) == 6
    assert percentile(figures.days_to_first_session, 0.5) == 3.5
    assert (figures.invitations_accepted, figures.invitations_decided) == (6, 8)
    assert figures.sessions_completed == 6
    assert sum(figures.k10_scores.values()) == 7


def test_a_referral_submitted_late_on_the_last_evening_of_a_month_counts_in_that_month(program):
    _case(program, dt.datetime(2026, 3, 31, 23, 30, tzinfo=SYDNEY))  # 12:30 UTC
    (result,) = program_stats(from_month=MARCH, to_month=dt.date(2026, 4, 1), program=program)
    assert [figures.referrals for _month, figures in result.months] == [1, 0]


@pytest.mark.django_db
def test_the_page_shows_small_counts_as_under_five_and_no_one_by_name(
    coordinator_client, march_cases
):
    response = coordinator_client.get(
        reverse("coordinate:stats"),
        {"from_month": "2026-03", "to_month": "2026-03", "program": "stats-test"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    shown = response.context["sections"][0]["rows"][0][1]
    assert (shown.referrals, shown.diverted, shown.matched) == ("9", "<5", "8")
    assert (shown.days_median, shown.days_p90, shown.acceptance_rate) == ("3.5", "15", "75%")
    assert (shown.sessions_completed, shown.no_shows, shown.k10_given, shown.k10_median) == (
        "6",
        "<5",
        "7",
        "23",
    )
    assert "Zebedee-Marker" not in page and "@example.test" not in page
    assert "<svg" in page and 'role="img"' in page


@pytest.mark.django_db
def test_the_csv_has_the_same_figures_with_small_counts_withheld(coordinator_client, march_cases):
    response = coordinator_client.get(
        reverse("coordinate:stats_csv"),
        {"from_month": "2026-03", "to_month": "2026-03", "program": "stats-test"},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, march, whole = rows[0], rows[1], rows[2]
    assert header[:5] == ["Program", "Month", "Referrals", "Diverted", "Matched"]
    assert march[:5] == ["TST", "2026-03", "9", "<5", "8"]
    assert whole[1] == "whole period"
    assert "Zebedee-Marker" not in response.content.decode()


@pytest.mark.django_db
def test_a_month_with_fewer_than_five_cases_withholds_its_median(coordinator_client, program):
    day = dt.datetime(2026, 3, 2, 10, tzinfo=SYDNEY)
    for days in (1, 2):
        _case(program, day, first_session_days=days, status="completed")
    response = coordinator_client.get(
        reverse("coordinate:stats"),
        {"from_month": "2026-03", "to_month": "2026-03", "program": "stats-test"},
    )
    shown = response.context["sections"][0]["rows"][0][1]
    assert (shown.referrals, shown.days_median, shown.acceptance_rate) == ("<5", "<5", "<5")


@pytest.mark.django_db
def test_a_backwards_range_is_refused_with_a_clear_message(coordinator_client):
    response = coordinator_client.get(
        reverse("coordinate:stats"), {"from_month": "2026-05", "to_month": "2026-03"}
    )
    assert response.status_code == 400
    assert "The first month must not be after the last." in response.content.decode()
    csv_response = coordinator_client.get(
        reverse("coordinate:stats_csv"), {"from_month": "nonsense"}
    )
    assert csv_response.status_code == 400


@pytest.mark.django_db
def test_statistics_cost_the_same_few_queries_however_many_cases(coordinator_client, program):
    districts = [DistrictFactory()]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            coordinator_client.get(reverse("coordinate:stats"))
        return len(captured)

    bulk_cases(10, programs=[program], districts=districts, clinician=ClinicianFactory())
    coordinator_client.get(reverse("coordinate:stats"))
    few = queries()
    bulk_cases(
        2000, programs=[program], districts=districts, clinician=ClinicianFactory(), start=100
    )
    assert queries() == few <= 12
