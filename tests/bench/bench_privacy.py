"""What privacy costs: encrypting a field, redacting a log record, and how long queuing a task
takes when Redis is down. Touches no database. `python -m tests.bench privacy`"""

import json
import logging
import socket
import statistics
import time
from collections.abc import Callable

from celery import Celery
from django.conf import settings

from privacy.crypto import decrypt_text, encrypt_text
from privacy.redaction import RedactPersonalData
from privacy.task_guard import PrivateTask

FREE_TEXT = "Struggling after a run of night shifts; would like to talk to someone. " * 14
TRIAGE_ANSWERS = json.dumps({f"k10_q{n}": n % 5 + 1 for n in range(10)} | {"self_harm": False})


def _timings(action: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def _print(label: str, runs: int, median: float, p95: float, unit: str = "µs") -> None:
    scale = 1e6 if unit == "µs" else 1e3
    figures = f"median {median * scale:8.1f} {unit}  p95 {p95 * scale:8.1f} {unit}"
    print(f"{label:<48} n={runs:<6} {figures}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _queue_with_redis_down() -> Callable[[], None]:
    down = Celery(
        "bench-down", broker=f"redis://127.0.0.1:{_closed_port()}/0", set_as_current=False
    )
    down.conf.update(
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_publish_retry=False,
    )

    @down.task(name="bench.down", base=PrivateTask)
    def match(referral_id: int) -> None:
        """Never runs: the broker is down."""

    logging.getLogger("privacy.task_guard").disabled = True
    return lambda: match._publish_or_leave_to_sweeper((1,), {}, {})


def main(argv: list[str]) -> None:
    text_token = encrypt_text(FREE_TEXT)
    json_token = encrypt_text(TRIAGE_ANSWERS)
    record_filter = RedactPersonalData()

    def log_record() -> None:
        record = logging.LogRecord(
            "referrals",
            logging.INFO,
            __file__,
            1,
            "sent %s to %s",
            (42, "a.person@example.test"),
            None,
        )
        record_filter.filter(record)

    for label, action in [
        (f"encrypt {len(FREE_TEXT)} chars of free text", lambda: encrypt_text(FREE_TEXT)),
        (f"decrypt {len(FREE_TEXT)} chars of free text", lambda: decrypt_text(text_token)),
        ("encrypt triage answers (JSON)", lambda: encrypt_text(TRIAGE_ANSWERS)),
        ("decrypt triage answers (JSON)", lambda: decrypt_text(json_token)),
        ("redact one log record", log_record),
    ]:
        _print(label, 5000, *_timings(action, 5000))
    _print("queue a task after commit, Redis down", 5, *_timings(_queue_with_redis_down(), 5), "ms")
