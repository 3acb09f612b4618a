"""Drs4Drs "talk to a counsellor now": the earliest on-duty counsellor slot within the hour."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from referrals.models import Program, Referral
from scheduling.models import Appointment
from scheduling.services.urgent import urgent_consult_propose
from tests.referrals.factories import DistrictFactory, ReferralFactory, reference_data_ensure
from tests.referrals.wizard import STEPS_BEFORE_SAFETY, Wizard, routine_answers
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the wizard's submission counters


@pytest.fixture
def reference_data(db):
    reference_data_ensure()


@pytest.fixture
def drs4drs(reference_data) -> Program:
    return Program.objects.get(code="drs4drs")


@pytest.fixture
def diverted(drs4drs) -> Referral:
    return ReferralFactory(program=drs4drs, status=Referral.Status.DIVERTED)


def counsellor(program: Program, **changes):
    fields = {"roles": ["counsellor"], "is_on_duty": True, "programs": [program]}
    fields.update(changes)
    return ClinicianFactory(**fields)


def slot_in(minutes: int, clinician):
    starts_at = NOW + dt.timedelta(minutes=minutes)
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


def test_the_earliest_on_duty_counsellor_slot_within_the_hour_is_proposed_at_once(
    diverted, drs4drs
):
    later = slot_in(50, counsellor(drs4drs))
    earliest = slot_in(20, counsellor(drs4drs))
    appointment = urgent_consult_propose(referral_id=diverted.pk, now=NOW)
    assert appointment.slot == earliest and later.appointments.count() == 0
    assert (appointment.status, appointment.session_number) == ("proposed", 1)
    assert appointment.events.get().to_status == "proposed"
    diverted.refresh_from_db()
    assert diverted.status == "proposed" and diverted.wants_urgent_consult


@pytest.mark.parametrize(
    "unsuitable",
    [
        {"is_on_duty": False},
        {"is_active": False},
        {"roles": ["coach"]},
        {"programs": []},
    ],
    ids=["off-duty", "inactive", "not-a-counsellor", "not-drs4drs"],
)
def test_only_an_active_on_duty_drs4drs_counsellor_is_asked(diverted, drs4drs, unsuitable):
    slot_in(15, counsellor(drs4drs, **unsuitable))
    assert urgent_consult_propose(referral_id=diverted.pk, now=NOW) is None


def test_a_slot_starting_after_the_hour_or_already_taken_is_not_offered(diverted, drs4drs):
    slot_in(61, counsellor(drs4drs))
    taken = slot_in(10, counsellor(drs4drs))
    AppointmentFactory(slot=taken, clinician=taken.clinician)
    assert urgent_consult_propose(referral_id=diverted.pk, now=NOW) is None


def test_a_counsellor_from_the_persons_own_district_is_never_asked(diverted, drs4drs):
    slot_in(10, counsellor(drs4drs, districts=[diverted.workplace_district]))
    elsewhere = slot_in(40, counsellor(drs4drs, districts=[DistrictFactory()]))
    assert urgent_consult_propose(referral_id=diverted.pk, now=NOW).slot == elsewhere


def test_with_no_counsellor_free_the_case_stays_urgent_and_remembers_the_request(diverted):
    assert urgent_consult_propose(referral_id=diverted.pk, now=NOW) is None
    diverted.refresh_from_db()
    assert diverted.status == "diverted" and diverted.wants_urgent_consult


def test_asking_twice_keeps_the_one_proposal(diverted, drs4drs):
    slot_in(20, counsellor(drs4drs))
    slot_in(30, counsellor(drs4drs))
    first = urgent_consult_propose(referral_id=diverted.pk, now=NOW)
    assert urgent_consult_propose(referral_id=diverted.pk, now=NOW) == first
    assert Appointment.objects.count() == 1


def test_a_program_without_urgent_consults_never_books_one(reference_data):
    dup = Program.objects.get(code="dup")
    referral = ReferralFactory(program=dup, status=Referral.Status.DIVERTED)
    slot_in(10, counsellor(dup))
    assert urgent_consult_propose(referral_id=referral.pk, now=NOW) is None


def divert_through_the_wizard(client: Client) -> None:
    wizard = Wizard(client)
    answers = routine_answers(program="drs4drs")
    wizard.walk(answers, STEPS_BEFORE_SAFETY)
    wizard.post("safety", {**answers["safety"], "is_safe_now": "no"})


def test_choosing_to_talk_now_tells_the_person_when_to_expect_the_call(client, drs4drs):
    slot_in(30, counsellor(drs4drs))
    divert_through_the_wizard(client)
    response = client.post("/refer/urgent/", {"talk_now": "yes"}, follow=True)
    page = response.content.decode()
    assert "A counsellor has been asked to call" in page
    assert Referral.objects.get().status == "proposed"


def test_choosing_to_talk_now_with_nobody_free_says_so_and_points_to_the_24_hour_line(
    client, drs4drs
):
    divert_through_the_wizard(client)
    page = client.post("/refer/urgent/", {"talk_now": "yes"}, follow=True).content.decode()
    assert "No counsellor is free in the next hour" in page
    assert "1300 374 377" in page
    assert Referral.objects.get().status == "diverted"


def test_only_the_person_who_was_diverted_can_ask_for_their_consult(client, drs4drs):
    slot_in(30, counsellor(drs4drs))
    divert_through_the_wizard(client)
    stranger = Client()
    stranger.post("/refer/urgent/", {"talk_now": "yes"})
    assert Referral.objects.get().status == "diverted"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_arranging_an_urgent_consult_does_not_hold_up_new_referrals_to_the_program(
    diverted, drs4drs
):
    """The consult locks the person's referral, not the program it names: a new referral to
    the program checks that row (its foreign key) at commit, and must not wait meanwhile."""
    import psycopg
    from django.db import transaction

    from tests.conftest import database_url_for_subprocesses

    slot_in(20, counsellor(drs4drs))
    with transaction.atomic():
        assert urgent_consult_propose(referral_id=diverted.pk, now=NOW) is not None
        with psycopg.connect(database_url_for_subprocesses()) as other:
            locked = other.execute(
                "SELECT id FROM referrals_program WHERE id = %s FOR KEY SHARE SKIP LOCKED",
                [drs4drs.pk],
            ).fetchall()
    assert locked == [(drs4drs.pk,)]
