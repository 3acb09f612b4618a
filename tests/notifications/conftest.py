import email
import email.policy

import pytest
from django.core import mail

from notifications.models import OutboundMessage
from notifications.tasks import message_send


def parsed(sent) -> email.message.EmailMessage:
    """A sent Django message as the receiving side parses it."""
    raw = sent.message().as_bytes(linesep="\r\n")
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_of(message: email.message.EmailMessage, content_type: str = "text/calendar"):
    part = next(p for p in message.walk() if p.get_content_type() == content_type)
    return part, part.get_payload(decode=True).decode()


@pytest.fixture
def deliver():
    """Send every queued outbox row now, as the worker would; returns what left, in order."""

    def run() -> list:
        before = len(mail.outbox)
        for pk in OutboundMessage.objects.filter(status="queued").values_list("pk", flat=True):
            message_send(pk)
        return mail.outbox[before:]

    return run
