"""Calendar benchmarks: `python -m tests.bench calendar [--sequential=N] [--burst=N]`.

1. Proposal-to-invitation latency, with a real Redis broker, a real Celery worker process and
   an aiosmtpd server on loopback: from the moment a proposal is created (Appointment row plus
   appointment_notify, one transaction) to the SMTP server accepting the invitation. The
   wizard's final POST belongs to another part of the project and is not in this figure.
   Sequential p50/p95 (floors 50 ms / 150 ms) and a burst of 1,000 proposals paced over 5 s,
   all of which must be delivered within 10 s of the burst's end.
2. Calendar replies ingested per second: the pure parser alone, and the whole path (parse,
   store, apply through appointment_respond, queue the referrer's confirmation). Floor 200/s.
3. Rendering one clinician's feed of 500 sessions. Floor 100 ms.

Runs in a throw-away test database. Part 1 needs DATABASE_URL (PostgreSQL) and REDIS_URL;
without them it is skipped with a note, and parts 2 and 3 run on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    from django.db import connection

    original_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":  # never the name pytest's own test database uses
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{original_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    print("load average before (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    try:
        world = _World.build(
            sessions=options.sequential + options.burst + 2 * options.replies + 520
        )
        if os.environ.get("REDIS_URL") and connection.vendor == "postgresql":
            _bench_latency(world, options)
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
    parser.add_argument("--burst-processes", type=int, default=2)
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
    """aiosmtpd handler noting when each Message-ID was accepted."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.wall_at: dict[str, float] = {}
        self.condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        header = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in envelope.content.split(b"\r\n")
                if line.lower().startswith(b"message-id:")
            ),
            "",
        )
        with self.condition:
            self.at[header] = now
            self.wall_at[header] = time.time()
            self.condition.notify_all()
        return "250 OK"

    def wait(self, message_ids: list[str], timeout: float) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: all(m in self.at for m in message_ids), timeout)


def _bench_latency(world: _World, options: argparse.Namespace) -> None:
    from aiosmtpd.controller import Controller

    arrivals = _Arrivals()
    port = _free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=port)
    controller.start()
    worker = _start_worker(port, options.worker_pool, options.worker_concurrency)
    try:
        _warm_up(world, arrivals)
        latencies = []
        for _ in range(options.sequential):
            started = time.perf_counter()
            [message] = world.propose()
            if not arrivals.wait([message.message_id], timeout=30):
                sys.exit("latency: an invitation never reached the SMTP server")
            latencies.append((arrivals.at[message.message_id] - started) * 1000)
        p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
        print(
            f"proposal → SMTP acceptance, sequential n={len(latencies)}: "
            f"p50 {p50:.1f} ms ({_verdict(p50, FLOORS['p50_ms'])} ≤ {FLOORS['p50_ms']} ms), "
            f"p95 {p95:.1f} ms ({_verdict(p95, FLOORS['p95_ms'])} ≤ {FLOORS['p95_ms']} ms)"
        )
        _burst(world, arrivals, options)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        controller.stop()


def _warm_up(world: _World, arrivals: _Arrivals) -> None:
    warm = [world.propose()[0].message_id for _ in range(5)]
    if not arrivals.wait(warm, timeout=30):
        sys.exit("latency: the worker delivered nothing during warm-up")


def _burst(world: _World, arrivals: _Arrivals, options: argparse.Namespace) -> None:
    """Proposals paced evenly over the burst window from several processes (as several web
    processes would submit them), then a wait for every delivery. Times here are wall-clock,
    shared by the processes."""
    import multiprocessing

    jobs = [(index, *world.take()) for index in range(options.burst)]
    interval = options.burst_seconds / options.burst
    processes = options.burst_processes
    start_at = time.time() + 5  # time for the spawned processes to set Django up
    shares = [(_database_url(), jobs[k::processes], start_at, interval) for k in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        message_ids = [m for share in pool.starmap(_submit_share, shares) for m in share]
    burst_ended = time.time()
    is_all_delivered = arrivals.wait(message_ids, timeout=FLOORS["burst_s"] * 3)
    delivered = [arrivals.wall_at[m] for m in message_ids if m in arrivals.wall_at]
    last = (max(delivered) - burst_ended) if delivered else float("inf")
    took = burst_ended - start_at
    # The floor is for the planned burst: one that could not be submitted in time misses it.
    is_on_plan = took <= options.burst_seconds * 1.1
    print(
        f"burst of {len(message_ids)} proposals planned over {options.burst_seconds:.0f} s from "
        f"{processes} processes, submitted in {took:.2f} s ({len(message_ids) / took:.0f}/s): "
        f"{len(delivered)} delivered, the last {last:.2f} s after the burst ("
        + (
            _verdict(last if is_all_delivered else float("inf"), FLOORS["burst_s"])
            if is_on_plan
            else "BELOW FLOOR: the submissions themselves ran long"
        )
        + f", floor ≤ {FLOORS['burst_s']} s)"
    )


def _submit_share(database_url: str, jobs: list, start_at: float, interval: float) -> list[str]:
    """In a spawned process: make this share of the burst's proposals on their schedule."""
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.db import connection

    message_ids = []
    try:
        for index, slot_id, clinician_id, referral_id in jobs:
            ahead = start_at + index * interval - time.time()
            if ahead > 0:
                time.sleep(ahead)  # pacing the burst to its planned rate
            message_ids += [m.message_id for m in _propose(slot_id, clinician_id, referral_id)]
    finally:
        connection.close()
    return message_ids


def _database_url() -> str:
    from django.db import connection

    database = connection.settings_dict
    return (
        f"postgres://{database['USER'] or 'postgres'}@{database['HOST']}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def _start_worker(smtp_port: int, pool: str, concurrency: int) -> subprocess.Popen:
    from django.conf import settings

    from config.celery import app

    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
    }
    app.control.purge()
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"),
            *(f"--pool={pool}", f"--concurrency={concurrency}", "--without-gossip"),
            *("--without-mingle", "--prefetch-multiplier=4"),
        ],
        cwd=Path(settings.BASE_DIR),
        env=environment,
        stdout=subprocess.DEVNULL,
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

    # Rows are written as usual; handing them to a broker is not part of ingesting a reply.
    with mock.patch("notifications.services.queue_send"):
        raws = _reply_messages(world, options.replies, replies)
        single_rate, single_cpu_ms = _ingest(
            raws, lambda raw: inbound.message_receive(raw, source="http")
        )
        batch = settings.IMAP_BATCH
        raws = _reply_messages(world, options.replies, replies)
        batches = [raws[i : i + batch] for i in range(0, len(raws), batch)]
        batch_rate, batch_cpu_ms = _ingest(
            batches, lambda chunk: inbound.messages_receive(chunk, source="imap"), per=batch
        )
    print(f"replies parsed (pure parser, real client files): {parse_rate:.0f}/s")
    for label, rate, cpu_ms in (
        ("one message per call (HTTP, pipe)", single_rate, single_cpu_ms),
        (f"IMAP_BATCH={batch} messages per call (IMAP poll)", batch_rate, batch_cpu_ms),
    ):
        print(
            f"replies ingested (parse, store, apply, queue confirmation), {label}: {rate:.0f}/s "
            f"({_verdict(rate, FLOORS['replies_per_s'], higher_is_better=True)} "
            f"≥ {FLOORS['replies_per_s']}/s); this process's CPU per reply {cpu_ms:.1f} ms"
        )


def _ingest(items: list, receive, *, per: int = 1) -> tuple[float, float]:
    """Replies per second and this process's CPU milliseconds per reply."""
    count = sum(len(item) for item in items) if per > 1 else len(items)
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
