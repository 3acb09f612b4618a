"""Fault 5: PostgreSQL restarted under load, behind a real gunicorn with production settings.

The cluster is the test's own (a copy of the migrated test database), so stopping it touches no
one else. While it is down every request ends, quickly, in the 503 "try again" page (no
traceback, no 500, no request left hanging); once it is back the same gunicorn processes serve
again without a restart, because each kept connection is health-checked before reuse
(DATABASE_CONN_HEALTH_CHECKS). The control turns the check off and sees requests fail after the
database is already back.
"""

import http.client
import subprocess
import sys
import threading

import pytest

from tests.config.test_processes import production_environment
from tests.conftest import database_url_for_subprocesses
from tests.faults.harness import BASE_DIR, free_port, stop, wait_until
from tests.referrals.factories import reference_data_ensure

pytestmark = pytest.mark.postgres

PAGE = "/refer/service/"  # the wizard's first step: reads the programs, writes the session
CONNECT_TIMEOUT_SECONDS = 3  # DATABASE_CONNECT_TIMEOUT_SECONDS for the app under test
# A request still unanswered after this long counts as hung (the app's connect timeout plus
# room for a shared, busy machine).
CLIENT_TIMEOUT_SECONDS = CONNECT_TIMEOUT_SECONDS + 12
LOAD_THREADS = 4
MAX_REQUESTS_PER_THREAD = 2000  # bounds the load loop even if the stop signal were missed
TRY_AGAIN = "Please try again in a minute"


def _get(port: int) -> tuple[int | str, str, str]:
    """(status or the client-side failure, body, Retry-After) of one GET of PAGE."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_SECONDS)
    try:
        connection.request("GET", PAGE)
        response = connection.getresponse()
        return (
            response.status,
            response.read().decode(errors="replace"),
            response.getheader("Retry-After", ""),
        )
    except OSError as error:  # refused, reset or timed out: not a clean answer
        return type(error).__name__, "", ""
    finally:
        connection.close()


def _unclean(outcomes) -> list:
    """Anything but the page or the 503 try-again page (with Retry-After, without a traceback)."""
    return [
        (status, body[:200])
        for status, body, retry_after in outcomes
        if not (
            (status == 200 and "Traceback" not in body)
            or (status == 503 and TRY_AGAIN in body and retry_after and "Traceback" not in body)
        )
    ]


@pytest.fixture
def site(private_postgres, transactional_db, tmp_path):
    """gunicorn (sync workers, two unless told, production settings) on the private cluster;
    a factory so a test chooses the environment."""
    reference_data_ensure()
    private_postgres.copy_database(database_url_for_subprocesses(), "soundingboard")
    (tmp_path / "static").mkdir()
    started = []

    def start(*, workers: int = 2, **environment: str) -> int:
        port = free_port()
        env = production_environment(
            tmp_path,
            DATABASE_URL=private_postgres.url("soundingboard"),
            DATABASE_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT_SECONDS),
            # PAGE must read the database on every request, not the process's copy of the
            # programs, for a dead kept connection to show.
            REFERENCE_DATA_CACHE_SECONDS="0",
            **environment,
        )
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
        command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"]
        log = tmp_path / "gunicorn.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        started.append(process)
        wait_until(
            lambda: process.poll() is not None or _get(port)[0] == 200,
            seconds=60,
            what="gunicorn did not serve the page",
            log=log,
        )
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        return port

    start.process = lambda: started[-1]
    yield start
    for process in started:
        stop(process)


def _warm(port: int) -> None:
    """Requests enough for the workers to hold persistent connections (all answered)."""
    outcomes = [_get(port) for _ in range(12)]
    assert [status for status, _, _ in outcomes] == [200] * 12


class Load:
    """LOAD_THREADS clients requesting PAGE back to back until stopped."""

    def __init__(self, port: int) -> None:
        self.port, self.outcomes, self._stop = port, [], threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]

    def _run(self) -> None:
        for _ in range(MAX_REQUESTS_PER_THREAD):
            if self._stop.is_set():
                return
            outcome = _get(self.port)
            with self._lock:
                self.outcomes.append(outcome)

    def statuses(self) -> list:
        with self._lock:
            return [status for status, _, _ in self.outcomes]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS * 2)
        assert not any(thread.is_alive() for thread in self._threads), "a client hung"


def test_requests_fail_cleanly_while_postgres_restarts_and_recover_without_a_process_restart(
    site, private_postgres
):
    port = site()
    gunicorn = site.process()
    _warm(port)

    with Load(port) as load:
        wait_until(lambda: len(load.statuses()) >= 20, seconds=30, what="no load")
        private_postgres.stop()
        down_from = len(load.statuses())
        wait_until(
            lambda: load.statuses()[down_from:].count(503) >= 10,
            seconds=60,
            what="no 503 page while the database was down",
        )
        private_postgres.start()
        up_from = len(load.statuses())
        wait_until(
            lambda: load.statuses()[up_from:].count(200) >= 20,
            seconds=60,
            what="the site did not recover after the database came back",
        )
    assert _unclean(load.outcomes) == []
    assert 503 in load.statuses()

    # Restarted while idle: every kept connection is now dead, and none is used.
    private_postgres.stop()
    private_postgres.start()
    after = [_get(port) for _ in range(12)]
    assert [status for status, _, _ in after] == [200] * 12
    assert gunicorn.poll() is None  # the same processes, never restarted


def test_control_without_health_checks_requests_fail_after_the_database_is_back(
    site, private_postgres
):
    # One worker: with two, the kernel may hand every request after the restart to the worker
    # that never opened a connection, and the control would see nothing (it did so once).
    port = site(workers=1, DATABASE_CONN_HEALTH_CHECKS="false")
    _warm(port)

    private_postgres.stop()
    private_postgres.start()
    after = [_get(port) for _ in range(12)]

    assert 503 in [status for status, _, _ in after]  # a dead kept connection was reused
    assert _unclean(after) == []
