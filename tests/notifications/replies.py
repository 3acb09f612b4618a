"""Calendar replies in the shapes real clients send them (see tests/fixtures/ical/SOURCES.md)."""

import base64
import datetime as dt
import quopri
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText


def reply_text(
    *,
    uid: str,
    attendee: str,
    partstat: str = "ACCEPTED",
    sequence: int | None = 0,
    stamped_at: dt.datetime | None = None,
    method: str | None = "REPLY",
    attendee_params: str = "",
    extra_lines: tuple[str, ...] = (),
    alarm_attendee: str = "",
    organizer: str = "mailto:calendar@soundingboard.test",
) -> str:
    stamped_at = stamped_at or dt.datetime.now(dt.UTC)
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Tests//Client//EN", "VERSION:2.0"]
    if method:
        lines.append(f"METHOD:{method}")
    lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamped_at:%Y%m%dT%H%M%SZ}"]
    if sequence is not None:
        lines.append(f"SEQUENCE:{sequence}")
    if organizer:
        lines.append(f"ORGANIZER:{organizer}")
    lines.append(f"ATTENDEE;PARTSTAT={partstat}{attendee_params}:{attendee}")
    lines += ["DTSTART:20301203T230000Z", "DTEND:20301204T000000Z", *extra_lines]
    if alarm_attendee:
        lines += [
            "BEGIN:VALARM",
            "ACTION:EMAIL",
            "TRIGGER:-PT15M",
            "SUMMARY:x",
            "DESCRIPTION:x",
            f"ATTENDEE:{alarm_attendee}",
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def _calendar_part(text: str, *, method: str | None, cte: str = "base64") -> MIMEBase:
    part = MIMEBase("text", "calendar")
    part.set_param("charset", "UTF-8")
    if method:
        part.set_param("method", method)
    data = text.encode()
    if cte == "base64":
        part.set_payload(base64.encodebytes(data).decode())
    elif cte == "quoted-printable":
        part.set_payload(quopri.encodestring(data).decode())
    else:
        part.set_payload(text)
    part["Content-Transfer-Encoding"] = cte
    return part


def _ics_attachment(text: str, name: str = "invite.ics") -> MIMEBase:
    part = MIMEBase("application", "ics", name=name)
    part.set_payload(base64.encodebytes(text.encode()).decode())
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def _headers(message, subject: str, sender: str) -> bytes:
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = "calendar@soundingboard.test"
    message["Message-ID"] = f"<{abs(hash((subject, sender, message.as_string())))}@client.test>"
    return message.as_bytes()


def google_reply(text: str, sender: str, header_method: str | None = "REPLY") -> bytes:
    """mixed → alternative(plain, html, text/calendar; method=REPLY) + invite.ics."""
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Accepted", "plain"))
    alternative.attach(MIMEText("<p>Accepted</p>", "html"))
    alternative.attach(_calendar_part(text, method=header_method, cte="7bit"))
    mixed = MIMEMultipart("mixed")
    mixed.attach(alternative)
    mixed.attach(_ics_attachment(text))
    return _headers(mixed, "Accepted: Support session", sender)


def outlook_reply(text: str, sender: str, header_method: str | None = "REPLY") -> bytes:
    """alternative(plain, html, base64 text/calendar; method=REPLY), as Exchange sends it."""
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("", "plain", "iso-8859-1"))
    alternative.attach(MIMEText("<html><body></body></html>", "html", "iso-8859-1"))
    alternative.attach(_calendar_part(text, method=header_method))
    return _headers(alternative, "Accepted: Support session", sender)


def apple_reply(text: str, sender: str) -> bytes:
    """alternative(plain, mixed(html, .ics attachment with no method parameter, QP))."""
    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("<html><body>accepted</body></html>", "html"))
    calendar = _calendar_part(text, method=None, cte="quoted-printable")
    calendar.add_header("Content-Disposition", "attachment", filename="iCal-20301203.ics")
    inner.attach(calendar)
    outer = MIMEMultipart("alternative")
    outer.attach(MIMEText("has accepted your invitation", "plain"))
    outer.attach(inner)
    return _headers(outer, "Event accepted: Support session", sender)


def thunderbird_reply(text: str, sender: str) -> bytes:
    """mixed → alternative(plain, text/calendar; method=REPLY 8bit) + application/ics."""
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("has accepted", "plain"))
    alternative.attach(_calendar_part(text, method="REPLY", cte="8bit"))
    mixed = MIMEMultipart("mixed")
    mixed.attach(alternative)
    mixed.attach(_ics_attachment(text))
    return _headers(mixed, "Accepted: Support session", sender)
