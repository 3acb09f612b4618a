"""Private services and real processes for the fault tests, all on loopback and all bounded.

A fault test that stops a service stops its OWN copy (a redis-server or a PostgreSQL cluster
started here on a free port), never the shared one other work relies on. Every wait has a
deadline; every process started here is stopped when its block ends.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import database_url_for_subprocesses

BASE_DIR = Path(settings.BASE_DIR)
POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, seconds: float, what: str, log: Path | None = None) -> None:
    """Poll `condition` until it holds; fail naming `what` (and the log's tail) after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"{what} within {seconds} s\n{tail}")
        time.sleep(POLL_SECONDS)


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop(process: subprocess.Popen, *, seconds: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Redis ------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own on one free loopback port, stopped and started at will
    (no persistence: a restart is an empty Redis, the worst case for queued work)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: port_answers(self.port), seconds=10, what="redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        wait_until(lambda: not port_answers(self.port), seconds=10, what="redis-server stayed up")


@contextmanager
def celery_broker(url: str):
    """Point this process's Celery app at another broker for the block, publishing for real
    (the test settings otherwise run tasks eagerly, in-process)."""
    from kombu import pools

    from config.celery import app

    def reset_pools() -> None:
        # kombu keeps its pools in a global registry; closing one there would hand the closed
        # pool out again, so empty the registry itself.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous, was_eager = app.conf.broker_url, app.conf.task_always_eager
    reset_pools()
    app.conf.broker_url, app.conf.task_always_eager = url, False
    try:
        yield app
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.task_always_eager = previous, was_eager


# --- Celery workers ---------------------------------------------------------------------------


class Worker:
    """One `celery worker` process on the test database; `name` is its hostname for pings."""

    def __init__(self, process: subprocess.Popen, name: str, log: Path) -> None:
        self.process, self.name, self.log = process, name, log

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes, as a lost machine or container would
        do: no clean-up at all."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def celery_worker(*, broker_url: str, log: Path, name: str, pool: str = "solo", **environment: str):
    """A real worker process on `broker_url`, ready (answering a ping) when the block starts."""
    from config.celery import app

    hostname = f"{name}-{os.getpid()}@127.0.0.1"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        "REDIS_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **environment,
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}"]
    command += ["--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    command += ["--loglevel=INFO", f"--hostname={hostname}"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() reaches the pool too
        )
    worker = Worker(process, hostname, log)
    try:
        with celery_broker(broker_url):
            wait_until(
                lambda: (
                    process.poll() is not None
                    or app.control.ping(destination=[hostname], timeout=0.5)
                ),
                seconds=60,
                what="the Celery worker did not answer",
                log=log,
            )
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{log.read_text(errors='replace')[-3000:]}")
        yield worker
    finally:
        stop(process)


def worker_is_idle(app, worker_name: str) -> bool:
    """The worker answers, runs nothing, holds nothing scheduled, and the queue is empty."""
    inspect = app.control.inspect(destination=[worker_name], timeout=1)
    active, scheduled, reserved = inspect.active(), inspect.scheduled(), inspect.reserved()
    if not active:  # no answer yet
        return False
    with app.connection_for_write() as connection:
        waiting = connection.default_channel.client.llen("celery")
    return not waiting and not any(
        tasks for reply in (active, scheduled or {}, reserved or {}) for tasks in reply.values()
    )


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if not path:
        pytest.fail(f"PostgreSQL's {name} is not installed (apt-get install -y postgresql)")
    return path


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, run as the
    postgres user, one free loopback port), to stop and start while the shared one keeps
    serving everyone else. Trust authentication, loopback only, no fsync: a throwaway."""

    def __init__(self) -> None:
        import tempfile

        self.port = free_port()
        # pytest's tmp_path is closed to other users; the postgres user must own its directory.
        self.directory = Path(tempfile.mkdtemp(prefix="sb-fault-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, *command], capture_output=True, timeout=120, cwd="/"
        )
        if done.returncode:
            output = (done.stdout + done.stderr).decode(errors="replace")
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"{command[0]} failed:\n{output}\n{tail}")

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off"
        self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "30", "start")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: sessions are ended at once, as in a restart for an upgrade."""
        self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30",
                  "stop")  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def copy_database(self, source_url: str, name: str) -> None:
        """A copy of another server's database (schema and rows), e.g. the migrated test one."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.run(
            [postgres_bin("pg_dump"), "--no-owner", "--dbname", source_url],
            capture_output=True,
            timeout=120,
        )
        if dump.returncode:
            pytest.fail(f"pg_dump failed: {dump.stderr.decode(errors='replace')}")
        restore = subprocess.run(
            [postgres_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", "--dbname", self.url(name)],
            input=dump.stdout,
            capture_output=True,
            timeout=120,
        )
        if restore.returncode:
            pytest.fail(f"psql restore failed: {restore.stderr.decode(errors='replace')[-2000:]}")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_postgres, postgres_bin("pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "stop"],
                capture_output=True,
                timeout=60,
                cwd="/",
            )  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)
