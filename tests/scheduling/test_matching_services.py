"""Matching against the database: proposals, decline, expiry, idempotency, batches."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import CHANGE_FOR_STATUS, appointment_notify
from referrals.models import Referral, ReferralEvent
from scheduling import tasks
from scheduling.models import Appointment
from scheduling.selectors import assignment_breaches, full_weeks_forget
from scheduling.services import (
    Response,
    appointment_respond,
    proposal_expire,
    referral_match,
    referral_rematch,
    referrals_plan_batch,
    referrals_propose_batch,
)
from scheduling.services.matching import HeldTime, SlotUnavailable, _create_proposal
from tests.referrals.factories import (
    DistrictFactory,
    FacilityFactory,
    ProgramFactory,
    ReferralFactory,
)
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.django_db
A = Appointment.Status


def at(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def clinician_with_slots(program, *hours, district=None, **fields):
    clinician = ClinicianFactory(
        programs=[program], districts=[district or DistrictFactory()], **fields
    )
    slots = [
        SlotFactory(clinician=clinician, starts_at=at(h), ends_at=at(h) + dt.timedelta(hours=1))
        for h in hours
    ]
    return clinician, slots


def live(referral) -> list[Appointment]:
    return list(referral.appointments.filter(status__in=Appointment.LIVE_STATUSES))


def test_a_referral_is_offered_the_earliest_time_and_the_proposal_says_why():
    program = ProgramFactory()
    _later, _ = clinician_with_slots(program, 80)
    sooner, (slot, _other) = clinician_with_slots(program, 40, 90)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    referral.refresh_from_db()
    (appointment,) = live(referral)
    assert referral.status == Referral.Status.PROPOSED
    assert (appointment.slot, appointment.clinician, appointment.session_number) == (
        slot,
        sooner,
        1,
    )
    assert set(appointment.match_explanation["terms"]) == {
        "wait",
        "fairness",
        "preferences",
        "continuity",
    }
    assert appointment.match_explanation["mode"] == "single"
    assert appointment.expires_at <= timezone.now() + dt.timedelta(hours=48)


def test_the_matcher_never_proposes_a_clinician_from_the_referrers_district():
    program, home = ProgramFactory(), DistrictFactory()
    clinician_with_slots(program, 30, 31, district=home)
    far, _ = clinician_with_slots(program, 200)
    referral = ReferralFactory(program=program, workplace_district=home)
    tasks.match_referral(referral.pk)
    assert [a.clinician for a in live(referral)] == [far]


def test_the_matcher_never_proposes_a_clinician_at_the_facility_the_referrer_named():
    program, facility = ProgramFactory(), FacilityFactory()
    near, _ = clinician_with_slots(program, 30)
    near.facilities.set([facility])
    far, _ = clinician_with_slots(program, 200)
    referral = ReferralFactory(program=program, workplace_facility=facility)
    tasks.match_referral(referral.pk)
    assert [a.clinician for a in live(referral)] == [far]


def next_week_at(weekday: int, hour: int) -> dt.datetime:
    """That weekday and hour next week, in Sydney (where the factories' clinicians are)."""
    sydney = ZoneInfo("Australia/Sydney")
    today = timezone.now().astimezone(sydney).date()
    day = today + dt.timedelta(days=7 - today.weekday() + weekday)
    return dt.datetime.combine(day, dt.time(hour), sydney)


def test_a_clinician_whose_week_is_full_is_passed_over():
    program = ProgramFactory()
    busy = ClinicianFactory(programs=[program], districts=[DistrictFactory()], weekly_capacity=1)
    held, free_hour = next_week_at(1, 10), next_week_at(3, 10)
    done = SlotFactory(clinician=busy, starts_at=held, ends_at=held + dt.timedelta(hours=1))
    SlotFactory(clinician=busy, starts_at=free_hour, ends_at=free_hour + dt.timedelta(hours=1))
    AppointmentFactory(slot=done, status=A.COMPLETED)
    other, _ = clinician_with_slots(program, 24 * 16)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    assert [a.clinician for a in live(referral)] == [other]


def test_a_later_session_goes_to_the_same_clinician_and_is_numbered_two():
    program = ProgramFactory(session_limit=3)
    first_clinician, (past,) = clinician_with_slots(program, 20)
    clinician_with_slots(program, 30)
    clinician_with_slots(first_clinician.programs.first(), 100)
    next_slot = SlotFactory(clinician=first_clinician, starts_at=at(120), ends_at=at(121))
    earlier = ReferralFactory(program=program, status="booked")
    AppointmentFactory(referral=earlier, slot=past, status=A.COMPLETED)
    referral = ReferralFactory(program=program, episode=earlier.episode, email=earlier.email)
    tasks.match_referral(referral.pk)
    (appointment,) = live(referral)
    assert (appointment.slot, appointment.session_number) == (next_slot, 2)
    assert appointment.match_explanation["terms"]["continuity"] == 0


def test_a_declined_proposal_is_offered_to_another_clinician(django_capture_on_commit_callbacks):
    program = ProgramFactory()
    clinician_with_slots(program, 30, 32)
    clinician_with_slots(program, 50)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    (first,) = live(referral)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_respond(
            appointment_id=first.pk, response=Response.DECLINED, actor_label="clinician"
        )
    (second,) = live(referral)
    assert second.clinician != first.clinician
    assert second.session_number == 1


def test_a_clinician_who_declines_after_accepting_is_not_asked_again_and_the_referrer_is_told(
    django_capture_on_commit_callbacks,
):
    program = ProgramFactory()
    clinician_with_slots(program, 30, 32)
    clinician_with_slots(program, 50)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    (first,) = live(referral)
    appointment_respond(appointment_id=first.pk, response=Response.ACCEPTED, actor_label="c")
    appointment_notify(appointment_id=first.pk, change="accepted")  # the referrer's confirmation
    with django_capture_on_commit_callbacks(execute=True):
        result = appointment_respond(
            appointment_id=first.pk, response=Response.DECLINED, actor_label="clinician"
        )
        appointment_notify(appointment_id=first.pk, change=CHANGE_FOR_STATUS[result.status])
    first.refresh_from_db()
    assert first.status == A.DECLINED
    (second,) = live(referral)
    assert second.clinician != first.clinician
    told = OutboundMessage.objects.filter(appointment=first).values_list("kind", flat=True)
    assert "confirmation_cancel" in told and "invitation_cancel" in told


def test_an_expired_proposal_frees_the_slot_and_goes_to_another_clinician(
    django_capture_on_commit_callbacks,
):
    program = ProgramFactory()
    clinician_with_slots(program, 30)
    clinician_with_slots(program, 50)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    (first,) = live(referral)
    Appointment.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.proposals_expire()
    first.refresh_from_db()
    (second,) = live(referral)
    assert first.status == A.EXPIRED
    assert second.clinician != first.clinician
    assert not first.slot.appointments.filter(status__in=Appointment.LIVE_STATUSES).exists()


def test_matching_twice_proposes_once():
    program = ProgramFactory()
    clinician_with_slots(program, 30, 31)
    referral = ReferralFactory(program=program)
    tasks.match_referral(referral.pk)
    tasks.match_referral(referral.pk)
    assert referral.appointments.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_match_that_finds_its_referral_locked_elsewhere_tries_again_shortly(
    settings, monkeypatch
):
    """A killed worker's transaction can still hold the referral when Celery redelivers its
    task: the match says so and retries, instead of taking it for a live worker's and stopping."""
    import psycopg

    from tests.conftest import database_url_for_subprocesses

    class Retried(Exception):
        pass

    def retry(**options):
        raise Retried(options)

    monkeypatch.setattr(tasks.match_referral, "retry", retry)
    settings.MATCH_LOCKED_RETRY_SECONDS = 7
    program = ProgramFactory()
    clinician_with_slots(program, 30)
    referral = ReferralFactory(program=program)
    with psycopg.connect(database_url_for_subprocesses()) as other:
        other.execute("SELECT id FROM referrals_referral WHERE id = %s FOR UPDATE", [referral.pk])
        assert referral_match(referral_id=referral.pk).is_locked_elsewhere
        with pytest.raises(Retried) as retried:
            tasks.match_referral(referral.pk)
        assert retried.value.args[0] == {"countdown": 7, "max_retries": 12}
        other.rollback()
    tasks.match_referral(referral.pk)
    assert referral.appointments.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_on_the_sessions_time_holds_up_neither_its_expiry_nor_a_rematch():
    """Expiring or withdrawing a proposal locks the appointment, not its slot: a clinician's
    availability change checking that slot meanwhile must not make the expiry skip the
    proposal (left held past its deadline) or keep a coordinator's re-match waiting."""
    import psycopg

    from tests.conftest import database_url_for_subprocesses

    program = ProgramFactory()
    clinician_with_slots(program, 30)
    clinician_with_slots(program, 50)
    expiring, withdrawn = ReferralFactory(program=program), ReferralFactory(program=program)
    for referral in (expiring, withdrawn):
        referral_match(referral_id=referral.pk)
    (first,), (second,) = live(expiring), live(withdrawn)
    Appointment.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    with psycopg.connect(database_url_for_subprocesses()) as other:
        other.execute(
            "SELECT id FROM scheduling_slot WHERE id = ANY(%s) FOR UPDATE",
            [[first.slot_id, second.slot_id]],
        )
        assert proposal_expire(appointment_id=first.pk).is_changed
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            referral_rematch(referral_id=withdrawn.pk, actor=None, actor_label="test", reason="")
        other.rollback()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (A.EXPIRED, A.CANCELLED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_match_waits_for_a_clinicians_availability_change_without_holding_their_time():
    """Saving a clinician's availability locks the clinician, then the times it withdraws. A
    match takes the same locks in the same order: while it waits for the clinician it holds
    none of their times, so the save can go on (in the other order the two deadlocked, and
    PostgreSQL aborted one of them)."""
    import threading

    import psycopg

    from tests.conftest import database_url_for_subprocesses, wait_until_a_backend_waits_on_a_lock

    program = ProgramFactory()
    clinician, (slot,) = clinician_with_slots(program, 30)
    referral = ReferralFactory(program=program)
    outcomes = []

    def match() -> None:
        try:
            outcomes.append(referral_match(referral_id=referral.pk).detail)
        finally:
            connection.close()

    with psycopg.connect(database_url_for_subprocesses()) as availability:
        availability.execute(
            "SELECT id FROM scheduling_clinician WHERE id = %s FOR NO KEY UPDATE", [clinician.pk]
        )
        matching = threading.Thread(target=match)
        matching.start()
        assert wait_until_a_backend_waits_on_a_lock(10)
        withdrawn = availability.execute(
            "SELECT id FROM scheduling_slot WHERE id = %s FOR UPDATE NOWAIT", [slot.pk]
        ).fetchall()
        availability.rollback()
        matching.join(timeout=20)
    assert withdrawn == [(slot.pk,)]
    assert outcomes == ["proposed"]


def test_with_nothing_feasible_the_referral_waits_unmatched_with_the_reason():
    program, home = ProgramFactory(), DistrictFactory()
    clinician_with_slots(program, 30, district=home)
    referral = ReferralFactory(program=program, workplace_district=home)
    first = referral_match(referral_id=referral.pk)
    again = referral_match(referral_id=referral.pk)
    referral.refresh_from_db()
    assert referral.status == Referral.Status.UNMATCHED
    assert "district" in referral.unmatched_reason
    assert (first.is_newly_unmatched, again.is_newly_unmatched) == (True, False)


def test_an_unmatched_referral_is_matched_when_times_appear():
    program = ProgramFactory()
    referral = ReferralFactory(program=program)
    referral_match(referral_id=referral.pk)
    clinician_with_slots(program, 40)
    tasks.match_unmatched()
    referral.refresh_from_db()
    assert referral.status == Referral.Status.PROPOSED


def test_a_coordinator_sees_which_constraints_a_manual_assignment_breaks():
    program, home = ProgramFactory(), DistrictFactory()
    _clinician, (slot,) = clinician_with_slots(program, 2, district=home)
    referral = ReferralFactory(
        program=program, workplace_district=home, preferred_windows=["sun-evening"]
    )
    codes = {b.code for b in assignment_breaches(referral_id=referral.pk, slot_id=slot.pk)}
    assert {"district", "notice"} <= codes
    _ok, (good,) = clinician_with_slots(program, 60)
    assert (
        assignment_breaches(referral_id=ReferralFactory(program=program).pk, slot_id=good.pk) == []
    )


def test_a_backlog_batch_gives_every_referral_its_own_time_or_a_reason():
    program = ProgramFactory()
    clinician_with_slots(program, 30, 31, 32)
    referrals = [ReferralFactory(program=program) for _ in range(5)]
    plan = referrals_plan_batch(referral_ids=[r.pk for r in referrals])
    outcome = referrals_propose_batch(plan=plan)
    proposed = Appointment.objects.filter(status=A.PROPOSED)
    assert len(outcome.appointment_ids) == 3
    assert proposed.values("slot").distinct().count() == 3
    assert Referral.objects.filter(status=Referral.Status.UNMATCHED).count() == 2
    assert all(a.match_explanation["mode"] == "batch" for a in proposed)


def test_a_batch_is_planned_and_written_with_the_collector_paused_and_restarted_after(
    monkeypatch,
):
    # A batch builds hundreds of thousands of objects; the cyclic collector would walk them
    # all again and again. It must run again afterwards, or the worker's memory grows.
    import gc

    import scheduling.services.matching as matching

    seen = []
    for name in ("batch_inputs", "_write_proposals"):
        original = getattr(matching, name)

        def recording(*args, _original=original, _name=name, **kwargs):
            seen.append((_name, gc.isenabled()))
            return _original(*args, **kwargs)

        monkeypatch.setattr(matching, name, recording)
    program = ProgramFactory()
    clinician_with_slots(program, 30, 31)
    referrals = [ReferralFactory(program=program) for _ in range(2)]
    assert gc.isenabled()
    plan = referrals_plan_batch(referral_ids=[r.pk for r in referrals])
    assert gc.isenabled()
    outcome = referrals_propose_batch(plan=plan)
    assert gc.isenabled()
    assert len(outcome.appointment_ids) == 2
    assert seen == [("batch_inputs", False), ("_write_proposals", False)]


def test_the_sweeper_picks_up_a_referral_whose_match_was_lost():
    program = ProgramFactory()
    clinician_with_slots(program, 30)
    referral = ReferralFactory(program=program)
    Referral.objects.filter(pk=referral.pk).update(
        match_requested_at=timezone.now() - dt.timedelta(hours=1)
    )
    tasks.match_sweep()
    referral.refresh_from_db()
    assert referral.status == Referral.Status.PROPOSED


def _queries_for_one_match(clinician_count: int) -> int:
    program = ProgramFactory()
    for i in range(clinician_count):
        clinician_with_slots(program, 30 + i, 60 + i)
    referral = ReferralFactory(program=program)
    # Each count with every copy read afresh: new clinicians and times empty the other two.
    full_weeks_forget()
    with CaptureQueriesContext(connection) as captured:
        referral_match(referral_id=referral.pk)
    assert live(referral)
    return len(captured)


def test_a_single_match_costs_the_same_queries_however_many_clinicians():
    assert _queries_for_one_match(2) == _queries_for_one_match(25)


def test_a_proposal_for_a_time_another_session_holds_is_refused_and_the_transaction_goes_on():
    program = ProgramFactory()
    _clinician, (slot,) = clinician_with_slots(program, 40)
    holder = AppointmentFactory(slot=slot, clinician=slot.clinician, status=A.PROPOSED)
    referral = ReferralFactory(program=program)
    with transaction.atomic():
        with pytest.raises(SlotUnavailable):
            _create_proposal(
                referral,
                HeldTime.of(slot),
                session_number=1,
                explanation={"mode": "single"},
                now=timezone.now(),
            )
        # Nothing was written, and the transaction is still usable (PostgreSQL would refuse
        # every later statement in it had the insert raised).
        assert list(slot.appointments.values_list("pk", flat=True)) == [holder.pk]
        assert not ReferralEvent.objects.filter(referral=referral, to_status="proposed").exists()
    referral.refresh_from_db()
    assert referral.status == "new"


def test_a_proposal_writes_the_session_its_history_the_week_count_and_the_case_move():
    from scheduling.models import AppointmentEvent, ClinicianWeek

    program = ProgramFactory()
    clinician, (slot,) = clinician_with_slots(program, 40)
    referral = ReferralFactory(
        program=program, status=Referral.Status.UNMATCHED, unmatched_reason="No time yet."
    )

    outcome = referral_match(referral_id=referral.pk)

    appointment = Appointment.objects.get(pk=outcome.appointment_id)
    assert (appointment.status, appointment.slot, appointment.referral) == (
        A.PROPOSED,
        slot,
        referral,
    )
    [event] = AppointmentEvent.objects.filter(appointment=appointment)
    assert (event.to_status, event.actor_label, event.reason) == (
        A.PROPOSED,
        "system",
        "proposed by the matcher",
    )
    [week] = ClinicianWeek.objects.filter(clinician=clinician, held__gt=0)
    assert week.held == 1 and week.starts_at <= slot.starts_at < week.ends_at
    referral.refresh_from_db()
    assert (referral.status, referral.unmatched_reason) == (Referral.Status.PROPOSED, "")
    moves = ReferralEvent.objects.filter(referral=referral, to_status="proposed")
    assert [(m.from_status, m.actor_label) for m in moves] == [("unmatched", "system")]
