"""A bounded load run on loopback: wrk against gunicorn, PostgreSQL, Redis and a Celery worker.

`python -m tests.bench load [--duration=5] [--connections=1,8,50] [--web-workers=3]
[--pages=dashboard,send] [--show-logs]` (labels containing those words only; the servers' logs
printed at the end), with
DATABASE_URL (PostgreSQL) and REDIS_URL set and Debian's `wrk` on the PATH.

1. Creates `<database>_load_bench` next to DATABASE_URL's database, migrates and seeds it
   (clinicians with a week of availability and slots, a dashboard's worth of cases, a
   coordinator and a clinician with verified second factors), and drops it at the end.
2. Starts gunicorn with the production settings (DEBUG off, production cookies, WhiteNoise
   after collectstatic) and config/gunicorn.py's worker hooks, as sync workers (one thread
   each), and a Celery worker, both on the bench database and Redis, on a free loopback port.
3. Builds the sessions in this process (the same SECRET_KEY and encryption key as the servers):
   wizard sessions with every step answered, so each POST is a valid step submission; one
   fresh, complete session per "send" (the check step's POST creates a referral and queues its
   matching on the worker); confirmation sessions; staff sessions signed in with 2FA.
4. After a one-second warm-up of each page, for each page and each number of connections wrk
   runs for --duration seconds and checks every answer (status, and where a redirect points);
   the figures are wrk's, and "server ms" and "srv p99" are the median and p99 of the time
   gunicorn itself logged for the page, so the difference from wrk's is time spent queued or
   held outside the application. Between runs the worker is given time to match every
   referral sent so far, so the matching a send leaves behind is not counted against the
   next page.
5. Counts SQL statements per page through Django's test client (BEGIN/COMMIT/SAVEPOINT not
   counted) and new PostgreSQL sessions opened during the whole run, which shows whether web
   and worker processes keep their connections.

The machine is shared and has 2 cores; the load generator runs on it too.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import (
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)

TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|(RELEASE )?SAVEPOINT)\b")
SESSION_COOKIE = "__Host-sessionid"
CSRF_COOKIE = "__Host-csrftoken"
# Every fresh session a "send" uses once: enough for several seconds at full speed.
SENDS_PER_LEVEL = 1500
STEP_SESSIONS = 64
# How long the bench waits at the end for the worker to match what the sends queued.
MATCHING_GRACE_SECONDS = 120
# The bench sends thousands of referrals from one address; the limit has tests of its own.
SUBMISSION_LIMIT = "100000000"


@dataclass
class Page:
    label: str
    method: str
    path: str
    cookies: list[str]  # session keys; one per request in turn
    expect_status: int
    expect_location: str = ""
    body: str = ""
    single_use: bool = False


def _option(argv: list[str], name: str, default: str) -> str:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), default)


def main(argv: list[str]) -> None:
    duration = int(_option(argv, "duration", "5"))
    levels = [int(n) for n in _option(argv, "connections", "1,8,50").split(",")]
    web_workers = int(_option(argv, "web-workers", "3"))
    only = [w for w in _option(argv, "pages", "").split(",") if w]
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        print("skipped: set DATABASE_URL to PostgreSQL and REDIS_URL")
        return
    if not shutil.which("wrk"):
        print("skipped: wrk is not installed (apt-get install wrk)")
        return
    secret_key, field_key = secrets.token_urlsafe(40), _fernet_key()
    setup_test_environment()
    original_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{original_name}_load_bench"
    bench_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with override_settings(
            SECRET_KEY=secret_key,
            FIELD_ENCRYPTION_KEYS=[field_key],
            REFERRAL_SUBMISSIONS_PER_IP=int(SUBMISSION_LIMIT),
        ):
            _run(
                bench_name=bench_name,
                environment=_environment(bench_name, secret_key, field_key),
                duration=duration,
                levels=levels,
                web_workers=web_workers,
                only=only,
                show_logs="--show-logs" in argv,
            )
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        teardown_test_environment()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _environment(bench_name: str, secret_key: str, field_key: str) -> dict[str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secret_key,
        "FIELD_ENCRYPTION_KEYS": field_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # no TLS terminator on loopback
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{bench_name}")),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "REFERRAL_SUBMISSIONS_PER_IP": SUBMISSION_LIMIT,
        "LOG_LEVEL": "WARNING",
    }


def _run(*, bench_name, environment, duration, levels, web_workers, only, show_logs) -> None:
    from django.conf import settings

    people = _seed()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        environment["DJANGO_STATIC_ROOT"] = str(Path(tmp) / "static")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=settings.BASE_DIR,
            env=environment,
            check=True,
            timeout=300,
        )
        sessions_before = _sessions_opened(bench_name)
        port = _free_port()
        web_log, worker_log = Path(tmp) / "gunicorn.log", Path(tmp) / "worker.log"
        access_log = Path(tmp) / "access.log"
        gunicorn = [
            sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application",
            # Production's config (its worker hooks) with sync workers: one request at a time.
            "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers), "--threads", "1",
            "--timeout", "30",
            # The time each request took inside gunicorn, to tell work from queueing.
            "--access-logfile", str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(M)s",
        ]  # fmt: skip
        worker = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=2",
            "--without-gossip", "--without-mingle", "--loglevel=WARNING",
        ]  # fmt: skip
        stack.enter_context(_running(gunicorn, environment, web_log))
        stack.enter_context(_running(worker, environment, worker_log))
        _wait_for_web(port, web_log)
        _wait_for_worker(worker_log)
        pages = [p for p in _pages(people, levels) if not only or any(w in p.label for w in only)]
        print(
            f"database: PostgreSQL {connection.pg_version // 10000}; gunicorn {web_workers} sync "
            f"workers, Celery worker (prefork, 2); wrk {duration} s per page and level; "
            f"the machine is shared: load average {_load_average()} at the start"
        )
        for page in pages:  # every worker renders each page once before anything is measured
            if not page.single_use:
                _wrk(page, port, web_workers, 1, tmp)
        _wait_for_web(port, web_log)
        seen = len(access_log.read_text().splitlines())
        results = {}
        for page in pages:
            for level in levels:
                figures = _wrk(page, port, level, duration, tmp)
                _wait_for_web(port, web_log)  # requests wrk left queued are served first
                lines = access_log.read_text().splitlines()
                figures["server_ms"], figures["server_p99_ms"] = _server_ms(lines[seen:], page)
                seen = len(lines)
                results[(page.method, page.label, level)] = figures
                # The referrals a send left for the worker are matched before the next run, so
                # each page's figures are its own, not those of the matching it left behind.
                _wait_for_matching(people["last_seeded_id"])
        queued = _wait_for_matching(people["last_seeded_id"])
        sessions_after = _sessions_opened(bench_name)
        queries = _queries_per_page(pages)
        if show_logs:
            for log in (web_log, worker_log):
                print(f"--- {log.name}, last lines:\n{log.read_text(errors='replace')[-4000:]}")
    load_at_end = _load_average()
    _report(pages, levels, results, queries)
    print(f"\nload average at the end: {load_at_end}")
    print(
        f"\nreferrals sent during the run: {queued['sent']}; matched or settled by the worker: "
        f"{queued['settled']}"
    )
    print(
        f"new PostgreSQL sessions during the run: {sessions_after - sessions_before} "
        f"(gunicorn {web_workers} workers + Celery pool 2 + this process; "
        f"{sum(r['requests'] for r in results.values())} requests)"
    )


# --- seeding and sessions ---


def _seed() -> dict:
    import datetime as dt

    from django.utils import timezone

    from referrals.models import District, Program, Referral
    from scheduling.models import Clinician
    from scheduling.services.slots import slots_materialise
    from tests.referrals.factories import reference_data_ensure
    from tests.scheduling.factories import AvailabilityRuleFactory
    from tests.staff.factories import bulk_cases, clinician_user, staff_user, totp_device

    reference_data_ensure()
    programs = list(Program.objects.all())
    districts = list(District.objects.order_by("code"))
    for n in range(12):
        clinician = clinician_user(
            display_name=f"Dr Bench {n}",
            programs=programs,
            districts=[districts[n % len(districts)]],
            weekly_capacity=20,
        )
        for weekday in range(5):
            AvailabilityRuleFactory(
                clinician=clinician,
                weekday=weekday,
                starts_at_time=dt.time(8),
                ends_at_time=dt.time(20),
                valid_from_on=timezone.localdate(),
            )
        slots_materialise(clinician_id=clinician.pk)
    week_clinician = Clinician.objects.order_by("pk").first()
    # The dashboard's cases book a clinician of their own: their hourly slots would collide
    # with the materialised ones.
    bulk_cases(420, programs=programs, districts=districts, clinician=clinician_user())
    coordinator = staff_user("coordinator", username="bench-coordinator")
    totp_device(coordinator)
    totp_device(week_clinician.user)
    return {
        "coordinator": coordinator,
        "clinician": week_clinician,
        "last_seeded_id": Referral.objects.order_by("-pk").values_list("pk", flat=True)[0],
    }


def _wizard_session_key(*, send: bool) -> tuple[str, dict]:
    """Walk one person through the wizard in this process; returns their session key and
    answers. With `send`, the check page is posted too (a confirmation session)."""
    from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers

    client = Client()
    wizard = Wizard(client)
    answers = routine_answers(email="bench.person@example.test")
    wizard.get("service")
    wizard.walk(answers, SELF_STEPS if send else SELF_STEPS[:-1])
    return client.cookies["sessionid"].value, answers


def _clones(session_key: str, count: int) -> list[str]:
    """`count` new sessions holding the same data as `session_key`."""
    from django.contrib.sessions.models import Session
    from django.utils.crypto import get_random_string

    original = Session.objects.get(pk=session_key)
    keys = [get_random_string(32) for _ in range(count)]
    Session.objects.bulk_create(
        Session(session_key=k, session_data=original.session_data, expire_date=original.expire_date)
        for k in keys
    )
    return keys


def _staff_session(user) -> str:
    from tests.staff.factories import sign_in_verified

    client = sign_in_verified(Client(), user)
    return client.cookies["sessionid"].value


def _pages(people: dict, levels: list[int]) -> list[Page]:
    from django.urls import reverse

    from tests.referrals.wizard import SELF_PREFIX, SELF_STEPS

    complete, answers = _wizard_session_key(send=False)
    step_sessions = _clones(complete, STEP_SESSIONS)
    sent, _ = _wizard_session_key(send=True)
    confirmation_sessions = _clones(sent, STEP_SESSIONS)
    csrf = secrets.token_hex(16)  # a 32-character CSRF secret, as the cookie holds
    pages = []
    steps = SELF_STEPS
    for index, step in enumerate(steps):
        url = reverse("referrals:refer_step", kwargs={"step": step})
        pages.append(Page(f"wizard {step}", "GET", url, step_sessions, 200))
        form = {f"{SELF_PREFIX}-current_step": step, "csrfmiddlewaretoken": csrf}
        for name, value in answers[step].items():
            form[f"{step}-{name}"] = value
        if step == "check":
            sends = _clones(complete, SENDS_PER_LEVEL * len(levels) + 1)
            target = reverse("referrals:refer_sent")
            pages.append(
                Page("wizard check (send)", "POST", url, sends, 302, target, "", single_use=True)
            )
        else:
            target = reverse("referrals:refer_step", kwargs={"step": steps[index + 1]})
            pages.append(Page(f"wizard {step}", "POST", url, step_sessions, 302, target))
        pages[-1].body = urlencode(form, doseq=True)
    coordinator = [_staff_session(people["coordinator"]) for _ in range(4)]
    clinician = [_staff_session(people["clinician"].user) for _ in range(4)]
    week = reverse("staff:clinician_week", kwargs={"clinician_id": people["clinician"].pk})
    return [
        *pages,
        Page("confirmation", "GET", reverse("referrals:refer_sent"), confirmation_sessions, 200),
        Page("coordinator dashboard", "GET", reverse("coordinate:dashboard"), coordinator, 200),
        Page("clinician week (coordinator)", "GET", week, coordinator, 200),
        Page("clinician week (own)", "GET", week, clinician, 200),
        Page("clinician availability", "GET", reverse("clinician:availability"), clinician, 200),
    ]


# --- processes ---


def _load_average() -> str:
    return " / ".join(f"{n:.1f}" for n in os.getloadavg()) + " (1 / 5 / 15 min)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _running(command: list[str], environment: dict, log_path: Path):
    from django.conf import settings

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_web(port: int, log_path: Path) -> None:
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            answer.request("GET", "/")
            if answer.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # gunicorn is another process: poll, bounded by the deadline
    sys.exit(f"gunicorn did not answer:\n{log_path.read_text(errors='replace')[-3000:]}")


def _wait_for_worker(log_path: Path) -> None:
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1):
            return
    sys.exit(f"the Celery worker did not answer:\n{log_path.read_text(errors='replace')[-3000:]}")


def _wait_for_matching(last_seeded_id: int) -> dict:
    """Give the worker MATCHING_GRACE_SECONDS to take every referral sent during the run."""
    from referrals.models import Referral

    deadline = time.monotonic() + MATCHING_GRACE_SECONDS
    while True:
        sent_during_run = Referral.objects.filter(pk__gt=last_seeded_id)
        sent = sent_during_run.count()
        waiting = sent_during_run.filter(status="new").count()
        if waiting == 0 or time.monotonic() > deadline:
            return {"sent": sent, "settled": sent - waiting}
        time.sleep(1)  # the worker is another process; bounded by MATCHING_GRACE_SECONDS


def _sessions_opened(database: str) -> int:
    """Sessions PostgreSQL has established to the database since its statistics began."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [database])
        return cursor.fetchone()[0]


# --- wrk ---

LUA = """
local cookies = {%(cookies)s}
local method, path, body = %(method)s, %(path)s, %(body)s
local expect_status, expect_location = %(status)d, %(location)s
local single_use, threads_total = %(single_use)s, %(threads)d
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  issued, errors = 0, 0
end

local function cookie_at(n)
  if single_use then
    -- each thread takes its own run of sessions, each used once
    local per_thread = math.floor(#cookies / threads_total)
    if n > per_thread then
      wrk.thread:stop()
      n = per_thread
    end
    return cookies[id * per_thread + n]
  end
  return cookies[(id + n * threads_total) %% #cookies + 1]
end

function request()
  issued = issued + 1
  local headers = {}
  headers["Cookie"] = "%(session)s=" .. cookie_at(issued) .. "; %(csrf)s=%(token)s"
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return wrk.format(method, path, headers, body ~= "" and body or nil)
end

function response(status, headers, _)
  local location = headers["Location"] or ""
  if status ~= expect_status or (expect_location ~= "" and location ~= expect_location) then
    errors = errors + 1
  end
end

function done(summary, latency, _)
  local checked = 0
  for _, thread in ipairs(threads) do checked = checked + thread:get("errors") end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "seconds": %%.3f, "p50": %%d, "p95": %%d, "p99": %%d, '
    .. '"socket_errors": %%d, "wrong_answers": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, checked))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid Lua string literal


def _wrk(page: Page, port: int, level: int, duration: int, tmp: str) -> dict:
    threads = min(level, 2)
    # The token matches the CSRF secret in the cookie (Django accepts the secret itself).
    token = re.search(r"csrfmiddlewaretoken=([0-9a-f]+)", page.body)
    cookies = page.cookies
    if page.single_use:  # this level's share of the fresh sessions, never handed out again
        cookies, page.cookies = cookies[:SENDS_PER_LEVEL], cookies[SENDS_PER_LEVEL:]
    script = Path(tmp) / "page.lua"
    script.write_text(
        LUA
        % {
            "cookies": ", ".join(_lua_string(c) for c in cookies),
            "method": _lua_string(page.method),
            "path": _lua_string(page.path),
            "body": _lua_string(page.body),
            "status": page.expect_status,
            "location": _lua_string(page.expect_location),
            "single_use": "true" if page.single_use else "false",
            "threads": threads,
            "session": SESSION_COOKIE,
            "csrf": CSRF_COOKIE,
            "token": token.group(1) if token else secrets.token_hex(16),
        }
    )
    completed = subprocess.run(
        [
            "wrk",
            f"--threads={threads}",
            f"--connections={level}",
            f"--duration={duration}s",
            "--timeout=10s",
            f"--script={script}",
            f"http://127.0.0.1:{port}{page.path}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        sys.exit(f"wrk failed on {page.label}:\n{completed.stdout}\n{completed.stderr}")
    figures = json.loads(line[4:])
    non_http = re.search(r"Non-2xx or 3xx responses: (\d+)", completed.stdout)
    figures["http_errors"] = int(non_http.group(1)) if non_http else 0
    return figures


def _server_ms(lines: list[str], page: Page) -> tuple[float, float]:
    """Median and p99 of the time requests of `page` took inside gunicorn."""
    times = [
        float(parts[3])
        for parts in (line.split() for line in lines)
        if len(parts) == 4 and parts[0] == page.method and parts[1] == page.path
    ]
    if not times:
        return 0.0, 0.0
    return float(np.median(times)), float(np.percentile(times, 99))


# --- queries per page ---


def _queries_per_page(pages: list[Page]) -> dict[str, int]:
    """Statements one request of each page runs, through the test client on a fresh session
    of the same kind (a send uses one of the sessions wrk did not reach)."""
    counts = {}
    for page in pages:
        client = Client()
        client.cookies["sessionid"] = page.cookies[-1]
        client.cookies["csrftoken"] = ""
        data = None
        if page.method == "POST":
            data = dict(_parse(page.body).lists())
        with CaptureQueriesContext(connection) as captured:
            if page.method == "GET":
                response = client.get(page.path)
            else:
                response = client.post(page.path, data)
        assert response.status_code == page.expect_status, (page.label, response.status_code)
        counts[f"{page.method} {page.label}"] = sum(
            1 for q in captured.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])
        )
    return counts


def _parse(body: str) -> dict:
    from django.http import QueryDict

    return QueryDict(body)


def _report(pages, levels, results, queries) -> None:
    print(
        f"\n{'page':<32}{'method':<7}{'SQL':>4}{'conns':>6}{'req/s':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}{'server ms':>10}{'srv p99':>8}"
    )
    for page in pages:
        for level in levels:
            r = results[(page.method, page.label, level)]
            errors = r["socket_errors"] + r["wrong_answers"] + r["http_errors"]
            print(
                f"{page.label:<32}{page.method:<7}{queries[f'{page.method} {page.label}']:>4}"
                f"{level:>6}{r['requests'] / r['seconds']:>8.1f}{r['p50'] / 1000:>8.1f}"
                f"{r['p95'] / 1000:>8.1f}{r['p99'] / 1000:>8.1f}{errors:>7}"
                f"{r['server_ms']:>10.1f}{r['server_p99_ms']:>8.1f}"
            )
