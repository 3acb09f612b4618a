"""The iCalendar we write, checked by two independent Python parsers and by our own rules for
what no parser checks (CRLF, folding, UTC DTSTAMP, a VTIMEZONE per TZID, METHOD header = body)."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications import ical, services
from notifications.models import OutboundMessage
from tests.notifications.conftest import calendar_of, parsed
from tests.notifications.factories import proposed_appointment

SYDNEY = ZoneInfo("Australia/Sydney")


def assert_well_formed(text: str) -> None:
    """Our own rules: CRLF only, physical lines ≤ 75 octets, UTC DTSTAMP, VTIMEZONE per TZID."""
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75, line
    lines = text.replace("\r\n ", "").split("\r\n")
    for line in lines:
        if line.startswith("DTSTAMP"):
            assert re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", line)
    used = {m for line in lines for m in re.findall(r";TZID=([^:;]+)", line)}
    defined = {line.removeprefix("TZID:") for line in lines if line.startswith("TZID:")}
    assert used <= defined
    assert sum(line.startswith("METHOD:") for line in lines) == 1


def _event(**overrides) -> ical.Event:
    fields = {
        "uid": "5d0c1f2e-test@soundingboard",
        "sequence": 0,
        "starts_at": dt.datetime(2026, 4, 5, 1, 30, tzinfo=SYDNEY),  # the night DST ends
        "ends_at": dt.datetime(2026, 4, 5, 2, 30, tzinfo=SYDNEY),
        "time_zone": "Australia/Sydney",
        "summary": "Support session (T00001)",
        "stamped_at": dt.datetime(2026, 3, 1, 9, tzinfo=SYDNEY),
        "description": "Phone session: call Zoë on +61412345678; voicemail, is fine\nThanks",
        "organizer_email": "calendar@soundingboard.test",
        "organizer_name": "Sounding Board",
        "attendees": (ical.Attendee("dr.who@calendar.test", "Dr Jane O'Brien, PhD"),),
    }
    return ical.Event(**(fields | overrides))


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "PUBLISH"])
def test_what_we_write_parses_in_icalendar_and_vobject_with_the_same_meaning(method):
    text = ical.calendar_build(method=method, events=[_event()])
    assert_well_formed(text)
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == method
    assert event.decoded("DTSTART") == _event().starts_at
    assert "Zoë" in str(event["DESCRIPTION"]) and "\n" in str(event["DESCRIPTION"])
    parsed_by_vobject = vobject.readOne(text)
    assert parsed_by_vobject.vevent.uid.value == "5d0c1f2e-test@soundingboard"
    assert parsed_by_vobject.vevent.dtstart.value.utcoffset() == dt.timedelta(hours=11)
    assert parsed_by_vobject.vevent.attendee.params["CN"] == ["Dr Jane O'Brien, PhD"]


def test_a_feed_of_many_sessions_in_two_zones_carries_one_vtimezone_for_each():
    perth = _event(uid="b@x", time_zone="Australia/Perth")
    text = ical.calendar_build(method="PUBLISH", events=[_event(), perth, _event(uid="c@x")])
    assert_well_formed(text)
    assert text.count("BEGIN:VTIMEZONE") == 2
    assert len(list(vobject.readOne(text).vevent_list)) == 3


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_folding_never_breaks_a_line_or_a_character_and_unfolds_to_the_original(value):
    value = value.replace("\r", "").replace("\n", "")
    folded = ical.fold(f"DESCRIPTION:{value}")
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.endswith("\r\n")
    assert folded[:-2].replace("\r\n ", "") == f"DESCRIPTION:{value}"


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=120))
def test_any_text_survives_escaping_through_an_independent_parser(summary):
    text = ical.calendar_build(method="PUBLISH", events=[_event(summary=summary)])
    assert_well_formed(text)
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    expected = summary.replace("\r\n", "\n").replace("\r", "\n")
    assert str(event.get("SUMMARY", "")) == expected


@pytest.mark.django_db
def test_every_message_for_a_uid_raises_its_sequence_and_header_method_matches_body(deliver):
    appointment = proposed_appointment()
    for change in ("proposed", "accepted", "rescheduled", "rescheduled", "cancelled"):
        services.appointment_notify(appointment_id=appointment.pk, change=change)
    sequences: dict[str, list[int]] = {}
    for sent in deliver():
        message = parsed(sent)
        part, text = calendar_of(message)
        assert_well_formed(text)
        calendar = icalendar.Calendar.from_ical(text)
        assert part.get_param("method") == str(calendar["METHOD"])
        event = calendar.walk("VEVENT")[0]
        sequences.setdefault(str(event["UID"]), []).append(int(event["SEQUENCE"]))
        vobject.readOne(text)
    assert all(seq == sorted(set(seq)) for seq in sequences.values()), sequences
    assert len(sequences) == 2  # the clinician's invitation and the referrer's copy


@pytest.mark.django_db
def test_the_feed_renders_sessions_without_organizer_rsvp_or_surname():
    appointment = proposed_appointment(status="accepted")
    text = services.feed_render(appointment.clinician)
    assert_well_formed(text)
    assert "METHOD:PUBLISH" in text
    for absent in ("ORGANIZER", "ATTENDEE", "RSVP", appointment.referral.family_name):
        assert absent not in text
    assert len(list(vobject.readOne(text).vevent_list)) == 1
    assert OutboundMessage.objects.count() == 0


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["", "REPLY", "COUNTER", "garbage"]))
def test_the_reply_reader_never_raises_whatever_text_it_is_given(text, header_method):
    for reply in ical.calendar_parse(text, header_method):
        assert isinstance(reply, ical.ParsedReply)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=600))
def test_the_message_reader_never_raises_whatever_bytes_it_is_given(raw):
    assert isinstance(ical.message_parse(raw), ical.ParsedMessage)


def test_parameter_values_may_be_quoted_and_hold_delimiters():
    name, params, value = ical.content_line(
        'ATTENDEE;CN="O\'Brien, Jane: MD";PARTSTAT=ACCEPTED;MEMBER="a:b","c:d":MAILTO:x@y.test'
    )
    assert (name, value) == ("ATTENDEE", "MAILTO:x@y.test")
    assert params == {"CN": "O'Brien, Jane: MD", "PARTSTAT": "ACCEPTED", "MEMBER": "a:b,c:d"}
