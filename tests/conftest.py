"""Shared fixtures and the rules for tests that need real services.

Markers (see pyproject.toml):
- ``postgres``: needs PostgreSQL (row locks, concurrent transactions). Collected only when
  DATABASE_URL points at PostgreSQL.
- ``services``: needs PostgreSQL and a Redis broker, usually with a real Celery worker. Collected
  only when both DATABASE_URL and REDIS_URL are set.
- ``browser``: drives Debian's chromium through Playwright.

Without those services (a newcomer's laptop) such tests are deselected with one line saying how
to run them. When a run asks for a service (the URL is set) and it does not answer, the tests
fail; under CI=true a missing chromium fails the browser tests rather than skipping them.
"""

import contextlib
import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

IS_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _has_redis() -> bool:
    return bool(os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config, items):
    wanted, skipped = [], {"postgres": 0, "services": 0}
    for item in items:
        if item.get_closest_marker("services") and not (_is_postgres() and _has_redis()):
            skipped["services"] += 1
        elif item.get_closest_marker("postgres") and not _is_postgres():
            skipped["postgres"] += 1
        else:
            wanted.append(item)
    if len(wanted) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in wanted])
        items[:] = wanted
        config._sb_deselected = skipped


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = getattr(config, "_sb_deselected", None)
    if skipped:
        terminalreporter.write_line(
            f"Deselected {skipped['postgres']} PostgreSQL and {skipped['services']} "
            "PostgreSQL+Redis tests: set DATABASE_URL and REDIS_URL to run them (see README)."
        )


def _port_answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def database_url_for_subprocesses() -> str:
    """The PostgreSQL test database as a URL, for processes the tests start themselves."""
    from urllib.parse import quote

    from django.db import connection

    database = connection.settings_dict
    credentials = quote(database["USER"] or "postgres")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def wait_until_a_backend_waits_on_a_lock(deadline_seconds: float) -> bool:
    """Whether some PostgreSQL backend of the test database is waiting on a row lock within
    `deadline_seconds` (polled, bounded): for tests that need another transaction blocked."""
    import time

    from django.db import connection

    deadline = time.monotonic() + deadline_seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            # PostgreSQL cannot tell a client when another backend starts to wait on a lock,
            # so this polls, within the deadline.
            time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def _no_matching_copies():
    """Matching keeps clinicians' attributes, the offered times and the full weeks in the
    process; a test
    must not see another's (SQLite gives a rolled-back row's id to the next one)."""
    from scheduling.selectors import (
        clinician_copies_forget,
        full_weeks_forget,
        offered_times_forget,
    )

    clinician_copies_forget()
    offered_times_forget()
    full_weeks_forget()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis broker of a services run; fails the test if it does not answer."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.fail("this test needs REDIS_URL")
    if not _port_answers(url, 6379):
        pytest.fail(f"Redis at {urlparse(url).netloc} does not answer")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; skipped on a laptop without it, a failure in CI."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if IS_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def celery_worker_process(transactional_db, redis_url, tmp_path):
    """A real Celery worker process on the Redis broker and the test database; stopped after.

    The test process stops running tasks eagerly for the duration, so `.delay()` really goes
    through Redis to the worker. Data the worker must see has to be committed, hence
    transactional_db.
    """
    import subprocess
    import sys
    import time
    from pathlib import Path

    from config.celery import app

    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    app.control.purge()
    # Redis delivers broadcasts across its numbered databases, so wait for this worker by name,
    # not for any worker that happens to answer.
    worker_name = f"sb-test-{os.getpid()}@127.0.0.1"
    log_path = tmp_path / "celery-worker.log"
    log = log_path.open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
            f"--hostname={worker_name}",
        ],
        cwd=Path(settings.BASE_DIR),
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[worker_name], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                error = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"the Celery worker did not start:\n{error}")
        yield worker
    finally:
        app.conf.task_always_eager = was_eager
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


@pytest.fixture(autouse=True)
def _reference_data_fresh():
    """Each test starts with no reference data kept in the process: the rows a test writes are
    rolled back after it, and so must be any copy of them."""
    from referrals.selectors import _reference_rows

    _reference_rows.clear()
    yield
    _reference_rows.clear()


@pytest.fixture(autouse=True)
def _no_outbox_flush_pending():
    """No test inherits another's "flush already queued" or "inbound apply already queued"
    flag (the cache may be a Redis that outlives a test, and a test that mocks the task leaves
    the flag set)."""
    _outbox_flush_flag_clear()
    yield
    _outbox_flush_flag_clear()


def _outbox_flush_flag_clear() -> None:
    from django.core.cache import cache

    from notifications.services import FLUSH_PENDING_KEY, INBOUND_APPLY_PENDING_KEY

    # A test that stopped its Redis has no flag to inherit.
    with contextlib.suppress(Exception):
        cache.delete_many([FLUSH_PENDING_KEY, INBOUND_APPLY_PENDING_KEY])


@pytest.fixture
def admin_client(admin_user):
    """pytest-django's admin client, signed in with a verified second factor as every staff
    page (the admin included) requires."""
    from django.test import Client

    from tests.staff.factories import sign_in_verified

    return sign_in_verified(Client(), admin_user)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser(chromium_path, django_db_setup, django_db_blocker):
    """One headless Debian chromium for the whole test session, shared by every browser test
    (Playwright's sync API allows one running instance per thread)."""
    # Playwright's sync API keeps an event loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop. The test's own ORM calls are synchronous, so allow them
    # for as long as the browser runs.
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
            with django_db_blocker.unblock():
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
