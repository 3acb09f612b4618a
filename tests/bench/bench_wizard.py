"""The self-referral wizard: time and SQL statements per step, one person after another.

Drives the real views through Django's test client on a throwaway test database (created and
dropped here), so it measures our code and the database, not a network or a browser.
`python -m tests.bench wizard [--rounds=N]`; DATABASE_URL picks the database.
"""

import re
import statistics
import time

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import (
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)

TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|(RELEASE )?SAVEPOINT)\b")


def main(argv: list[str]) -> None:
    rounds = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--rounds=")), 30)
    setup_test_environment()
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with override_settings(REFERRAL_SUBMISSIONS_PER_IP=rounds + 1):
            report(measure(rounds), rounds)
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        teardown_test_environment()


def measure(rounds: int) -> dict[tuple[str, str], list[tuple[float, int]]]:
    from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers

    samples: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for number in range(rounds):
        wizard = Wizard(Client())
        answers = routine_answers(email=f"bench{number}@example.test")
        wizard.get("service")
        for step in SELF_STEPS:
            for method in ("GET", "POST"):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    if method == "GET":
                        response = wizard.get(step)
                    else:
                        response = wizard.post(step, answers[step])
                    elapsed_ms = (time.perf_counter() - started) * 1000
                assert response.status_code in (200, 302), (method, step, response.status_code)
                statements = sum(
                    1 for q in captured.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])
                )
                samples.setdefault((step, method), []).append((elapsed_ms, statements))
    return samples


def report(samples: dict, rounds: int) -> None:
    print(f"database: {connection.vendor}; {rounds} people through every step")
    print(f"{'step':<18}{'method':<8}{'median ms':>10}{'p95 ms':>9}{'SQL':>5}")
    for (step, method), values in samples.items():
        times = sorted(ms for ms, _ in values)
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        statements = max(count for _, count in values)
        print(f"{step:<18}{method:<8}{statistics.median(times):>10.1f}{p95:>9.1f}{statements:>5}")
