"""Fault 2: the Celery worker is killed with SIGKILL in the middle of matching a referral.

The test holds the clinician's row lock (as a coordinator's long transaction might), so the
worker is provably inside `referral_match`, waiting, when it is killed. With acks_late the
message was not acknowledged: it stays in Redis's unacked set and, after the (for this test
low) visibility timeout, a second worker gets it again and proposes exactly one session. The
control runs the same kill with acks_late off: the message is gone and the referral waits.
"""

import datetime as dt
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from referrals.models import Referral
from scheduling.models import Appointment
from scheduling.tasks import match_referral
from tests.conftest import database_url_for_subprocesses
from tests.faults.harness import celery_broker, celery_worker, wait_until, worker_is_idle
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import ClinicianFactory, SlotFactory

pytestmark = pytest.mark.services

# Redis hands an unacknowledged task to another worker after this long (600 s in production).
VISIBILITY_TIMEOUT_SECONDS = "2"


def _referral_with_one_free_time() -> tuple[Referral, int]:
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    starts_at = (timezone.now() + dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    SlotFactory(clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1))
    return ReferralFactory(program=program), clinician.pk


def _backends_waiting_on_a_lock() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def _broker_counts(app) -> tuple[int, int]:
    """(messages waiting in the queue, messages delivered but not acknowledged)."""
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        return client.llen("celery"), client.hlen("unacked")


def _broker_empty(app) -> None:
    """This run's Redis database without queued or unacknowledged tasks from earlier runs."""
    app.control.purge()
    with app.connection_for_write() as broker:
        broker.default_channel.client.delete("unacked", "unacked_index")


def _kill_while_matching(referral: Referral, clinician_id: int, *, tmp_path, redis_url, **env):
    """Start a worker, hold it inside matching on the clinician's row lock, SIGKILL it, then let
    the lock go once PostgreSQL has ended the dead worker's transaction."""
    with psycopg.connect(database_url_for_subprocesses()) as holder:
        holder.execute(
            "SELECT id FROM scheduling_clinician WHERE id = %s FOR UPDATE", [clinician_id]
        )
        # A prefork pool: the parent's event loop acknowledges (or not) while the child matches;
        # in the solo pool even an early acknowledgement waits for the task to finish.
        with celery_worker(
            broker_url=redis_url,
            log=tmp_path / "killed.log",
            name="fault-killed",
            pool="prefork",
            **env,
        ) as worker:
            match_referral.delay(referral.pk)
            wait_until(
                lambda: _backends_waiting_on_a_lock(),
                seconds=30,
                what="the worker never reached the clinician's lock",
                log=worker.log,
            )
            [stuck] = _backends_waiting_on_a_lock()
            worker.kill()
        holder.rollback()
    # The dead worker's backend gets the lock, finds its client gone and rolls back.
    wait_until(lambda: not _backend_alive(stuck), seconds=30, what="the dead backend lingered")


def test_a_worker_killed_mid_match_has_its_task_redelivered_and_one_session_proposed(
    transactional_db, redis_url, tmp_path
):
    referral, clinician_id = _referral_with_one_free_time()
    with celery_broker(redis_url) as app:
        _broker_empty(app)
        _kill_while_matching(referral, clinician_id, tmp_path=tmp_path, redis_url=redis_url)
        assert Referral.objects.get(pk=referral.pk).status == Referral.Status.NEW
        assert _broker_counts(app) == (0, 1)  # delivered, never acknowledged

        with celery_worker(
            broker_url=redis_url,
            log=tmp_path / "second.log",
            name="fault-second",
            CELERY_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_TIMEOUT_SECONDS,
            # Look every second: kombu's default sweep (~100 s) would outlast the wait below.
            CELERY_UNACKED_RESTORE_INTERVAL_SECONDS="1",
            CELERY_UNACKED_RESTORE_THROTTLE="1",
        ) as second:
            wait_until(
                lambda: Appointment.objects.filter(referral=referral).exists(),
                seconds=60,
                what="the task was not redelivered to the second worker",
                log=second.log,
            )
            wait_until(
                lambda: _broker_counts(app) == (0, 0),
                seconds=30,
                what="the redelivered task was not acknowledged",
                log=second.log,
            )

    assert Appointment.objects.filter(referral=referral).count() == 1
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.PROPOSED


def test_control_with_acks_late_off_the_killed_workers_task_is_lost(
    transactional_db, redis_url, tmp_path
):
    referral, clinician_id = _referral_with_one_free_time()
    with celery_broker(redis_url) as app:
        _broker_empty(app)
        _kill_while_matching(
            referral,
            clinician_id,
            tmp_path=tmp_path,
            redis_url=redis_url,
            DJANGO_SETTINGS_MODULE="tests.faults.settings_early_ack",
        )
        # Acknowledged on receipt: nothing left in Redis for any worker to run again.
        assert _broker_counts(app) == (0, 0)
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.NEW
    assert not Appointment.objects.filter(referral=referral).exists()


def _pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


@contextmanager
def _kill_pool_process_while_matching(
    referral: Referral, clinician_id: int, *, tmp_path, redis_url, rerun: str, **env
) -> None:
    """Hold a prefork worker's pool process inside matching, SIGKILL only that process, wait
    for `rerun` in the worker's log, then let the clinician's lock go."""
    with psycopg.connect(database_url_for_subprocesses()) as holder:
        holder.execute(
            "SELECT id FROM scheduling_clinician WHERE id = %s FOR UPDATE", [clinician_id]
        )
        with celery_worker(
            broker_url=redis_url,
            log=tmp_path / "worker.log",
            name="fault-pool",
            pool="prefork",
            MATCH_LOCKED_RETRY_SECONDS="1",
            **env,
        ) as worker:
            match_referral.delay(referral.pk)
            wait_until(
                lambda: _backends_waiting_on_a_lock(),
                seconds=30,
                what="the pool process never reached the clinician's lock",
                log=worker.log,
            )
            [stuck] = _backends_waiting_on_a_lock()
            [child] = _pool_children(worker.process.pid)
            os.kill(child, signal.SIGKILL)
            wait_until(
                lambda: rerun in worker.log.read_text(errors="replace"),
                seconds=30,
                what=f"no {rerun!r} in the worker's log",
                log=worker.log,
            )
            holder.rollback()
            wait_until(
                lambda: not _backend_alive(stuck), seconds=30, what="the dead backend lingered"
            )
            yield worker


def test_a_pool_process_killed_mid_match_has_its_task_rejected_back_and_one_session_proposed(
    transactional_db, redis_url, tmp_path
):
    """Only the pool process dies (the OOM killer's usual choice): its parent sees the worker
    lost and, with task_reject_on_worker_lost, puts the task straight back in the queue, while
    the dead process's transaction still holds the referral's row lock. The redelivered run
    must try again shortly, not take the lock as "another worker has it" and drop the task."""
    referral, clinician_id = _referral_with_one_free_time()
    with celery_broker(redis_url) as app:
        _broker_empty(app)
        with _kill_pool_process_while_matching(
            referral,
            clinician_id,
            tmp_path=tmp_path,
            redis_url=redis_url,
            # Redelivered at once, it meets the referral still locked by the dead process's
            # transaction (which waits on the lock held here).
            rerun=f"match referral {referral.pk}: locked",
        ) as worker:
            wait_until(
                lambda: Appointment.objects.filter(referral=referral).exists(),
                seconds=30,
                what="the referral was left for the sweeper",
                log=worker.log,
            )

    assert Appointment.objects.filter(referral=referral).count() == 1


def test_control_without_reject_on_worker_lost_the_pool_processs_task_is_lost(
    transactional_db, redis_url, tmp_path
):
    referral, clinician_id = _referral_with_one_free_time()
    with celery_broker(redis_url) as app:
        _broker_empty(app)
        with _kill_pool_process_while_matching(
            referral,
            clinician_id,
            tmp_path=tmp_path,
            redis_url=redis_url,
            rerun="WorkerLostError",
            DJANGO_SETTINGS_MODULE="tests.faults.settings_no_reject",
        ) as worker:
            wait_until(
                lambda: worker_is_idle(app, worker.name),
                seconds=30,
                what="the worker did not settle",
                log=worker.log,
            )
            # Marked failed and acknowledged: nothing left in Redis for any worker to run.
            assert _broker_counts(app) == (0, 0)
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.NEW
    assert not Appointment.objects.filter(referral=referral).exists()
