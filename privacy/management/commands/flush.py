"""Django's flush, allowed to empty the append-only tables too.

flush is a development and test tool (the test runner calls it after each transactional test).
On PostgreSQL it truncates, which row triggers do not see; on SQLite it deletes rows, which the
triggers refuse unless the purge permission is on.
"""

from django.core.management.commands.flush import Command as DjangoFlushCommand

from privacy.append_only import purge_permitted


class Command(DjangoFlushCommand):
    def handle(self, **options):
        with purge_permitted():
            return super().handle(**options)
