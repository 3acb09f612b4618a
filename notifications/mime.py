"""The leaf parts of a raw MIME message, as the standard library's parser finds them.

Pure. The standard parser compiles a regular expression for every multipart boundary it
meets, and real clients' boundaries are unique per message, so Python's pattern cache never
helps: that compile was half the time of reading a calendar reply. For a well-formed message
(every multipart closed, no repeated boundary lines, no message/* or multipart/digest parts)
the parts are split here by comparing lines, and each part's headers and payload are still
read by the standard parser, so its decoding rules apply. Anything else goes to the standard
parser whole; tests/notifications/test_mime.py holds the two equal.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import io
from email.parser import Parser

_HEADERS_ONLY = Parser(policy=email.policy.compat32)


class _Unusual(Exception):
    """A shape the line splitter leaves to the standard parser."""


def message_leaves(raw: bytes) -> tuple[email.message.Message, list[email.message.Message]]:
    """The message (its headers) and its non-multipart parts in walk() order. Raises what the
    standard parser raises."""
    text = raw.decode("ascii", "surrogateescape")  # what BytesParser does before parsing
    top = _HEADERS_ONLY.parsestr(text, headersonly=True)
    leaves: list[email.message.Message] = []
    try:
        _collect(top, leaves, is_top=True)
    except _Unusual:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return message, [part for part in message.walk() if not part.is_multipart()]
    return top, leaves


def _collect(part: email.message.Message, leaves: list, *, is_top: bool = False) -> None:
    if part.get_content_maintype() == "message" or part.get_content_type() == "multipart/digest":
        raise _Unusual  # nested messages, and digests' parts default to message/rfc822
    if part.get_content_maintype() != "multipart":
        if not is_top:  # RFC 2046: the line break before a boundary belongs to the boundary
            part.set_payload(_without_last_line_break(_raw_payload(part)))
        leaves.append(part)
        return
    for text in _subpart_texts(part):
        _collect(_HEADERS_ONLY.parsestr(text, headersonly=True), leaves)


def _subpart_texts(part: email.message.Message) -> list[str]:
    boundary = part.get_boundary()
    if boundary is None:
        raise _Unusual
    separator = "--" + boundary
    texts: list[str] = []
    current: list[str] | None = None  # None: still in the preamble
    after_boundary = False
    # newline="" splits at CR, LF and CRLF and keeps them, as the standard parser does.
    for line in io.StringIO(_raw_payload(part), newline="").readlines():
        kind = _boundary_kind(line, separator)
        if kind is None:
            if current is not None:
                current.append(line)
            after_boundary = False
            continue
        if after_boundary:
            raise _Unusual  # the standard parser folds repeated boundary lines together
        after_boundary = True
        if current is None and kind == "close":
            break  # closed before it opened: the standard parser keeps it as one text
        if current is not None:
            texts.append("".join(current))
        if kind == "close":
            return texts
        current = []
    raise _Unusual  # never closed, or never opened


def _raw_payload(part: email.message.Message) -> str:
    # get_payload() turns the undecodable bytes of an 8bit body (kept as surrogates) into
    # U+FFFD; splitting must keep them, for get_payload(decode=True) to restore the bytes.
    return part._payload


def _boundary_kind(line: str, separator: str) -> str | None:
    """'part', 'close' or None: the standard parser's boundary pattern, without a regex."""
    if not line.startswith(separator):
        return None
    rest = line[len(separator) :]
    kind = "part"
    if rest.startswith("--"):
        kind, rest = "close", rest[2:]
    if rest.rstrip("\r\n").strip(" \t"):
        return None
    return kind


def _without_last_line_break(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text
