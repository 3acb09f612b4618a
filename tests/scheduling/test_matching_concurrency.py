"""Two real Celery workers on PostgreSQL matching referrals that compete for a few slots."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from referrals.models import Referral
from scheduling.models import Appointment
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import ClinicianFactory, SlotFactory

pytestmark = pytest.mark.services


def _start_worker(redis_url: str, log: Path) -> subprocess.Popen:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
    command += [
        "--without-gossip",
        "--without-mingle",
        "--loglevel=WARNING",
        "-n",
        f"{log.stem}@%h",
    ]
    return subprocess.Popen(
        command,
        cwd=Path(settings.BASE_DIR),
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def two_workers(transactional_db, redis_url, tmp_path):
    from config.celery import app

    app.control.purge()
    workers = [_start_worker(redis_url, tmp_path / f"worker{i}.log") for i in (1, 2)]
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 30
        while len(app.control.ping(timeout=0.5)) < 2:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                logs = "\n".join(
                    p.read_text(errors="replace")[-1500:] for p in tmp_path.glob("*.log")
                )
                pytest.fail(f"the workers did not start:\n{logs}")
        yield workers
    finally:
        app.conf.task_always_eager = was_eager
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _drained() -> bool:
    """Nothing queued and nothing running on the workers."""
    from config.celery import app

    with app.connection_for_write() as broker:
        queued = broker.default_channel.client.llen("celery")
    active = app.control.inspect(timeout=0.5).active() or {}
    return queued == 0 and not any(active.values())


def _next_week(weekday: int, hour: int) -> dt.datetime:
    sydney = ZoneInfo("Australia/Sydney")
    today = timezone.now().astimezone(sydney).date()
    day = today + dt.timedelta(days=7 - today.weekday() + weekday)
    return dt.datetime.combine(day, dt.time(hour), sydney)


def test_two_workers_never_propose_one_slot_twice_or_overfill_a_week(two_workers):
    from scheduling.tasks import match_referral

    program = ProgramFactory()
    clinicians = [
        ClinicianFactory(programs=[program], districts=[DistrictFactory()], weekly_capacity=2)
        for _ in range(3)
    ]
    for clinician in clinicians:
        for day in (0, 1, 2, 3):
            starts_at = _next_week(day, 10)
            SlotFactory(
                clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
            )
    referrals = [ReferralFactory(program=program) for _ in range(12)]
    for referral in referrals + referrals[::-1]:
        match_referral.delay(referral.pk)

    waiting = Referral.objects.filter(pk__in=[r.pk for r in referrals], status=Referral.Status.NEW)
    deadline = time.monotonic() + 60
    while (waiting.exists() or not _drained()) and time.monotonic() < deadline:
        time.sleep(0.2)  # the workers are other processes: poll, bounded by the deadline

    live = Appointment.objects.filter(status__in=Appointment.LIVE_STATUSES)
    assert not waiting.exists()
    assert live.values("slot").annotate(n=Count("pk")).filter(n__gt=1).count() == 0
    assert live.values("referral").annotate(n=Count("pk")).filter(n__gt=1).count() == 0
    # Three clinicians with room for two sessions in that week: six proposals, six unmatched.
    assert live.count() == 6
    assert all(
        n <= 2 for n in live.values("clinician").annotate(n=Count("pk")).values_list("n", flat=True)
    )
    assert Referral.objects.filter(status=Referral.Status.UNMATCHED).count() == 6
