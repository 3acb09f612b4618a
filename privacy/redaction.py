"""Keeping personal data out of logs.

`RedactPersonalData` is installed on every handler in LOGGING. It formats each record, replaces
email addresses and Australian phone numbers (and whatever was wrapped in `Sensitive`), and
does the same to the traceback text. Code should still log ids, not people: the filter is the net
under that rule, not the rule.
"""

import logging
import re
from typing import Any

EMAIL_PATTERN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# Mobiles and landlines, national or international: 0412 345 678, +61 412 345 678,
# 61412345678, (02) 9876 5432, +61 2 9876 5432, +61 (0)2 9876 5432. Service numbers (13, 1300,
# 1800) belong to organisations and are left alone.
PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?:\+?61[\s.-]*(?:\(0\)[\s.-]*)?|\(0|0)[2-478]\)?(?:[\s.-]*\d){8}(?!\d)"
)

EMAIL_PLACEHOLDER = "[email]"
PHONE_PLACEHOLDER = "[phone]"
SENSITIVE_PLACEHOLDER = "[redacted]"


def redact(text: str) -> str:
    """`text` with email addresses and Australian phone numbers replaced by placeholders."""
    return PHONE_PATTERN.sub(PHONE_PLACEHOLDER, EMAIL_PATTERN.sub(EMAIL_PLACEHOLDER, text))


def looks_personal(text: str) -> bool:
    """True when `text` contains something shaped like an email address or a phone number."""
    return bool(EMAIL_PATTERN.search(text) or PHONE_PATTERN.search(text))


class Sensitive:
    """Marks a value that must never reach a log: it formats as "[redacted]".

    `logger.info("lookup for %s", Sensitive(email))` logs "lookup for [redacted]".
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return SENSITIVE_PLACEHOLDER

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return SENSITIVE_PLACEHOLDER


class RedactPersonalData(logging.Filter):
    """Rewrites a record's message, extras and traceback text without personal data."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} (arguments withheld: they did not format)"
        record.msg, record.args = redact(message), None
        for name, value in list(vars(record).items()):
            if isinstance(value, Sensitive):
                setattr(record, name, SENSITIVE_PLACEHOLDER)
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
