"""Web and worker processes keep their database connections (CONN_MAX_AGE, checked before
reuse) instead of opening one per request or per task."""

import time

import pytest
from django.conf import settings
from django.db import connection

from tests.scheduling.factories import ClinicianFactory


def test_connections_are_kept_between_requests_and_checked_before_reuse():
    database = settings.DATABASES["default"]
    assert database["CONN_HEALTH_CHECKS"] is True
    if database["ENGINE"].endswith("postgresql"):
        assert database["CONN_MAX_AGE"] >= 60
    # A worker must not let Celery's Django fixup close them after every task.
    assert settings.CELERY_DB_REUSE_MAX >= 100


def _sessions_opened() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _worker_idle(app, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with app.connection_for_write() as broker:
        queue = broker.default_channel.client
        while queue.llen("celery") or any((app.control.inspect().active() or {}).values()):
            assert time.monotonic() < deadline, "the worker did not finish its tasks"
            time.sleep(0.2)  # polling a real worker, bounded by the deadline


@pytest.mark.services
def test_a_worker_runs_many_tasks_on_one_database_connection(celery_worker_process):
    from config.celery import app
    from scheduling.tasks import slots_materialise_for_clinician

    clinician = ClinicianFactory()
    slots_materialise_for_clinician.delay(clinician.pk)
    _worker_idle(app)  # the worker has connected once
    before = _sessions_opened()
    for _ in range(8):
        slots_materialise_for_clinician.delay(clinician.pk)
    _worker_idle(app)
    # One task per connection would open eight; a reconnect after CONN_MAX_AGE at most one.
    assert _sessions_opened() - before <= 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_compiles_no_statements_just_in_time():
    # A batch's reads of ten thousand referrals spent longer compiled than run.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
