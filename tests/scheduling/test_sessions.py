"""A session's life after it is offered: cancelling under the notice rule, moving (one calendar
event with the same clinician), completing and the next session, no-shows, withdrawing."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import appointment_notify, notices_send
from referrals.models import Referral
from scheduling.models import Appointment, AppointmentEvent
from scheduling.services import (
    By,
    SessionActionError,
    appointment_cancel,
    appointment_complete,
    appointment_no_show,
    appointment_reschedule,
    referral_next_session,
    referral_withdraw,
)
from scheduling.session_selectors import move_options, session_count
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.django_db
A = Appointment.Status
R = Referral.Status
K = OutboundMessage.Kind
SYDNEY = ZoneInfo("Australia/Sydney")


def at(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def slot_at(clinician, starts_at):
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


def clinician_for(program, **fields):
    return ClinicianFactory(programs=[program], districts=[DistrictFactory()], **fields)


def booked(*, hours: float = 72, program=None, clinician=None, **referral_fields) -> Appointment:
    """An accepted session `hours` from now, invitation and confirmation already sent."""
    program = program or ProgramFactory()
    clinician = clinician or clinician_for(program)
    referral = ReferralFactory(program=program, status=R.BOOKED, **referral_fields)
    appointment = AppointmentFactory(
        referral=referral, slot=slot_at(clinician, at(hours)), status=A.ACCEPTED
    )
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    appointment_notify(appointment_id=appointment.pk, change="accepted")
    return appointment


def next_week_at(weekday: int, hour: int, weeks: int = 1) -> dt.datetime:
    """That weekday and hour in Sydney, `weeks` weeks on from this one; a week further on when
    the run begins on a Sunday, so that even the Monday is more than a day away (a session
    that starts within a day can no longer be moved)."""
    today = timezone.now().astimezone(SYDNEY).date()
    weeks += today.weekday() == 6
    day = today + dt.timedelta(days=7 * weeks - today.weekday() + weekday)
    return dt.datetime.combine(day, dt.time(hour), SYDNEY)


def messages_of(appointment, *kinds):
    return list(
        OutboundMessage.objects.filter(appointment=appointment, kind__in=kinds).order_by("pk")
    )


# --- Cancelling -----------------------------------------------------------------------------


def test_a_referrer_cancelling_exactly_at_the_notice_is_not_late():
    appointment = booked(program=ProgramFactory(cancellation_notice_hours=24))
    boundary = appointment.slot.starts_at - dt.timedelta(hours=24)
    outcome = appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER, now=boundary)
    appointment.refresh_from_db()
    assert (appointment.status, outcome.is_late) == (A.CANCELLED, False)


def test_a_referrer_cancelling_a_second_inside_the_notice_cancels_late():
    appointment = booked(program=ProgramFactory(cancellation_notice_hours=24))
    inside = appointment.slot.starts_at - dt.timedelta(hours=24) + dt.timedelta(seconds=1)
    outcome = appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER, now=inside)
    appointment.refresh_from_db()
    assert (appointment.status, outcome.is_late) == (A.LATE_CANCELLED, True)


@pytest.mark.parametrize(("uses_session", "used", "next_number"), [(True, 1, 2), (False, 0, 1)])
def test_a_late_cancellation_uses_up_a_session_only_when_the_program_says_so(
    uses_session, used, next_number
):
    program = ProgramFactory(session_limit=3, late_cancellation_uses_session=uses_session)
    appointment = booked(hours=5, program=program)
    later = slot_at(appointment.clinician, at(24 * 4))

    outcome = appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert outcome.uses_session is uses_session
    assert session_count(referral).used == used

    next_session = referral_next_session(referral_id=referral.pk)
    proposed = Appointment.objects.get(pk=next_session.appointment_id)
    assert (proposed.slot, proposed.session_number) == (later, next_number)


def test_a_clinicians_cancellation_is_never_late_and_the_case_goes_back_to_the_matcher(
    django_capture_on_commit_callbacks,
):
    appointment = booked(hours=3)
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = appointment_cancel(
            appointment_id=appointment.pk, by=By.CLINICIAN, actor=appointment.clinician.user
        )
    appointment.refresh_from_db()
    appointment.referral.refresh_from_db()
    assert (appointment.status, outcome.is_late) == (A.CANCELLED, False)
    assert appointment.referral.status == R.NEW
    assert callbacks  # the match is queued after commit


def test_a_referrers_cancellation_holds_the_case_so_they_can_book_again():
    appointment = booked()
    appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert referral.status == R.HELD
    assert "may book again" in referral.hold_reason


def test_cancelling_sends_the_clinician_a_cancel_with_a_higher_sequence_and_tells_the_referrer():
    appointment = booked()
    outcome = appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
    notices_send(outcome.notices)
    (invitation,) = messages_of(appointment, K.INVITATION)
    (cancel,) = messages_of(appointment, K.INVITATION_CANCEL)
    assert (cancel.ical_method, cancel.ical_uid) == ("CANCEL", invitation.ical_uid)
    assert cancel.ical_sequence == invitation.ical_sequence + 1
    (told,) = messages_of(appointment, K.CONFIRMATION_CANCEL)
    assert told.recipient == appointment.referral.email
    assert "As you asked" in told.body_text


def test_a_session_that_has_started_cannot_be_cancelled():
    appointment = booked(hours=-0.5)
    with pytest.raises(SessionActionError, match="already started"):
        appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
    appointment.refresh_from_db()
    assert appointment.status == A.ACCEPTED


def test_a_clinician_cannot_cancel_another_clinicians_session():
    appointment = booked()
    other = ClinicianFactory()
    with pytest.raises(SessionActionError, match="not one of your sessions"):
        appointment_cancel(appointment_id=appointment.pk, by=By.CLINICIAN, actor=other.user)


def test_cancelling_twice_is_refused_and_sends_nothing_more():
    appointment = booked()
    notices_send(appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER).notices)
    sent = OutboundMessage.objects.count()
    with pytest.raises(SessionActionError):
        appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
    assert OutboundMessage.objects.count() == sent


# --- Moving ---------------------------------------------------------------------------------


def test_moving_to_another_time_of_the_same_clinician_keeps_the_uid_and_raises_the_sequence():
    appointment = booked()
    new_slot = slot_at(appointment.clinician, at(24 * 5))
    outcome = appointment_reschedule(
        appointment_id=appointment.pk, slot_id=new_slot.pk, by=By.REFERRER
    )
    notices_send(outcome.notices)

    moved = Appointment.objects.get(pk=appointment.pk)
    assert outcome.is_moved_in_place and outcome.appointment_id == appointment.pk
    assert (moved.slot, moved.status) == (new_slot, A.ACCEPTED)
    assert moved.ical_uid == appointment.ical_uid
    (first,) = messages_of(appointment, K.INVITATION)
    (update,) = messages_of(appointment, K.INVITATION_UPDATE)
    assert (update.ical_method, update.ical_uid) == ("REQUEST", first.ical_uid)
    assert update.ical_sequence == first.ical_sequence + 1 == moved.ical_sequence
    local_start = new_slot.starts_at.astimezone(SYDNEY)
    assert f"DTSTART;TZID=Australia/Sydney:{local_start:%Y%m%dT%H%M%S}" in update.ical_text
    assert messages_of(appointment, K.CONFIRMATION_UPDATE)[0].recipient == moved.referral.email
    assert AppointmentEvent.objects.filter(
        appointment=appointment, from_status=A.ACCEPTED, to_status=A.ACCEPTED
    ).exists()


def test_a_moved_session_leaves_its_old_time_free_for_others():
    appointment = booked()
    old_slot = appointment.slot
    new_slot = slot_at(appointment.clinician, at(24 * 5))
    appointment_reschedule(appointment_id=appointment.pk, slot_id=new_slot.pk, by=By.REFERRER)
    assert not old_slot.appointments.filter(status__in=Appointment.LIVE_STATUSES).exists()


def test_moving_to_another_clinician_cancels_the_old_invitation_and_proposes_to_the_new():
    appointment = booked()
    other = clinician_for(appointment.referral.program)
    their_slot = slot_at(other, at(24 * 4))
    outcome = appointment_reschedule(
        appointment_id=appointment.pk, slot_id=their_slot.pk, by=By.REFERRER
    )
    notices_send(outcome.notices)

    appointment.refresh_from_db()
    new = Appointment.objects.get(pk=outcome.appointment_id)
    assert appointment.status == A.CANCELLED
    assert (new.clinician, new.slot, new.status, new.session_number) == (
        other,
        their_slot,
        A.PROPOSED,
        appointment.session_number,
    )
    assert new.ical_uid != appointment.ical_uid
    assert messages_of(appointment, K.INVITATION_CANCEL)[0].ical_method == "CANCEL"
    assert messages_of(new, K.INVITATION)[0].recipient == other.calendar_email
    assert Referral.objects.get(pk=new.referral_id).status == R.PROPOSED


def test_a_referrer_cannot_move_a_session_inside_the_cancellation_notice():
    appointment = booked(hours=10, program=ProgramFactory(cancellation_notice_hours=24))
    new_slot = slot_at(appointment.clinician, at(24 * 5))
    with pytest.raises(SessionActionError, match="can no longer be moved"):
        appointment_reschedule(appointment_id=appointment.pk, slot_id=new_slot.pk, by=By.REFERRER)


def test_a_time_another_session_holds_is_refused():
    appointment = booked()
    taken = slot_at(appointment.clinician, at(24 * 5))
    AppointmentFactory(slot=taken, status=A.PROPOSED)
    with pytest.raises(SessionActionError, match="no longer available"):
        appointment_reschedule(appointment_id=appointment.pk, slot_id=taken.pk, by=By.REFERRER)
    appointment.refresh_from_db()
    assert appointment.slot_id != taken.pk


def test_a_move_into_a_week_the_clinician_has_full_is_refused_but_within_its_own_week_is_not():
    program = ProgramFactory()
    clinician = clinician_for(program, weekly_capacity=1)
    monday, thursday = next_week_at(0, 10), next_week_at(3, 10)
    full_week = next_week_at(1, 10, weeks=2)
    appointment = AppointmentFactory(
        referral=ReferralFactory(program=program, status=R.BOOKED),
        slot=slot_at(clinician, monday),
        status=A.ACCEPTED,
    )
    AppointmentFactory(slot=slot_at(clinician, full_week), status=A.ACCEPTED)
    blocked = slot_at(clinician, full_week + dt.timedelta(hours=2))
    same_week = slot_at(clinician, thursday)

    with pytest.raises(SessionActionError):
        appointment_reschedule(appointment_id=appointment.pk, slot_id=blocked.pk, by=By.REFERRER)
    appointment_reschedule(appointment_id=appointment.pk, slot_id=same_week.pk, by=By.REFERRER)
    appointment.refresh_from_db()
    assert appointment.slot == same_week


def test_the_times_offered_for_a_move_list_the_same_clinician_first_and_never_the_own_district():
    appointment = booked()
    program, home = appointment.referral.program, appointment.referral.workplace_district
    own_later = slot_at(appointment.clinician, at(24 * 6))
    other = clinician_for(program)
    other_slot = slot_at(other, at(24 * 4))
    local = ClinicianFactory(programs=[program], districts=[home])
    slot_at(local, at(24 * 3))
    appointment.refresh_from_db()

    options = move_options(appointment, now=timezone.now())
    assert options.same_clinician == [own_later]
    assert options.other_clinicians == [other_slot]


# --- Completing, no-shows and the next session ----------------------------------------------


def test_completing_session_one_proposes_session_two_with_the_same_clinician():
    program = ProgramFactory(session_limit=3)
    first = booked(hours=-2, program=program)
    sooner_elsewhere = slot_at(clinician_for(program), at(30))
    same_clinician_later = slot_at(first.clinician, at(80))

    outcome = appointment_complete(
        appointment_id=first.pk, by=By.CLINICIAN, actor=first.clinician.user
    )
    notices_send(outcome.notices)

    second = Appointment.objects.get(pk=outcome.next_session.appointment_id)
    assert Appointment.objects.get(pk=first.pk).status == A.COMPLETED
    assert (second.clinician, second.slot, second.session_number, second.status) == (
        first.clinician,
        same_clinician_later,
        2,
        A.PROPOSED,
    )
    assert second.slot != sooner_elsewhere
    assert messages_of(second, K.INVITATION)[0].recipient == first.clinician.calendar_email


def test_the_next_session_keeps_within_the_referrers_preferred_windows():
    program = ProgramFactory(session_limit=3)
    first = booked(hours=-2, program=program, preferred_windows=["mon-morning"])
    slot_at(first.clinician, next_week_at(1, 10))  # a Tuesday: outside the windows
    monday = slot_at(first.clinician, next_week_at(0, 10, weeks=2))
    outcome = appointment_complete(appointment_id=first.pk, by=By.COORDINATOR)
    assert Appointment.objects.get(pk=outcome.next_session.appointment_id).slot == monday


def test_completing_the_last_session_closes_the_case_and_tells_the_referrer():
    program = ProgramFactory(session_limit=1)
    appointment = booked(hours=-2, program=program)
    slot_at(appointment.clinician, at(80))
    outcome = appointment_complete(appointment_id=appointment.pk, by=By.COORDINATOR)
    notices_send(outcome.notices)
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert outcome.is_last_session
    assert (referral.status, referral.closed_outcome) == (R.CLOSED, "sessions_completed")
    assert OutboundMessage.objects.filter(referral=referral, kind=K.CLOSED).count() == 1
    assert not referral.appointments.filter(status=A.PROPOSED).exists()


def test_a_session_cannot_be_marked_before_it_starts():
    appointment = booked(hours=5)
    with pytest.raises(SessionActionError, match="once it has started"):
        appointment_complete(appointment_id=appointment.pk, by=By.COORDINATOR)
    with pytest.raises(SessionActionError, match="once it has started"):
        appointment_no_show(appointment_id=appointment.pk, by=By.COORDINATOR)


def test_only_the_sessions_own_clinician_or_a_coordinator_marks_it():
    appointment = booked(hours=-2)
    with pytest.raises(SessionActionError, match="not one of your sessions"):
        appointment_complete(
            appointment_id=appointment.pk, by=By.CLINICIAN, actor=ClinicianFactory().user
        )
    with pytest.raises(SessionActionError, match="Only the clinician or a coordinator"):
        appointment_complete(appointment_id=appointment.pk, by=By.REFERRER)
    assert Appointment.objects.get(pk=appointment.pk).status == A.ACCEPTED


@pytest.mark.parametrize(("uses_session", "used"), [(True, 1), (False, 0)])
def test_a_no_show_holds_the_case_and_counts_as_the_program_says(uses_session, used):
    program = ProgramFactory(late_cancellation_uses_session=uses_session)
    appointment = booked(hours=-2, program=program)
    appointment_no_show(
        appointment_id=appointment.pk, by=By.CLINICIAN, actor=appointment.clinician.user
    )
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert Appointment.objects.get(pk=appointment.pk).status == A.NO_SHOW
    assert referral.status == R.HELD
    assert session_count(referral).used == used


def test_no_next_session_is_proposed_past_the_limit():
    program = ProgramFactory(session_limit=1)
    appointment = booked(hours=-2, program=program)
    Appointment.objects.filter(pk=appointment.pk).update(status=A.COMPLETED)
    slot_at(appointment.clinician, at(80))
    with pytest.raises(SessionActionError, match="used all 1 sessions"):
        referral_next_session(referral_id=appointment.referral_id)
    assert not Appointment.objects.filter(status=A.PROPOSED).exists()


def test_a_next_session_cannot_be_asked_for_while_one_is_booked():
    appointment = booked()
    with pytest.raises(SessionActionError, match="already booked"):
        referral_next_session(referral_id=appointment.referral_id)


def test_with_no_time_left_the_next_session_request_tells_the_referrer_once():
    appointment = booked(hours=-2, program=ProgramFactory(session_limit=3))
    outcome = appointment_complete(appointment_id=appointment.pk, by=By.COORDINATOR)
    notices_send(outcome.notices)
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert referral.status == R.UNMATCHED
    assert OutboundMessage.objects.filter(referral=referral, kind=K.UNMATCHED).count() == 1


# --- Withdrawing ----------------------------------------------------------------------------


def test_withdrawing_cancels_the_sessions_to_come_and_tells_the_clinician_and_referrer():
    appointment = booked()
    outcome = referral_withdraw(referral_id=appointment.referral_id, by=By.REFERRER)
    notices_send(outcome.notices)
    referral = Referral.objects.get(pk=appointment.referral_id)
    assert referral.status == R.WITHDRAWN
    assert Appointment.objects.get(pk=appointment.pk).status == A.CANCELLED
    assert messages_of(appointment, K.INVITATION_CANCEL)[0].ical_method == "CANCEL"
    assert OutboundMessage.objects.filter(referral=referral, kind=K.WITHDRAWN).count() == 1


def test_withdrawing_inside_the_notice_is_a_late_cancellation():
    appointment = booked(hours=5, program=ProgramFactory(cancellation_notice_hours=24))
    referral_withdraw(referral_id=appointment.referral_id, by=By.REFERRER)
    assert Appointment.objects.get(pk=appointment.pk).status == A.LATE_CANCELLED


def test_a_withdrawn_referral_cannot_be_withdrawn_again():
    referral = ReferralFactory(status=R.NEW)
    referral_withdraw(referral_id=referral.pk, by=By.REFERRER)
    with pytest.raises(SessionActionError, match="already withdrawn"):
        referral_withdraw(referral_id=referral.pk, by=By.REFERRER)


def test_a_coordinator_may_cancel_a_booked_session_that_did_not_take_place():
    appointment = booked(hours=-1)
    appointment_cancel(appointment_id=appointment.pk, by=By.COORDINATOR, reason="No one came")
    assert Appointment.objects.get(pk=appointment.pk).status == A.CANCELLED
