"""Build and parse iCalendar (RFC 5545) for iTIP over email (RFC 5546, RFC 6047).

Pure: no Django models, no I/O. The writer is our own so every line is CRLF-terminated and
folded at 75 octets without splitting a UTF-8 character, and it is fast enough for a feed of
hundreds of sessions; VTIMEZONE rules come from the icalendar library (cached per zone and year
range). The parser reads whatever real clients send and never raises: anything it cannot read
comes back with a `problem` for a coordinator. It is a small content-line reader of our own:
a reply needs only METHOD and a few VEVENT properties, and reading just those is many times
faster than building a full object model of each message.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

from . import mime

PRODID = "-//Sounding Board//Calendar 1.0//EN"
CALENDAR_CONTENT_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
ANSWERS = frozenset({"ACCEPTED", "DECLINED", "TENTATIVE"})
# Properties Outlook and Exchange add when an attendee proposes another time.
_PROPOSAL_PROPERTIES = frozenset({"X-MS-OLK-ORIGINALSTART", "X-MS-OLK-ORIGINALEND"})
_FOLD_OCTETS = 75


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"
    is_rsvp: bool = True


@dataclass(frozen=True)
class Event:
    """One VEVENT as we send it. Times are aware; they are written in `time_zone`."""

    uid: str
    sequence: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str
    summary: str
    stamped_at: dt.datetime
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "CONFIRMED"
    organizer_email: str = ""
    organizer_name: str = ""
    attendees: tuple[Attendee, ...] = ()


# ---------------------------------------------------------------------------------------------
# Writing


def calendar_build(*, method: str, events: Iterable[Event], name: str = "") -> str:
    """Serialise a VCALENDAR with METHOD, one VTIMEZONE per TZID used, and the events."""
    events = list(events)
    lines = ["BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN"]
    lines.append(f"METHOD:{method}")
    if name:  # a subscribed feed: its name, and how often calendar apps should refresh it
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
        lines += ["REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H"]
    for time_zone, (first_year, last_year) in _zone_year_ranges(events).items():
        lines.extend(vtimezone_lines(time_zone, first_year, last_year))
    for event in events:
        lines.extend(_event_lines(event, method))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)


def _zone_year_ranges(events: list[Event]) -> dict[str, tuple[int, int]]:
    ranges: dict[str, tuple[int, int]] = {}
    for event in events:
        years = (event.starts_at.year, event.ends_at.year)
        first, last = ranges.get(event.time_zone, (min(years), max(years)))
        ranges[event.time_zone] = (min(first, *years), max(last, *years))
    return ranges


def _event_lines(event: Event, method: str) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{format_utc(event.stamped_at)}",
        f"DTSTART;TZID={event.time_zone}:{format_local(event.starts_at, event.time_zone)}",
        f"DTEND;TZID={event.time_zone}:{format_local(event.ends_at, event.time_zone)}",
        f"SUMMARY:{escape_text(event.summary)}",
        "CLASS:PRIVATE",
        f"STATUS:{event.status}",
        "TRANSP:OPAQUE" if event.status != "CANCELLED" else "TRANSP:TRANSPARENT",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.url:
        lines.append(f"URL:{event.url}")
    if event.organizer_email:
        cn = f";CN={param_value(event.organizer_name)}" if event.organizer_name else ""
        lines.append(f"ORGANIZER{cn}:mailto:{event.organizer_email}")
    for attendee in event.attendees:
        lines.append(_attendee_line(attendee, is_request=method == "REQUEST"))
    lines.append("END:VEVENT")
    return lines


def _attendee_line(attendee: Attendee, *, is_request: bool) -> str:
    params = ["CUTYPE=INDIVIDUAL", "ROLE=REQ-PARTICIPANT", f"PARTSTAT={attendee.partstat}"]
    if is_request and attendee.is_rsvp:
        params.append("RSVP=TRUE")
    if attendee.name:
        params.append(f"CN={param_value(attendee.name)}")
    return f"ATTENDEE;{';'.join(params)}:mailto:{attendee.email}"


@lru_cache(maxsize=64)
def vtimezone_lines(time_zone: str, first_year: int, last_year: int) -> tuple[str, ...]:
    """The VTIMEZONE for `time_zone`, covering the years events fall in (and one either side)."""
    component = icalendar.Timezone.from_tzinfo(
        ZoneInfo(time_zone),
        tzid=time_zone,
        first_date=dt.date(first_year - 1, 1, 1),
        last_date=dt.date(last_year + 2, 1, 1),
    )
    text = component.to_ical().decode()
    unfolded = re.sub(r"\r\n[ \t]", "", text)
    return tuple(line for line in unfolded.split("\r\n") if line)


def format_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def format_local(moment: dt.datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%dT%H%M%S")


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def param_value(value: str) -> str:
    """A parameter value, quoted when it holds a delimiter; DQUOTE itself cannot appear."""
    value = re.sub(r'["\r\n\x00-\x1f]', "", value)
    return f'"{value}"' if re.search(r"[;:,]", value) else value


def fold(line: str) -> str:
    """One content line folded so no physical line exceeds 75 octets, ending in CRLF."""
    if len(line) <= _FOLD_OCTETS and line.isascii():  # most lines: no encoding needed
        return line + "\r\n"
    encoded = line.encode()
    if len(encoded) <= _FOLD_OCTETS:
        return line + "\r\n"
    pieces, start, limit = [], 0, _FOLD_OCTETS
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1  # never cut inside a UTF-8 sequence
        pieces.append(encoded[start:end].decode())
        start, limit = end, _FOLD_OCTETS - 1  # continuation lines start with a space
    return "\r\n ".join(pieces) + "\r\n"


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class ReplyAttendee:
    email: str
    partstat: str
    has_proposal: bool = False


@dataclass(frozen=True)
class ParsedReply:
    """What one VEVENT of an incoming calendar says. `problem` is set when it cannot be used."""

    method: str = ""
    uid: str = ""
    attendees: tuple[ReplyAttendee, ...] = ()
    sequence: int | None = None
    stamped_at: dt.datetime | None = None
    proposes_new_time: bool = False
    problem: str = ""

    @property
    def ordering_sequence(self) -> int:
        return self.sequence or 0


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str = ""
    replies: tuple[ParsedReply, ...] = ()
    problem: str = ""
    calendar_parts: int = field(default=0, compare=False)


def normalise_address(value: str) -> str:
    """An email address from an ORGANIZER/ATTENDEE value: no mailto:, lower case, no spaces."""
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value.strip().strip("<>").lower()


def message_parse(raw: bytes) -> ParsedMessage:
    """Every calendar reply in a raw MIME message, inline or attached; never raises."""
    try:
        message, leaves = mime.message_leaves(raw)
        message_id = str(message.get("Message-ID", "") or "").strip()[:300]
        replies: list[ParsedReply] = []
        parts = 0
        for part in _calendar_parts(leaves):
            parts += 1
            replies.extend(calendar_parse(_part_text(part), part.get_param("method") or ""))
    except Exception as error:  # a broken message must not stop the door it came through
        return ParsedMessage(problem=f"unreadable MIME ({type(error).__name__})")
    if not parts:
        return ParsedMessage(message_id=message_id, problem="no calendar part")
    unique = tuple(dict.fromkeys(replies))  # the inline part and invite.ics usually agree
    return ParsedMessage(message_id=message_id, replies=unique, calendar_parts=parts)


def _calendar_parts(
    leaves: Iterable[email.message.Message],
) -> Iterator[email.message.Message]:
    for part in leaves:
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() in CALENDAR_CONTENT_TYPES or filename.endswith(".ics"):
            yield part


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def calendar_parse(text: str, header_method: str = "") -> list[ParsedReply]:
    """The replies in one calendar text. The method may be in the MIME header, the body, both or
    neither; a COUNTER in either wins, since a counter-proposal is never an answer."""
    header_method = str(header_method).strip().upper()
    try:
        calendars = read_components(text)
    except ValueError as error:
        return [ParsedReply(method=header_method, problem=f"unreadable iCalendar ({error})")]
    calendars = [c for c in calendars if c.name == "VCALENDAR"]
    if not calendars:
        return [ParsedReply(method=header_method, problem="no complete VCALENDAR")]
    replies = []
    for calendar in calendars:
        body_method = calendar.first("METHOD").upper()
        events = [c for c in calendar.children if c.name == "VEVENT"]
        if not events:
            replies.append(ParsedReply(method=body_method or header_method, problem="no VEVENT"))
        for event in events:
            method = _method(header_method, body_method, event)
            replies.append(_event_reply(event, method))
    return replies


@dataclass
class Component:
    """One BEGIN…END block: its properties (name, parameters, raw value) and its children."""

    name: str
    properties: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def first(self, name: str) -> str:
        return next((value for key, _, value in self.properties if key == name), "").strip()

    def all(self, name: str) -> list[tuple[dict[str, str], str]]:
        return [(params, value) for key, params, value in self.properties if key == name]


_UNFOLD = re.compile(r"\r?\n[ \t]")
_NAME = re.compile(r"[A-Za-z0-9-]+")


def read_components(text: str) -> list[Component]:
    """The top-level components of iCalendar text (RFC 5545 §3.1), CRLF or LF line ends.

    Raises ValueError for a line that is not a content line or for unbalanced BEGIN/END.
    """
    roots: list[Component] = []
    stack: list[Component] = []
    for line in _UNFOLD.sub("", text).splitlines():
        if not line.strip():
            continue
        name, params, value = content_line(line)
        if name == "BEGIN":
            component = Component(value.strip().upper())
            (stack[-1].children if stack else roots).append(component)
            stack.append(component)
        elif name == "END":
            if not stack or stack[-1].name != value.strip().upper():
                raise ValueError(f"END:{value.strip()[:20]} without its BEGIN")
            stack.pop()
        elif stack:
            stack[-1].properties.append((name, params, value))
    if stack:
        raise ValueError(f"BEGIN:{stack[-1].name[:20]} never ends")
    return roots


def content_line(line: str) -> tuple[str, dict[str, str], str]:
    """NAME *(;PARAM=VALUE) : VALUE, with quoted parameter values that may hold ; : and ,."""
    match = _NAME.match(line)
    if not match:
        raise ValueError("a line without a property name")
    name, position, params = match.group().upper(), match.end(), {}
    while position < len(line) and line[position] == ";":
        key_match = _NAME.match(line, position + 1)
        if not key_match or line[key_match.end() : key_match.end() + 1] != "=":
            raise ValueError(f"a broken parameter on {name}")
        position, values = key_match.end() + 1, []
        while True:
            if line[position : position + 1] == '"':
                end = line.find('"', position + 1)
                if end < 0:
                    raise ValueError(f"an unclosed quote on {name}")
                values.append(line[position + 1 : end])
                position = end + 1
            else:
                end = position
                while end < len(line) and line[end] not in ";:,":
                    end += 1
                values.append(line[position:end])
                position = end
            if line[position : position + 1] != ",":
                break
            position += 1
        params[key_match.group().upper()] = ",".join(values)
    if line[position : position + 1] != ":":
        raise ValueError(f"no value on {name}")
    return name, params, line[position + 1 :]


def _method(header_method: str, body_method: str, event: Component) -> str:
    if "COUNTER" in (header_method, body_method):
        return "COUNTER"
    if body_method or header_method:
        return body_method or header_method
    # Neither says: one attendee with an answer is how a bare reply looks.
    return "REPLY" if len(event.all("ATTENDEE")) == 1 else ""


def _event_reply(event: Component, method: str) -> ParsedReply:
    """Read UID, the VEVENT's own ATTENDEEs (never a VALARM's), SEQUENCE and DTSTAMP."""
    uid = event.first("UID")[:300]
    try:
        attendees = tuple(_reply_attendee(params, value) for params, value in event.all("ATTENDEE"))
        sequence = _sequence(event)
        stamped_at = _stamp(event)
    except ValueError as error:
        return ParsedReply(method=method, uid=uid, problem=f"{error!s:.120}")
    return ParsedReply(
        method=method,
        uid=uid,
        attendees=attendees,
        sequence=sequence,
        stamped_at=stamped_at,
        proposes_new_time=_has_proposal(event, attendees),
        problem="" if uid else "no UID",
    )


def _reply_attendee(params: dict[str, str], value: str) -> ReplyAttendee:
    partstat = params.get("PARTSTAT", "").strip().upper()
    has_proposal = any("PROPOSED" in key for key in params)
    return ReplyAttendee(normalise_address(value), partstat, has_proposal)


def _sequence(event: Component) -> int | None:
    values = event.all("SEQUENCE")
    if not values:
        return None
    try:
        sequence = int(values[0][1].strip())
    except ValueError:
        raise ValueError("SEQUENCE is not a number") from None
    if sequence < 0:
        raise ValueError("SEQUENCE is negative")
    return sequence


_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?")


def _stamp(event: Component) -> dt.datetime | None:
    """DTSTAMP, which is UTC by definition; a client that leaves off the Z still means UTC."""
    match = _STAMP.fullmatch(event.first("DTSTAMP"))
    if not match:
        return None
    try:
        return dt.datetime(*map(int, match.groups()), tzinfo=dt.UTC)
    except ValueError:
        return None


def _has_proposal(event: Component, attendees: tuple[ReplyAttendee, ...]) -> bool:
    names = {name for name, _, _ in event.properties}
    return (
        any(a.has_proposal for a in attendees)
        or bool(names & _PROPOSAL_PROPERTIES)
        or any("PROPOSED" in name for name in names if name.startswith("X-"))
    )
