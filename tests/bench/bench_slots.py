"""Slot materialisation: the pure slot maths, seeding the demo, and per-clinician runs.

Runs on a throwaway test database (in-memory SQLite, or test_<name> on PostgreSQL when
DATABASE_URL is set), never on the development database.
"""

import datetime as dt
import io
import statistics
import time
from collections.abc import Callable

from django.core.management import call_command
from django.db import connection

REPEATS = 200


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return seconds


def report(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{label}: median {statistics.median(ordered) * 1000:.2f} ms, "
        f"p95 {p95 * 1000:.2f} ms (n={len(ordered)})"
    )


def bench_pure() -> None:
    from scheduling.availability import WeeklyRule, sessions_from_rules

    rules = [WeeklyRule(day, dt.time(8), dt.time(18), dt.date(2026, 1, 1)) for day in range(5)]
    leave = dt.datetime(2026, 3, 16, tzinfo=dt.UTC)

    def one_clinician() -> None:
        sessions_from_rules(
            rules=rules,
            time_off=[(leave, leave + dt.timedelta(days=5))],
            holiday_dates={dt.date(2026, 4, 3), dt.date(2026, 4, 6)},
            time_zone="Australia/Sydney",
            session_minutes=60,
            first_on=dt.date(2026, 3, 2),
            last_on=dt.date(2026, 4, 26),
        )

    report("sessions_from_rules, 5 rules × 10 h over 8 weeks", timed(one_clinician, REPEATS))


def bench_database() -> None:
    from scheduling.models import Clinician, Slot
    from scheduling.services import slots_materialise

    first = timed(lambda: call_command("seed_demo", stdout=io.StringIO()), 1)
    again = timed(lambda: call_command("seed_demo", stdout=io.StringIO()), 3)
    clinician_ids = list(Clinician.objects.values_list("pk", flat=True))
    print(f"({len(clinician_ids)} clinicians, {Slot.objects.count()} slots, {connection.vendor})")
    report("seed_demo on an empty database", first)
    report("seed_demo again (nothing to do)", again)

    Slot.objects.filter(appointments__isnull=True).delete()
    started = time.perf_counter()
    for clinician_id in clinician_ids:
        slots_materialise(clinician_id=clinician_id)
    print(
        f"slots_materialise for all {len(clinician_ids)} clinicians from no slots: "
        f"{(time.perf_counter() - started) * 1000:.0f} ms"
    )
    reruns = [
        seconds
        for clinician_id in clinician_ids
        for seconds in timed(lambda c=clinician_id: slots_materialise(clinician_id=c), 5)
    ]
    report("slots_materialise, one clinician, nothing to change", reruns)


def main(argv: list[str]) -> None:
    bench_pure()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        bench_database()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
