"""The wizard's final POST (the check page's "Send") in one process: time, SQL statements and,
with --profile, where the time goes. Not a benchmark of its own (`python -m tests.bench` runs
bench_*.py only); run it to see what one submission costs:

    DATABASE_URL=postgres://... REDIS_URL=redis://... DJANGO_DEBUG=false \
      .venv/bin/python -m tests.bench.submit_probe [--rounds=N] [--profile] [--queries]

Walks the wizard to the check page once with the test client, copies that session for each
round with a new email address (a new person, a new episode) and posts "Send" with it, on a
throwaway test database. With REDIS_URL the matching task and the messages are really handed
to Redis (nothing consumes them here; the queue is purged at the end). With --profile,
PROFILE_DUMP=FILE also writes the profile there, for pstats.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import statistics
import sys
import time

TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|(RELEASE )?SAVEPOINT)\b")


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    rounds = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--rounds=")), 50)
    setup_test_environment()
    original_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"probe_{original_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        _probe(rounds, profile="--profile" in argv, show_queries="--queries" in argv)
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        teardown_test_environment()
        if os.environ.get("REDIS_URL"):
            from config.celery import app

            app.control.purge()


def _probe(rounds: int, *, profile: bool, show_queries: bool) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    with override_settings(REFERRAL_SUBMISSIONS_PER_IP=10**9):
        sessions = _sessions(rounds + 3)
        timings, statements, executed = [], [], []
        profiler = cProfile.Profile() if profile else None
        for index, session_key in enumerate(sessions):
            client = Client()
            client.cookies[settings.SESSION_COOKIE_NAME] = session_key
            executed.clear()
            # Not CaptureQueriesContext: it forces the debug cursor, whose formatting of every
            # statement (psycopg's mogrify) the service never pays.
            with connection.execute_wrapper(_noting(executed)):
                started = time.perf_counter()
                if profiler is not None and index >= 3:
                    profiler.enable()
                response = client.post("/refer/check/", {"self_referral-current_step": "check"})
                if profiler is not None:
                    profiler.disable()
                took = (time.perf_counter() - started) * 1000
            assert response.status_code == 302, response.status_code
            assert "/refer/sent/" in response["Location"], response["Location"]
            if index < 3:  # warm-up: imports, connections, templates
                continue
            timings.append(took)
            statements.append(sum(not TRANSACTION_CONTROL.match(sql) for sql in executed))
    print(f"database: {connection.vendor}; {len(timings)} final POSTs")
    print(
        f"POST median {statistics.median(timings):.1f} ms, "
        f"p95 {sorted(timings)[round(0.95 * (len(timings) - 1))]:.1f} ms, "
        f"statements (without transaction control) {max(statements)}"
    )
    if show_queries:
        for sql in executed:
            print("  ", sql[:160])
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        if os.environ.get("PROFILE_DUMP"):
            stats.dump_stats(os.environ["PROFILE_DUMP"])
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(30)


def _noting(executed: list[str]):
    def note(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    return note


def _sessions(count: int) -> list[str]:
    """Session keys of `count` people on the check page (see bench_calendar._wizard_sessions)."""
    from django.conf import settings
    from django.test import Client

    from tests.bench.bench_calendar import session_copies
    from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers

    wizard = Wizard(Client())
    wizard.get("service")
    wizard.walk(routine_answers(email="probe-0@probe.test"), SELF_STEPS[:-1])
    key = wizard.client.cookies[settings.SESSION_COOKIE_NAME].value
    return session_copies(key, count, prefix="probe")


if __name__ == "__main__":
    main(sys.argv[1:])
