"""Read one email from standard input (an MTA pipe) and keep it for the worker, which applies
any calendar reply in it (notifications.tasks.inbound_apply).

Exits 0 once the message is stored, whatever it said, so the MTA does not bounce it to the
sender; a message over INBOUND_MAIL_MAX_BYTES is refused with exit status 65 (EX_DATAERR).
"""

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifications import inbound
from notifications.models import InboundMessage


class Command(BaseCommand):
    help = "Ingest one raw email (a calendar reply) from standard input."

    def handle(self, *args, **options):
        limit = settings.INBOUND_MAIL_MAX_BYTES
        raw = sys.stdin.buffer.read(limit + 1)
        if len(raw) > limit:
            raise CommandError("message too large", returncode=65)
        if not raw.strip():
            raise CommandError("no message on standard input", returncode=65)
        kept = inbound.message_accept(raw, source=InboundMessage.Source.PIPE)
        self.stdout.write(json.dumps(kept.summary()))
