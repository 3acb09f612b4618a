import datetime as dt
import json

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from referrals.models import Referral, ReferralEvent
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.staff.factories import bulk_cases

pytestmark = pytest.mark.django_db
DASHBOARD = "/coordinate/"


def _urgent(reference: str, minutes_ago: int, **fields) -> Referral:
    referral = ReferralFactory(reference=reference, status="diverted", priority="urgent", **fields)
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Referral.objects.filter(pk=referral.pk).update(submitted_at=at)
    ReferralEvent.objects.create(referral=referral, to_status="diverted", actor_label="system")
    ReferralEvent.objects.filter(referral=referral).update(occurred_at=at)
    return referral


def _queue(response, key):
    return next(q for q in response.context["queues"] if q.key == key)


def test_urgent_cases_are_listed_oldest_first_with_their_age(coordinator_client):
    _urgent("U00002", minutes_ago=5)
    _urgent("U00001", minutes_ago=40)
    response = coordinator_client.get(DASHBOARD)
    urgent = _queue(response, "urgent")
    assert [r.reference for r in urgent.page] == ["U00001", "U00002"]
    assert "40\xa0minutes" in response.content.decode()


def test_an_acknowledged_urgent_case_moves_from_urgent_to_held(coordinator_client, coordinator):
    referral = _urgent("U00003", minutes_ago=3)
    Referral.objects.filter(pk=referral.pk).update(
        urgent_acknowledged_at=timezone.now(), urgent_acknowledged_by=coordinator
    )
    response = coordinator_client.get(DASHBOARD)
    assert list(_queue(response, "urgent").page) == []
    assert [r.reference for r in _queue(response, "held").page] == ["U00003"]


def test_unmatched_cases_show_the_reason_the_matcher_gave(coordinator_client):
    ReferralFactory(status="unmatched", unmatched_reason="Every clinician works in that district")
    response = coordinator_client.get(DASHBOARD)
    assert "Every clinician works in that district" in response.content.decode()


def test_awaiting_clinician_lists_unanswered_invitations_with_resend_and_rematch(
    coordinator_client,
):
    appointment = AppointmentFactory(status="tentative")
    AppointmentFactory(status="accepted")
    response = coordinator_client.get(DASHBOARD)
    assert [row.pk for row in _queue(response, "awaiting").page] == [appointment.pk]
    page = response.content.decode()
    assert (
        reverse(
            "coordinate:appointment_resend", args=[appointment.referral.reference, appointment.pk]
        )
        in page
    )
    assert (
        reverse(
            "coordinate:appointment_rematch", args=[appointment.referral.reference, appointment.pk]
        )
        in page
    )


def test_upcoming_shows_booked_sessions_soonest_first_and_closed_shows_recent_closures(
    coordinator_client,
):
    later = AppointmentFactory(
        status="accepted", slot=SlotFactory(starts_at=timezone.now() + dt.timedelta(days=3))
    )
    sooner = AppointmentFactory(
        status="accepted", slot=SlotFactory(starts_at=timezone.now() + dt.timedelta(days=1))
    )
    AppointmentFactory(
        status="accepted", slot=SlotFactory(starts_at=timezone.now() + dt.timedelta(days=40))
    )
    closed = ReferralFactory(status="closed", closed_outcome="sessions_completed")
    response = coordinator_client.get(DASHBOARD)
    assert [row.pk for row in _queue(response, "upcoming").page] == [sooner.pk, later.pk]
    assert [row.pk for row in _queue(response, "closed").page] == [closed.pk]


def test_lists_filter_by_program_and_district(coordinator_client):
    dup, jmo = ProgramFactory(code="dup"), ProgramFactory(code="jmo")
    west, east = DistrictFactory(code="west"), DistrictFactory(code="east")
    wanted = ReferralFactory(status="unmatched", program=dup, workplace_district=west)
    ReferralFactory(status="unmatched", program=jmo, workplace_district=west)
    ReferralFactory(status="unmatched", program=dup, workplace_district=east)
    response = coordinator_client.get(DASHBOARD, {"program": "dup", "district": "west"})
    assert [row.pk for row in _queue(response, "unmatched").page] == [wanted.pk]


def test_an_exact_reference_opens_the_case_and_a_partial_one_filters(coordinator_client):
    ReferralFactory(reference="QX1234", status="unmatched")
    ReferralFactory(reference="QX9999", status="unmatched")
    ReferralFactory(reference="ZZ0001", status="unmatched")
    assert coordinator_client.get(DASHBOARD, {"reference": "qx1234"})["Location"] == reverse(
        "coordinate:case", args=["QX1234"]
    )
    response = coordinator_client.get(DASHBOARD, {"reference": "qx"})
    assert {r.reference for r in _queue(response, "unmatched").page} == {"QX1234", "QX9999"}


@override_settings(STAFF_PAGE_SIZE=2)
def test_every_list_pages(coordinator_client):
    for n in range(5):
        ReferralFactory(reference=f"UM{n:04d}", status="unmatched")
    first = _queue(coordinator_client.get(DASHBOARD), "unmatched").page
    third = _queue(coordinator_client.get(DASHBOARD, {"unmatched_page": 3}), "unmatched").page
    assert (len(first), first.paginator.num_pages, len(third)) == (2, 3, 1)


def test_the_live_counts_say_how_many_and_nothing_about_anyone(coordinator_client):
    _urgent("U00009", minutes_ago=1, given_name="Unmistakable")
    response = coordinator_client.get(reverse("coordinate:counts"))
    assert json.loads(response.content)["counts"]["urgent"] == 1
    assert b"Unmistakable" not in response.content and b"U00009" not in response.content


def test_phone_intake_is_linked_from_the_dashboard_and_opens_for_the_coordinator(
    coordinator_client,
):
    page = coordinator_client.get(DASHBOARD).content.decode()
    assert 'href="/intake/phone/"' in page
    assert coordinator_client.get("/intake/phone/", follow=True).status_code == 200


def test_every_row_links_to_its_case_page_and_the_filters_list_every_choice(
    coordinator_client,
):
    programs = [ProgramFactory(code="dup"), ProgramFactory(code="jmo")]
    districts = [DistrictFactory(code=f"d{n}") for n in range(3)]
    bulk_cases(14, programs=programs, districts=districts, clinician=ClinicianFactory())
    ReferralFactory(reference="odd-ref", status="unmatched")  # never made, but still linked
    response = coordinator_client.get(DASHBOARD)
    page = response.content.decode()
    rows = [row for queue in response.context["queues"] for row in queue.page]
    references = {getattr(row, "referral", row).reference for row in rows}
    assert len(references) > 6 and "odd-ref" in references
    for reference in references:
        assert f'<a href="{reverse("coordinate:case", args=[reference])}">{reference}</a>' in page
    for item in [*programs, *districts]:
        assert f'<option value="{item.code}">{item}</option>' in page


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(DASHBOARD, {"program": ""}).status_code == 200
    return len(queries)


def test_the_dashboard_costs_the_same_few_queries_with_2000_cases(
    coordinator_client, django_assert_max_num_queries
):
    programs = [ProgramFactory(code="dup"), ProgramFactory(code="jmo")]
    districts = [DistrictFactory(code=f"d{n}") for n in range(4)]
    clinician = ClinicianFactory()
    bulk_cases(14, programs=programs, districts=districts, clinician=clinician)
    coordinator_client.get(DASHBOARD)  # the first request of a session also stamps it
    few = _dashboard_queries(coordinator_client)
    bulk_cases(2000, programs=programs, districts=districts, clinician=clinician, start=100)
    with django_assert_max_num_queries(14):
        response = coordinator_client.get(DASHBOARD)
    assert _queue(response, "urgent").page.paginator.count > 250
    assert _dashboard_queries(coordinator_client) == few
