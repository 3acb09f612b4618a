"""Calendar replies through the one parser: real clients' files, constructed client shapes, and
everything that must change nothing (and never raise)."""

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import ical, inbound, services
from notifications.models import InboundReply, OutboundMessage
from scheduling.models import Appointment
from tests.notifications import replies
from tests.notifications.factories import proposed_appointment
from tests.scheduling.factories import ClinicianFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ical"


def receive(raw: bytes):
    return inbound.message_receive(raw, source="http")


def invited(**overrides) -> Appointment:
    appointment = proposed_appointment(**overrides)
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    return appointment


def status_of(appointment: Appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


# --- the conformance files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "uid", "attendee", "sequence", "status"),
    [
        (
            "calmailproc__test-05-2.eml",
            "0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac",
            "Markus.Brechtel@uk-koeln.de",
            0,
            "accepted",
        ),
        (
            "calmailproc__test-06-2.eml",
            "abcfacd3-4db3-4c42-bcf5-0c17752c65fb",
            "markus.brechtel@uk-koeln.de",
            0,
            "declined",
        ),
        (
            "ccs-calendarserver__good_reply.eml",
            "1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C",
            "xyzzy@example.com",
            7,
            "accepted",
        ),
    ],
)
def test_real_client_replies_are_applied_to_the_matching_invitation(
    name, uid, attendee, sequence, status
):
    clinician = ClinicianFactory(calendar_email=attendee)
    appointment = invited(clinician=clinician, ical_uid=uid, ical_sequence=sequence)
    received = receive((FIXTURES / name).read_bytes())
    assert [r.outcome for r in received.replies] == ["applied"]
    assert status_of(appointment) == status


@pytest.mark.parametrize(
    "name",
    [
        "calmailproc__test-05-1.eml",
        "calmailproc__test-01-2.eml",
        "comm-central__outlook-test-invite.eml",
    ],
)
def test_invitations_and_cancellations_from_elsewhere_are_kept_but_change_nothing(name):
    appointment = invited()
    received = receive((FIXTURES / name).read_bytes())
    assert [r.outcome for r in received.replies] == ["not_a_reply"]
    assert status_of(appointment) == "proposed"


def test_every_conformance_file_parses_without_a_problem():
    for path in sorted(FIXTURES.glob("*.eml")):
        parsed = ical.message_parse(path.read_bytes())
        assert parsed.problem == "", path.name
        assert [r.problem for r in parsed.replies] == [""], path.name
        # Line endings normalised to LF must read the same.
        lf = ical.message_parse(path.read_bytes().replace(b"\r\n", b"\n"))
        assert [r.uid for r in lf.replies] == [r.uid for r in parsed.replies]


def test_a_reply_for_an_unknown_uid_is_stored_with_its_reason():
    invited()
    received = receive((FIXTURES / "calmailproc__test-05-2.eml").read_bytes())
    [reply] = received.replies
    assert reply.outcome == "unknown_uid"
    assert reply.reason


# --- constructed replies in each client's shape -----------------------------------------------


@pytest.mark.parametrize(
    ("shape", "partstat", "status"),
    [
        ("google", "ACCEPTED", "accepted"),
        ("outlook", "ACCEPTED", "accepted"),
        ("apple", "ACCEPTED", "accepted"),
        ("thunderbird", "ACCEPTED", "accepted"),
        ("google", "DECLINED", "declined"),
        ("outlook", "TENTATIVE", "tentative"),
    ],
)
def test_replies_in_each_clients_shape_answer_the_invitation(shape, partstat, status):
    appointment = invited()
    address = appointment.clinician.calendar_email
    # Exchange writes MAILTO: and may change the address's case.
    address = f"MAILTO:{address.upper()}" if shape == "outlook" else f"mailto:{address}"
    text = replies.reply_text(uid=appointment.ical_uid, attendee=address, partstat=partstat)
    build = getattr(replies, f"{shape}_reply")
    received = receive(build(text, appointment.clinician.calendar_email))
    assert [r.outcome for r in received.replies] == ["applied"]
    assert status_of(appointment) == status


def test_acceptance_confirms_the_referrer_in_the_same_transaction():
    appointment = invited()
    text = replies.reply_text(
        uid=appointment.ical_uid, attendee=f"mailto:{appointment.clinician.calendar_email}"
    )
    receive(replies.google_reply(text, appointment.clinician.calendar_email))
    confirmation = OutboundMessage.objects.get(kind="confirmation")
    assert confirmation.recipient == appointment.referral.email
    assert confirmation.ical_method == "PUBLISH"
    appointment.referral.refresh_from_db()
    assert appointment.referral.status == "booked"


def test_a_decline_releases_the_slot_and_sends_the_referral_back_to_matching():
    appointment = invited()
    text = replies.reply_text(
        uid=appointment.ical_uid,
        attendee=f"mailto:{appointment.clinician.calendar_email}",
        partstat="DECLINED",
    )
    receive(replies.outlook_reply(text, appointment.clinician.calendar_email))
    assert status_of(appointment) == "declined"
    appointment.referral.refresh_from_db()
    assert appointment.referral.status == "new"
    assert not OutboundMessage.objects.filter(recipient=appointment.referral.email).exists()


def test_a_method_only_in_the_header_or_only_in_the_body_or_in_neither_is_understood():
    for header_method, body_method in (("REPLY", None), (None, "REPLY"), (None, None)):
        appointment = invited()
        text = replies.reply_text(
            uid=appointment.ical_uid,
            attendee=f"mailto:{appointment.clinician.calendar_email}",
            method=body_method,
        )
        raw = replies.outlook_reply(text, "x@y.test", header_method=header_method)
        assert [r.outcome for r in receive(raw).replies] == ["applied"]


# --- nothing changes --------------------------------------------------------------------------


PROPOSED_PARAM = ";X-PROPOSED-START=20301204T000000Z"
OUTLOOK_PROPOSAL = "X-MS-OLK-ORIGINALSTART:20301203T230000Z"


def _clinician_reply(appointment, **overrides) -> bytes:
    fields = {
        "uid": appointment.ical_uid,
        "attendee": f"mailto:{appointment.clinician.calendar_email}",
    }
    text = replies.reply_text(**(fields | overrides))
    return replies.google_reply(text, appointment.clinician.calendar_email)


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({"attendee": "mailto:someone.else@calendar.test"}, "other_attendee"),
        ({"uid": "not-ours@elsewhere"}, "unknown_uid"),
        ({"sequence": 5}, "future_sequence"),
        ({"method": "COUNTER"}, "counter"),
        (
            {"partstat": "TENTATIVE", "attendee_params": PROPOSED_PARAM},
            "counter",
        ),
        (
            {"partstat": "TENTATIVE", "extra_lines": (OUTLOOK_PROPOSAL,)},
            "counter",
        ),
        ({"partstat": "NEEDS-ACTION"}, "unknown_answer"),
        ({"partstat": "DELEGATED"}, "unknown_answer"),
        ({"method": "REQUEST"}, "not_a_reply"),
        ({"sequence": None, "extra_lines": ("SEQUENCE:two",)}, "malformed"),
    ],
)
def test_replies_that_must_change_nothing_are_stored_with_their_reason(overrides, outcome):
    appointment = invited()
    received = receive(_clinician_reply(appointment, **overrides))
    assert [r.outcome for r in received.replies] == [outcome]
    assert received.replies[0].reason
    assert status_of(appointment) == "proposed"
    assert not OutboundMessage.objects.filter(recipient=appointment.referral.email).exists()


def test_a_counter_under_a_reply_header_is_still_a_counter():
    appointment = invited()
    text = replies.reply_text(
        uid=appointment.ical_uid,
        attendee=f"mailto:{appointment.clinician.calendar_email}",
        method="COUNTER",
    )
    raw = replies.outlook_reply(text, "x@y.test", header_method="REPLY")
    assert [r.outcome for r in receive(raw).replies] == ["counter"]
    assert status_of(appointment) == "proposed"


def test_the_attendee_is_taken_from_the_event_never_from_an_alarm():
    appointment = invited()
    raw = _clinician_reply(
        appointment,
        attendee="mailto:spoofer@elsewhere.test",
        alarm_attendee=f"mailto:{appointment.clinician.calendar_email}",
    )
    assert [r.outcome for r in receive(raw).replies] == ["other_attendee"]
    assert status_of(appointment) == "proposed"


def test_a_reply_to_an_older_version_of_a_rescheduled_invitation_is_stale():
    appointment = invited()
    services.appointment_notify(appointment_id=appointment.pk, change="rescheduled")
    received = receive(_clinician_reply(appointment, sequence=0))
    assert [r.outcome for r in received.replies] == ["stale_sequence"]
    assert status_of(appointment) == "proposed"
    received = receive(_clinician_reply(appointment, sequence=1))
    assert [r.outcome for r in received.replies] == ["applied"]


def test_the_same_message_twice_and_the_same_answer_twice_are_harmless():
    appointment = invited()
    raw = _clinician_reply(appointment)
    assert [r.outcome for r in receive(raw).replies] == ["applied"]
    again = receive(raw)
    assert again.message is None and again.replies == ()
    later = _clinician_reply(appointment, stamped_at=dt.datetime.now(dt.UTC))
    assert [r.outcome for r in receive(later).replies] == ["duplicate"]
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1


def test_replies_are_ordered_by_sequence_then_dtstamp_not_by_arrival():
    appointment = invited()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    accept_later = _clinician_reply(appointment, stamped_at=now)
    decline_earlier = _clinician_reply(
        appointment, partstat="DECLINED", stamped_at=now - dt.timedelta(minutes=5)
    )
    receive(accept_later)
    assert [r.outcome for r in receive(decline_earlier).replies] == ["superseded"]
    assert status_of(appointment) == "accepted"


def test_same_sequence_and_dtstamp_are_ordered_by_arrival():
    appointment = invited()
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    receive(_clinician_reply(appointment, partstat="TENTATIVE", stamped_at=stamp))
    receive(_clinician_reply(appointment, partstat="ACCEPTED", stamped_at=stamp))
    assert status_of(appointment) == "accepted"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/calendar"
        b"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n--x",
        b"Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT",
        b"Content-Type: text/calendar; charset=no-such-charset\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR",
        b"Subject: hello\r\n\r\nno calendar here",
    ],
)
def test_malformed_mime_changes_nothing_and_is_kept_with_a_reason(raw):
    appointment = invited()
    received = receive(raw)
    assert status_of(appointment) == "proposed"
    problems = [received.message.problem] + [r.reason for r in received.replies]
    assert any(problems)


_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "BEGIN:VCALENDAR",
                "END:VCALENDAR",
                "BEGIN:VEVENT",
                "END:VEVENT",
                "BEGIN:VALARM",
                "END:VALARM",
                "METHOD:REPLY",
                "METHOD:COUNTER",
                "SEQUENCE:0",
                "SEQUENCE:-1",
                "DTSTAMP:20301203T230000Z",
                "DTSTAMP:garbage",
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:evil@x.test",
                "ATTENDEE;PARTSTAT=ACCEPTED;X-PROPOSED=1:mailto:evil@x.test",
                " folded-continuation",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=_lines, newline=st.sampled_from(["\r\n", "\n"]))
def test_fuzzed_icalendar_never_raises_and_never_changes_a_session(lines, newline):
    appointment = Appointment.objects.first() or invited()
    text = newline.join(["BEGIN:VCALENDAR", *lines, f"UID:{appointment.ical_uid}", "END:VCALENDAR"])
    raw = replies.outlook_reply(text, "fuzz@x.test")
    receive(raw)
    assert status_of(appointment) == "proposed"
    assert InboundReply.objects.filter(outcome="applied").count() == 0


# --- a whole IMAP poll at once ------------------------------------------------------------------


def test_a_batch_of_replies_is_applied_as_if_one_by_one():
    first, second, spoofed = invited(), invited(), invited()
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    accept_first = _clinician_reply(first)
    raws = [
        accept_first,
        _clinician_reply(second, partstat="DECLINED"),
        accept_first,  # the same bytes again: stored once
        _clinician_reply(first, stamped_at=earlier),  # older than the one applied: loses
        _clinician_reply(spoofed, attendee="mailto:someone.else@calendar.test"),
    ]
    received = inbound.messages_receive(raws, source="imap")
    outcomes = [[r.outcome for r in each.replies] for each in received]
    assert outcomes == [["applied"], ["applied"], [], ["superseded"], ["other_attendee"]]
    assert received[2].message is None
    assert (status_of(first), status_of(second), status_of(spoofed)) == (
        "accepted",
        "declined",
        "proposed",
    )
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1


def test_two_answers_to_one_session_in_one_batch_apply_in_their_order():
    appointment = invited()
    raws = [
        _clinician_reply(appointment, partstat="TENTATIVE"),
        _clinician_reply(appointment, stamped_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)),
    ]
    received = inbound.messages_receive(raws, source="imap")
    assert [r.outcome for each in received for r in each.replies] == ["applied", "applied"]
    assert status_of(appointment) == "accepted"
    assert appointment.events.filter(to_status="tentative").exists()


def _statements(captured) -> list[str]:
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


def test_a_reply_is_stored_applied_and_confirmed_in_twelve_statements():
    """One INSERT stores the message (bytes seen before are left out by the INSERT itself),
    one read locks the appointment with its latest applied reply, six apply the answer, one
    records the reply and three write the referrer's confirmation."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    appointment = invited()
    raw = _clinician_reply(appointment)
    with CaptureQueriesContext(connection) as captured:
        assert [r.outcome for r in receive(raw).replies] == ["applied"]
    assert len(_statements(captured)) == 12
    with CaptureQueriesContext(connection) as captured:
        assert receive(raw).message is None
    assert len(_statements(captured)) == 1  # the INSERT that stored nothing


def test_a_poll_of_many_replies_costs_the_statements_of_one():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    raws = [_clinician_reply(invited()) for _ in range(8)]
    with CaptureQueriesContext(connection) as captured:
        received = inbound.messages_receive(raws, source="imap")
    assert [r.outcome for each in received for r in each.replies] == ["applied"] * 8
    assert len(_statements(captured)) == 12


# --- kept by the HTTP and pipe doors, applied by the worker -----------------------------------


def test_kept_answers_to_one_session_are_applied_in_the_order_they_came():
    appointment = invited()
    inbound.message_accept(_clinician_reply(appointment, partstat="TENTATIVE"), source="http")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    inbound.message_accept(_clinician_reply(appointment, stamped_at=later), source="pipe")
    assert status_of(appointment) == "proposed"
    assert inbound.stored_apply(limit=10) == 2
    assert status_of(appointment) == "accepted"
    assert appointment.events.filter(to_status="tentative").exists()
    assert inbound.stored_apply(limit=10) == 0


def test_a_kept_message_with_no_reply_in_it_is_marked_with_why_when_applied():
    from notifications.models import InboundMessage

    assert inbound.message_accept(b"Subject: hi\r\n\r\nnot a reply", source="pipe").is_new
    assert inbound.stored_apply(limit=10) == 1
    [message] = InboundMessage.objects.all()
    assert message.problem != ""
    assert message.applied_at is not None


def test_the_worker_applies_kept_messages_a_batch_at_a_time_oldest_first(settings):
    from notifications.tasks import inbound_apply

    settings.INBOUND_APPLY_BATCH = 3
    appointments = [invited() for _ in range(5)]
    for appointment in appointments:
        inbound.message_accept(_clinician_reply(appointment), source="http")
    assert inbound.stored_apply(limit=settings.INBOUND_APPLY_BATCH) == 3
    assert [status_of(a) for a in appointments] == ["accepted"] * 3 + ["proposed"] * 2
    assert inbound_apply() == 2
    assert [status_of(a) for a in appointments] == ["accepted"] * 5


def test_keeping_a_message_costs_one_statement():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    raw = _clinician_reply(invited())
    with CaptureQueriesContext(connection) as captured:
        assert inbound.message_accept(raw, source="http").is_new
    assert len(_statements(captured)) == 1
    with CaptureQueriesContext(connection) as captured:
        assert not inbound.message_accept(raw, source="pipe").is_new
    assert len(_statements(captured)) == 1
