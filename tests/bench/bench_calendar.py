"""Calendar benchmarks: `python -m tests.bench calendar [--sequential=N] [--burst=N] ...`.

1. Submit-to-invitation latency: from the wizard's final POST (the check page's "Send", to
   gunicorn run with config/gunicorn.py, its shape or --web-workers × --web-threads) to the
   SMTP server (aiosmtpd) accepting the clinician's invitation, with a real Redis and a real
   Celery worker, all on loopback. Between the two: the referral saved, matching queued after
   commit, the match (alone, or batched in a burst), the invitation written to the outbox and
   sent. Sequential p50/p95 (floors 50 ms / 150 ms), then a burst of 1,000 POSTs paced over
   5 s from --burst-clients threads, every invitation of which must be delivered within 10 s
   of the burst's end. Each person is a copy of one session that walked the wizard to the
   check page, with their own email address (so their own episode). --service-logs=DIR keeps
   the web and worker logs at INFO, to see where the time went.
2. Calendar replies ingested per second: the pure parser alone, and the whole path (parse,
   store, apply through appointments_respond, queue the referrer's confirmation), one message
   per call as the HTTP endpoint and the pipe hand them over (each keeps the message, then
   the worker's inbound_apply applies what was kept, in batches; timed one after the other
   in this process, though in service they run side by side), and IMAP_BATCH per call as the
   IMAP poller does. Floor 200/s.
3. Rendering one clinician's feed of 500 sessions. Floor 100 ms.

Runs in a throw-away test database. Part 1 needs DATABASE_URL (PostgreSQL) and REDIS_URL;
without them it is skipped with a note, and parts 2 and 3 run on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

FLOORS = {"p50_ms": 50, "p95_ms": 150, "burst_s": 10, "replies_per_s": 200, "feed_ms": 100}


def main(argv: list[str]) -> None:
    options = _options(argv)
    from django.conf import settings
    from django.db import connection

    # The replies and the feed are timed in this process: run them as the worker and the web
    # run them, without DEBUG's record of every query.
    settings.DEBUG = False

    original_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":  # never the name pytest's own test database uses
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{original_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    print("load average before (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    try:
        world = _World.build(sessions=2 * options.replies + 520)
        if os.environ.get("REDIS_URL") and connection.vendor == "postgresql":
            _bench_latency(options)
        else:
            print("latency: skipped (needs DATABASE_URL for PostgreSQL and REDIS_URL)")
        _bench_replies(world, options)
        _bench_feed(world)
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        print("load average after (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench calendar")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--burst-seconds", type=float, default=5.0)
    parser.add_argument("--burst-clients", type=int, default=32)
    parser.add_argument(
        "--service-logs", default="", help="a directory for the web and worker logs (INFO)"
    )
    parser.add_argument("--web-workers", type=int, help="WEB_CONCURRENCY; config/gunicorn.py's")
    parser.add_argument("--web-threads", type=int, help="WEB_THREADS; config/gunicorn.py's")
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--worker-pool", choices=["prefork", "threads", "solo"], default="threads")
    return parser.parse_args(argv)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _verdict(value: float, floor: float, *, higher_is_better: bool = False) -> str:
    is_met = value >= floor if higher_is_better else value <= floor
    return "meets floor" if is_met else "BELOW FLOOR"


class _World:
    """Programs, clinicians, free slots and referrals made in bulk before anything is timed."""

    def __init__(self, program, clinicians, slots, referrals) -> None:
        self.program, self.clinicians = program, clinicians
        self._slots, self._referrals = iter(slots), iter(referrals)
        self._lock = threading.Lock()

    @classmethod
    def build(cls, *, sessions: int) -> _World:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from referrals.models import Program, Referral
        from scheduling.models import Clinician, Slot

        program = Program.objects.create(
            code="bench", name="Bench", short_name="Bench", description="-", eligibility="-"
        )
        users = get_user_model().objects.bulk_create(
            get_user_model()(username=f"bench{i}") for i in range(10)
        )
        clinicians = Clinician.objects.bulk_create(
            Clinician(user=u, display_name=f"Clinician {i}", calendar_email=f"c{i}@bench.test")
            for i, u in enumerate(users)
        )
        start = (timezone.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        slots = Slot.objects.bulk_create(
            Slot(
                clinician=clinicians[i % 10],
                starts_at=start + dt.timedelta(hours=i // 10),
                ends_at=start + dt.timedelta(hours=i // 10 + 1),
            )
            for i in range(sessions)
        )
        referrals = Referral.objects.bulk_create(
            Referral(
                reference=f"B{i:06d}",
                program=program,
                status="proposed",
                given_name="Alex",
                family_name=f"Bench{i}",
                email=f"r{i}@bench.test",
                phone="+61412345678",
                collection_notice_version="bench",
            )
            for i in range(sessions)
        )
        return cls(program, clinicians, slots, referrals)

    def take(self) -> tuple[int, int, int]:
        """The next free slot and waiting referral, as (slot id, clinician id, referral id)."""
        with self._lock:
            slot, referral = next(self._slots), next(self._referrals)
        return slot.pk, slot.clinician_id, referral.pk

    def propose(self) -> list:
        return _propose(*self.take())


def _propose(slot_id: int, clinician_id: int, referral_id: int) -> list:
    """One proposal, as the matcher makes it: the appointment and its invitation row."""
    from django.db import transaction

    from notifications import services
    from scheduling.models import Appointment

    with transaction.atomic():
        appointment = Appointment.objects.create(
            referral_id=referral_id, slot_id=slot_id, clinician_id=clinician_id, session_number=1
        )
        return services.appointment_notify(appointment_id=appointment.pk, change="proposed")


class _Arrivals:
    """aiosmtpd handler noting when each Message-ID was accepted, and counting invitations."""

    def __init__(self) -> None:
        self.wall_at: dict[str, float] = {}
        self.invitations = 0
        self.condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        content = envelope.content
        header = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in content.split(b"\r\n")
                if line.lower().startswith(b"message-id:")
            ),
            "",
        )
        with self.condition:
            self.wall_at[header] = now
            self.invitations += b"method=REQUEST" in content
            self.condition.notify_all()
        return "250 OK"

    def wait_invitations(self, count: int, timeout: float) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: self.invitations >= count, timeout)


def _bench_latency(options: argparse.Namespace) -> None:
    """Wizard's final POST → the clinician's invitation accepted by the SMTP server, through
    gunicorn, Redis, a Celery worker and aiosmtpd, all on loopback."""
    from aiosmtpd.controller import Controller

    count = 5 + options.sequential + options.burst
    _matchable_clinicians(sessions=count + 100)
    cookies = _wizard_sessions(count)
    arrivals = _Arrivals()
    smtp_port, web_port = _free_port(), _free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    processes = [
        _start_worker(smtp_port, options),
        _start_web(web_port, smtp_port, options),
    ]
    try:
        post = _Poster(web_port)
        for cookie in cookies[:5]:  # warm-up: imports, connections, templates
            post(cookie)
        if not arrivals.wait_invitations(5, timeout=60):
            sys.exit("latency: the warm-up invitations never reached the SMTP server")
        started_at = {}
        for index, cookie in enumerate(cookies[5 : 5 + options.sequential]):
            started_at[5 + index] = time.time()
            post(cookie)
            if not arrivals.wait_invitations(6 + index, timeout=60):
                sys.exit("latency: an invitation never reached the SMTP server")
        latencies = [v * 1000 for v in _delivery_delays(arrivals, started_at).values()]
        p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
        print(
            f"final POST → invitation accepted by SMTP, sequential n={len(latencies)}: "
            f"p50 {p50:.1f} ms ({_verdict(p50, FLOORS['p50_ms'])} ≤ {FLOORS['p50_ms']} ms), "
            f"p95 {p95:.1f} ms ({_verdict(p95, FLOORS['p95_ms'])} ≤ {FLOORS['p95_ms']} ms); "
            f"the POST alone: p50 {_percentile(post.took_ms, 0.5):.1f} ms"
        )
        if options.burst:
            _burst(
                cookies[5 + options.sequential :],
                5 + options.sequential,
                web_port,
                arrivals,
                options,
                services={"worker": processes[0].pid, "web": processes[1].pid},
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        controller.stop()


def _matchable_clinicians(*, sessions: int) -> None:
    """Clinicians of the wizard's program with hourly free times from two days on, room in
    every week and no district, so every routine referral has a match."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from referrals.models import Program
    from scheduling.models import Clinician, Slot

    program = Program.objects.get(code="dup")
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bench-match{i}") for i in range(30)
    )
    clinicians = Clinician.objects.bulk_create(
        Clinician(
            user=u,
            display_name=f"Coach {i}",
            calendar_email=f"coach{i}@bench.test",
            weekly_capacity=1000,
        )
        for i, u in enumerate(users)
    )
    for clinician in clinicians:
        clinician.programs.add(program)
    start = (timezone.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    per_clinician = sessions // len(clinicians) + 1
    Slot.objects.bulk_create(
        Slot(
            clinician=clinician,
            starts_at=start + dt.timedelta(hours=hour),
            ends_at=start + dt.timedelta(hours=hour + 1),
        )
        for clinician in clinicians
        for hour in range(per_clinician)
    )


def _wizard_sessions(count: int) -> list[str]:
    """Cookie headers of `count` people who have answered every step and are on the check
    page: one walk through the wizard with the test client, its session copied with a
    different email address each (a new person, a new episode)."""
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment, teardown_test_environment

    from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers

    setup_test_environment()
    try:
        wizard = Wizard(Client())
        answers = routine_answers(email="bench-0@bench.test")
        answers["preferences"]["preferred_windows"] = []  # any time suits
        wizard.get("service")
        wizard.walk(answers, SELF_STEPS[:-1])
        key = wizard.client.cookies[settings.SESSION_COOKIE_NAME].value
    finally:
        teardown_test_environment()
    csrf_secret = "b" * 32
    return [
        f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={csrf_secret}"
        for session_key in session_copies(key, count, prefix="bench")
    ]


def session_copies(key: str, count: int, *, prefix: str) -> list[str]:
    """Keys of `count` new sessions copied from session `key` (a wizard walked to the check
    page), each with its own email address, `<prefix>-<n>@<prefix>.test`."""
    from django.conf import settings
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    template = store(session_key=key).load()
    storage_key = next(k for k in template if k.startswith("wizard_"))
    keys = []
    for index in range(count):
        session = store()
        data = json.loads(json.dumps(template))
        data[storage_key]["step_data"]["about-you"]["about-you-email"] = [
            f"{prefix}-{index}@{prefix}.test"
        ]
        session.update(data)
        session.save(must_create=True)
        keys.append(session.session_key)
    return keys


class _Poster:
    """The check page's "Send" as a browser posts it, over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = None
        self.took_ms: list[float] = []

    def __call__(self, cookie: str) -> None:
        import http.client

        started = time.perf_counter()
        for _attempt in range(2):  # the server may have closed a kept connection
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request(
                    "POST",
                    _CHECK_PATH,
                    body=_CHECK_BODY,
                    headers={
                        "Cookie": cookie,
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Host": "127.0.0.1",
                    },
                )
                response = self.connection.getresponse()
                response.read()
                break
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
        else:
            sys.exit("latency: the web server did not answer")
        if response.status != 302 or "/refer/sent/" not in response.getheader("Location", ""):
            sys.exit(f"latency: the final POST answered {response.status}, not the sent page")
        self.took_ms.append((time.perf_counter() - started) * 1000)


_CHECK_PATH = "/refer/check/"
_CHECK_BODY = "self_referral-current_step=check&csrfmiddlewaretoken=" + "b" * 32


def _delivery_delays(arrivals: _Arrivals, started_at: dict[int, float]) -> dict[int, float]:
    """Seconds from each person's POST to their invitation's acceptance, found through the
    outbox (person → referral → invitation's Message-ID); missing ones are left out."""
    from notifications.models import OutboundMessage

    emails = {f"bench-{index}@bench.test": index for index in started_at}
    invitations = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.INVITATION)
    delays = {}
    for message in invitations.select_related("referral"):  # emails are encrypted: no WHERE
        index = emails.get(message.referral.email)
        if index is not None and message.message_id in arrivals.wall_at:
            delays[index] = arrivals.wall_at[message.message_id] - started_at[index]
    return delays


def _burst(cookies, first_index, web_port, arrivals: _Arrivals, options, *, services) -> None:
    """The POSTs paced evenly over the burst window by a spawned client process (threads, so
    a slow answer does not hold up the next), then a wait for every invitation."""
    import multiprocessing

    start_at = time.time() + 3  # time for the client process to start
    interval = options.burst_seconds / len(cookies)
    before = arrivals.invitations
    cpu_before, by_process_before = _machine_cpu_seconds(), _cpu_by_process(services)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        sent_at, client_cpu = pool.apply(
            _post_paced, (web_port, cookies, start_at, interval, options.burst_clients)
        )
    burst_ended = time.time()
    is_all = arrivals.wait_invitations(before + len(cookies), timeout=FLOORS["burst_s"] * 6)
    cpu_after, by_process_after = _machine_cpu_seconds(), _cpu_by_process(services)
    busy, stolen = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    delays = _delivery_delays(arrivals, {first_index + i: at for i, at in enumerate(sent_at)})
    last = max((sent_at[i - first_index] + d for i, d in delays.items()), default=0)
    after = last - burst_ended if delays else float("inf")
    took = burst_ended - start_at
    is_on_plan = took <= options.burst_seconds * 1.1
    print(
        f"burst of {len(cookies)} final POSTs planned over {options.burst_seconds:.0f} s "
        f"({options.burst_clients} client threads): submitted in {took:.2f} s "
        f"({len(cookies) / took:.0f}/s); {len(delays)} invitations delivered, the last "
        f"{after:.2f} s after the burst ("
        + (
            _verdict(
                after if is_all and len(delays) == len(cookies) else float("inf"), FLOORS["burst_s"]
            )
            if is_on_plan
            else "BELOW FLOOR: the submissions themselves ran long"
        )
        + f", floor ≤ {FLOORS['burst_s']} s); per invitation p50 "
        f"{_percentile(list(delays.values()), 0.5):.2f} s after its POST"
    )
    print(
        f"burst CPU, every process on the machine (client, web, worker, PostgreSQL, Redis, "
        f"SMTP): {busy:.1f} s busy, {1000 * busy / len(cookies):.1f} ms per submission; "
        f"{stolen:.1f} s stolen by the hypervisor"
    )
    shares = {
        name: by_process_after[name] - by_process_before.get(name, 0.0)
        for name in by_process_after
        if name != "other"
    }
    shares["client (its own process)"] = client_cpu
    shares["other"] = busy - sum(shares.values())
    print(
        "  of which, per submission: "
        + ", ".join(
            f"{name} {1000 * seconds / len(cookies):.1f} ms"
            for name, seconds in sorted(shares.items(), key=lambda item: -item[1])
        )
    )


def _cpu_by_process(services: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each service (the process and everything under it), by
    PostgreSQL's and Redis's processes, and by this process (the SMTP server) and the rest."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used, names = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        pid = int(text.split(" ", 1)[0])
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        parents[pid], names[pid] = int(fields[1]), name
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    owner = {os.getpid(): "bench process (SMTP server)"}
    owner |= {pid: name for name, pid in services.items()}
    totals: dict[str, float] = {}
    for pid, seconds in used.items():
        label, ancestor = None, pid
        while label is None and ancestor > 1:
            label = owner.get(ancestor)
            ancestor = parents.get(ancestor, 1)
        if label is None:
            label = {"postgres": "PostgreSQL", "redis-server": "Redis"}.get(names[pid], "other")
        totals[label] = totals.get(label, 0.0) + seconds
    return totals


def _machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot, from /proc/stat: what every
    process together costs, which a busy or slow machine changes less than it changes the
    wall-clock time."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _post_paced(port: int, cookies: list[str], start_at: float, interval: float, clients: int):
    """In a spawned process: POST each cookie's final step at its planned time; returns when
    each POST was sent (wall clock) and the CPU seconds this process used."""
    from concurrent.futures import ThreadPoolExecutor

    sent_at = [0.0] * len(cookies)
    local = threading.local()

    def one(index: int) -> None:
        ahead = start_at + index * interval - time.time()
        if ahead > 0:
            time.sleep(ahead)  # pacing the burst to its planned rate
        poster = getattr(local, "poster", None) or _Poster(port)
        local.poster = poster
        sent_at[index] = time.time()
        poster(cookies[index])

    cpu_started = time.process_time()
    with ThreadPoolExecutor(clients) as executor:
        list(executor.map(one, range(len(cookies))))
    return sent_at, time.process_time() - cpu_started


def _database_url() -> str:
    from django.db import connection

    database = connection.settings_dict
    return (
        f"postgres://{database['USER'] or 'postgres'}@{database['HOST']}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def _service_environment(smtp_port: int, options: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "LOG_LEVEL": "INFO" if options.service_logs else "WARNING",
        "DJANGO_DEBUG": "false",
        "REFERRAL_SUBMISSIONS_PER_IP": "1000000",
    }


def _log_file(options: argparse.Namespace, name: str):
    if not options.service_logs:
        return subprocess.DEVNULL
    return (Path(options.service_logs) / f"{name}.log").open("w")


def _start_web(port: int, smtp_port: int, options: argparse.Namespace) -> subprocess.Popen:
    """gunicorn with the project's config (config/gunicorn.py), as compose runs it."""
    import http.client

    from django.conf import settings

    environment = _service_environment(smtp_port, options) | {"WEB_ACCESS_LOG": ""}
    shape = {"WEB_CONCURRENCY": options.web_workers, "WEB_THREADS": options.web_threads}
    environment |= {name: str(value) for name, value in shape.items() if value is not None}
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=Path(settings.BASE_DIR),
        env=environment,
        stdout=_log_file(options, "web"),
        stderr=subprocess.STDOUT if options.service_logs else None,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            sys.exit("latency: gunicorn did not start")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/refer/", headers={"Host": "127.0.0.1"})
            connection.getresponse().read()
            return web
        except OSError:
            time.sleep(0.2)  # gunicorn still starting: poll, bounded by the loop
    sys.exit("latency: gunicorn did not answer")


def _start_worker(smtp_port: int, options: argparse.Namespace) -> subprocess.Popen:
    from django.conf import settings

    from config.celery import app

    app.control.purge()
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker"),
            f"--loglevel={'INFO' if options.service_logs else 'WARNING'}",
            *(f"--pool={options.worker_pool}", f"--concurrency={options.worker_concurrency}"),
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=Path(settings.BASE_DIR),
        env=_service_environment(smtp_port, options),
        stdout=_log_file(options, "worker"),
        stderr=subprocess.STDOUT if options.service_logs else None,
    )
    deadline = time.monotonic() + 30
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit("latency: the Celery worker did not start")
    return worker


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bench_replies(world: _World, options: argparse.Namespace) -> None:
    from unittest import mock

    from django.conf import settings

    from notifications import ical, inbound
    from tests.notifications import replies

    fixtures = sorted((Path(__file__).parent.parent / "fixtures" / "ical").glob("*-2.eml"))
    real = [path.read_bytes() for path in fixtures]
    started = time.perf_counter()
    for index in range(options.replies):
        ical.message_parse(real[index % len(real)])
    parse_rate = options.replies / (time.perf_counter() - started)

    from notifications.tasks import inbound_apply

    # Rows are written as usual; handing them to a broker is not part of ingesting a reply
    # (the doors' "a run is already queued" flag in the cache is real).
    with (
        mock.patch("notifications.services.queue_send"),
        mock.patch("notifications.services.queue_send_many"),
        mock.patch("notifications.tasks.inbound_apply.apply_async"),
    ):
        raws = _reply_messages(world, options.replies, replies)
        keep_rate, keep_cpu_ms = _ingest(
            raws, lambda raw: inbound.message_accept(raw, source="http")
        )
        runs = [None] * (len(raws) // settings.INBOUND_APPLY_BATCH + 1)  # bounded: each applies
        apply_rate, apply_cpu_ms = _ingest(runs, lambda _run: inbound_apply(), count=len(raws))
        batch = settings.IMAP_BATCH
        raws = _reply_messages(world, options.replies, replies)
        batches = [raws[i : i + batch] for i in range(0, len(raws), batch)]
        batch_rate, batch_cpu_ms = _ingest(
            batches, lambda chunk: inbound.messages_receive(chunk, source="imap"), per=batch
        )
    print(f"replies parsed (pure parser, real client files): {parse_rate:.0f}/s")
    # In service the doors keep (gunicorn) while the worker applies; here one after the other.
    single_rate = 1 / (1 / keep_rate + 1 / apply_rate)
    print(
        f"replies kept by the HTTP and pipe doors, one message per call: {keep_rate:.0f}/s "
        f"(CPU {keep_cpu_ms:.1f} ms each); applied by the worker's inbound_apply "
        f"(parse, apply, queue confirmation), INBOUND_APPLY_BATCH={settings.INBOUND_APPLY_BATCH}"
        f" a run: {apply_rate:.0f}/s (CPU {apply_cpu_ms:.1f} ms each)"
    )
    for label, rate, cpu_ms in (
        ("one message per call (HTTP, pipe), kept then applied", single_rate, None),
        (f"IMAP_BATCH={batch} messages per call (IMAP poll)", batch_rate, batch_cpu_ms),
    ):
        cpu = "" if cpu_ms is None else f"; this process's CPU per reply {cpu_ms:.1f} ms"
        print(
            f"replies ingested (parse, store, apply, queue confirmation), {label}: {rate:.0f}/s "
            f"({_verdict(rate, FLOORS['replies_per_s'], higher_is_better=True)} "
            f"≥ {FLOORS['replies_per_s']}/s){cpu}"
        )


def _ingest(items: list, receive, *, per: int = 1, count: int = 0) -> tuple[float, float]:
    """Replies per second and this process's CPU milliseconds per reply (`count` replies in
    all, when the items do not tell)."""
    count = count or (sum(len(item) for item in items) if per > 1 else len(items))
    started, cpu_started = time.perf_counter(), time.process_time()
    for item in items:
        receive(item)
    elapsed = time.perf_counter() - started
    return count / elapsed, (time.process_time() - cpu_started) / count * 1000


def _reply_messages(world: _World, count: int, replies) -> list[bytes]:
    """Accepting replies, in four clients' shapes, to freshly proposed sessions."""
    shapes = [
        replies.google_reply,
        replies.outlook_reply,
        replies.apple_reply,
        replies.thunderbird_reply,
    ]
    raws = []
    for index in range(count):
        [invitation] = world.propose()
        text = replies.reply_text(
            uid=invitation.ical_uid, attendee=f"mailto:{invitation.recipient}"
        )
        raws.append(shapes[index % len(shapes)](text, invitation.recipient))
    return raws


def _bench_feed(world: _World) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from notifications import services
    from scheduling.models import Appointment, Clinician, Slot

    clinician = Clinician.objects.create(
        user=get_user_model().objects.create(username="bench-feed"),
        display_name="Feed",
        calendar_email="feed@bench.test",
    )
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    slots = Slot.objects.bulk_create(
        Slot(
            clinician=clinician,
            starts_at=start + dt.timedelta(hours=i),
            ends_at=start + dt.timedelta(hours=i + 1),
        )
        for i in range(500)
    )
    referrals = [next(world._referrals) for _ in range(500)]
    Appointment.objects.bulk_create(
        Appointment(referral=r, slot=s, clinician=clinician, session_number=1, status="accepted")
        for r, s in zip(referrals, slots, strict=True)
    )
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        text = services.feed_render(clinician)
        timings.append((time.perf_counter() - started) * 1000)
    median = statistics.median(timings)
    print(
        f"feed of {text.count('BEGIN:VEVENT')} sessions ({len(text) // 1024} KiB): median "
        f"{median:.1f} ms, p95 {_percentile(timings, 0.95):.1f} ms "
        f"({_verdict(median, FLOORS['feed_ms'])} ≤ {FLOORS['feed_ms']} ms)"
    )
