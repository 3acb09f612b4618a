"""notifications.mime finds the same parts, with the same headers and decoded payloads, as the
standard library's parser, on the real clients' files and on generated messages that are well
formed, broken, nested, or full of lines that look like boundaries."""

import base64
import email
import email.policy
import quopri
from pathlib import Path
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from notifications import mime
from tests.notifications import replies

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ical"


def _described(message, leaves) -> tuple:
    return (
        message.items(),
        [
            (
                part.items(),
                part.get_content_type(),
                part.get_filename(),
                part.get_param("method"),
                part.get_content_charset(),
                part.get_payload(decode=True),
            )
            for part in leaves
        ],
    )


def _as_the_standard_parser_reads_it(raw: bytes) -> tuple:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return _described(message, [part for part in message.walk() if not part.is_multipart()])


def _as_mime_reads_it(raw: bytes) -> tuple:
    return _described(*mime.message_leaves(raw))


def _client_replies() -> list[bytes]:
    text = replies.reply_text(uid="u-1@soundingboard", attendee="mailto:coach@example.test")
    return [
        shape(text, "coach@example.test")
        for shape in (
            replies.google_reply,
            replies.outlook_reply,
            replies.apple_reply,
            replies.thunderbird_reply,
        )
    ]


def test_real_clients_files_and_replies_read_as_the_standard_parser_reads_them():
    raws = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))] + _client_replies()
    assert len(raws) >= 8
    for raw in raws:
        assert _as_mime_reads_it(raw) == _as_the_standard_parser_reads_it(raw)


def test_clients_replies_are_split_without_the_standard_parsers_multipart_reading():
    with mock.patch.object(mime.email, "message_from_bytes", side_effect=AssertionError):
        for raw in _client_replies():
            _message, leaves = mime.message_leaves(raw)
            assert "text/calendar" in [part.get_content_type() for part in leaves]


# --- generated messages ---

_LEAF_TYPES = [
    "text/plain",
    'text/plain; charset="utf-8"',
    'text/calendar; charset="UTF-8"; method=REPLY',
    "text/calendar; method=COUNTER",
    'application/ics; name="invite.ics"',
    "application/octet-stream",
    "text/html; charset=iso-8859-1",
    "bogus",
]
_RARE_LEAF_TYPES = ["message/rfc822", "message/delivery-status"]
_ENCODINGS = [None, "7bit", "8bit", "base64", "quoted-printable", "x-unknown"]
# Hypothesis draws the ends of an integer range often; a fixed share needs sampled_from.
_ONE_IN_TWENTY = st.sampled_from([False] * 19 + [True])
_TRAILING = st.sampled_from(["", " ", "\t "] * 6 + ["x"])  # "x": not a boundary line at all
# Lines of a body; vertical tab and form feed end a line for str.splitlines(), never for MIME.
_BODY_LINES = st.lists(
    st.text(alphabet=st.sampled_from([*"abcXYZ019 :;=-\t", "é", "—", "\x0b", "\x0c"]), max_size=20),
    max_size=4,
)


@st.composite
def _leaf(draw, enclosing: str) -> list[str]:
    rare = draw(_ONE_IN_TWENTY)
    lines = [f"Content-Type: {draw(st.sampled_from(_RARE_LEAF_TYPES if rare else _LEAF_TYPES))}"]
    encoding = draw(st.sampled_from(_ENCODINGS))
    body = draw(_BODY_LINES)
    if encoding:
        lines.append(f"Content-Transfer-Encoding: {encoding}")
    if draw(st.booleans()):
        lines.append('Content-Disposition: attachment; filename="Invite.ICS"')
    if encoding == "base64":
        body = base64.encodebytes("\n".join(body).encode()).decode().splitlines()
    elif encoding == "quoted-printable":
        body = quopri.encodestring("\n".join(body).encode()).decode().splitlines()
    elif enclosing and draw(st.sampled_from([False] * 4 + [True])):
        body.append(f"\x0c{enclosing}")  # a boundary only to a splitter that breaks at \x0c
    if draw(_ONE_IN_TWENTY):
        return [*lines, *body]  # no blank line between headers and body
    if draw(st.sampled_from([False] * 9 + [True])):
        return ["", *body]  # no headers: the default type (in a digest, a message)
    return [*lines, "", *body]


@st.composite
def _part(draw, depth: int, enclosing: str = "") -> list[str]:
    if depth >= 3 or draw(st.sampled_from([True, False, False])):
        return draw(_leaf(enclosing))
    boundary = draw(st.sampled_from(["b1", "===x==", "sep'x", "b1-2", "a b"])) + str(depth)
    subtype = draw(st.sampled_from(["mixed", "alternative", "related"] * 3 + ["digest"]))
    # Unquoted, "a b" is the boundary "a": its lines never match, as in a broken client.
    parameter = boundary if draw(_ONE_IN_TWENTY) else f'"{boundary}"'
    lines = [f"Content-Type: multipart/{subtype}; boundary={parameter}"]
    lines += ["", *draw(st.lists(st.sampled_from(["preamble", "", f"--{boundary}x"]), max_size=2))]
    for _ in range(draw(st.sampled_from([1, 2, 3] * 6 + [0]))):
        lines += [f"--{boundary}{draw(_TRAILING)}", *draw(_part(depth + 1, f"--{boundary}"))]
    if not draw(_ONE_IN_TWENTY):
        lines.append(f"--{boundary}--{draw(_TRAILING)}")
    lines += draw(st.lists(st.sampled_from(["epilogue", "", f"--{boundary}"]), max_size=2))
    return lines


@st.composite
def _messages(draw) -> bytes:
    lines = ["Message-ID: <m-1@client.test>", "MIME-Version: 1.0", *draw(_part(0))]
    for _ in range(draw(st.sampled_from([0] * 8 + [1, 2]))):  # a line lost, repeated or stray
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from(["drop", "repeat", "stray"]))
        if change == "drop":
            del lines[at]
        elif change == "repeat":
            lines.insert(at, lines[at])
        else:
            lines.insert(at, draw(st.sampled_from(["--b10", "--b10--", "--b1", "-- b10", "\r"])))
    line_break = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    text = line_break.join(lines) + draw(st.sampled_from(["", line_break]))
    return text.encode("utf-8")


_DIGEST = (
    b'Content-Type: multipart/digest; boundary="d"\r\n\r\n--d\r\n\r\n'
    b"Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n--d--\r\n"
)
_FORM_FEED = (
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
    b"\r\nhello\r\n\x0c--b\r\nmore\r\n--b--\r\n"
)


@settings(max_examples=400, deadline=None)
@given(_messages())
@example(_DIGEST)
@example(_FORM_FEED)
def test_generated_messages_read_as_the_standard_parser_reads_them(raw):
    assert _as_mime_reads_it(raw) == _as_the_standard_parser_reads_it(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_read_as_the_standard_parser_reads_them(raw):
    assert _as_mime_reads_it(raw) == _as_the_standard_parser_reads_it(raw)
