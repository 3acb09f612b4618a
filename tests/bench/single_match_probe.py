"""One referral matched in this process, on the matching benchmark's data: time, statements, the
time spent waiting on PostgreSQL and, with --profile, where the rest goes. Not a benchmark of its
own (`python -m tests.bench` runs bench_*.py only); run it to compare two versions of the single
match quickly, alternately, on the same data:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_single REDIS_URL=redis://... \\
      .venv/bin/python -m tests.bench.single_match_probe [--seed] [--after-batch] [--profile] \\
      [--notify] [--statements] [--worker]

--seed resets the database in DATABASE_URL (use one of its own) and writes the benchmark's
first scenario (1,000 clinicians, ~94,000 slots, 10,000 pending referrals); --after-batch then
proposes the batch for all of them and commits it, so the early weeks are full. Without
either, it adds 60 referrals shaped like the benchmark's single matches, matches each in a
transaction that is rolled back (every match sees the same data), and deletes them again. With
--notify each match also writes the invitation it calls for, as the match task does; with
--statements it prints each statement's median time (its position in the match and its SQL).
With --profile, PROFILE_DUMP=FILE also writes the profile there, for pstats. Statements stay
prepared across the rollbacks, as they do across a worker's commits. --worker instead runs
the 60 matches as tasks in a real worker through REDIS_URL, as the benchmark does; those
commit, so seed again before comparing.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import time
from collections import Counter

MATCHES = 60
WARM_UP = 3  # the first matches read the process's copies of clinicians and offered times


class _RolledBack(Exception):
    pass


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from tests.bench import bench_matching

    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database of its own")
    settings.DEBUG = False
    if "--seed" in argv:
        bench_matching._migrate()
        bench_matching._load(bench_matching.SCENARIOS["10k referrals x 100k slots"])
        print("seeded the benchmark's first scenario")
    if "--after-batch" in argv:
        print(f"batch: {_propose_batch()} proposals written")
    if "--worker" in argv:
        _time_worker_matches()
    elif "--seed" not in argv and "--after-batch" not in argv:
        _time_matches(
            profile="--profile" in argv,
            notify="--notify" in argv,
            per_statement="--statements" in argv,
        )


def _propose_batch() -> int:
    from referrals.models import Referral
    from scheduling.services import referrals_plan_batch, referrals_propose_batch

    waiting = Referral.objects.filter(status=Referral.Status.NEW).values_list("pk", flat=True)
    plan = referrals_plan_batch(referral_ids=list(waiting))
    return len(referrals_propose_batch(plan=plan).appointment_ids)


def _time_matches(*, profile: bool, notify: bool, per_statement: bool) -> None:
    from django.db import connection, transaction

    from notifications.services import appointment_created_notify
    from referrals.models import Referral
    from scheduling.services import referral_match
    from tests.bench.bench_matching import _new_referrals

    _keep_prepared_statements_across_rollbacks()
    ids = _new_referrals(MATCHES)
    statements, waited, took, outcomes = [], [], [], Counter()
    by_statement: dict[str, list[float]] = {}

    def counted(execute, sql, params, many, context):
        statements[-1] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            waited[-1] += elapsed
            if len(statements) > WARM_UP:
                key = f"{statements[-1]:2d} " + " ".join(sql.split())[:90]
                by_statement.setdefault(key, []).append(elapsed)

    profiler = cProfile.Profile() if profile else None
    try:
        with connection.execute_wrapper(counted):
            for index, referral_id in enumerate(ids):
                statements.append(0)
                waited.append(0.0)
                measured = profiler is not None and index >= WARM_UP
                try:
                    with transaction.atomic():
                        if measured:
                            profiler.enable()
                        started = time.perf_counter()
                        outcome = referral_match(referral_id=referral_id)
                        if notify and outcome.appointment_id is not None:
                            appointment_created_notify(appointment_id=outcome.appointment_id)
                        outcomes[outcome.detail] += 1
                        took.append((time.perf_counter() - started) * 1000)
                        if measured:
                            profiler.disable()
                        raise _RolledBack
                except _RolledBack:
                    pass
    finally:
        Referral.objects.filter(pk__in=ids).delete()
    took, waited = took[WARM_UP:], waited[WARM_UP:]
    print(
        f"{len(took)} matches: median {statistics.median(took):.1f} ms, p95 "
        f"{sorted(took)[int(len(took) * 0.95)]:.1f} ms; waiting on PostgreSQL median "
        f"{statistics.median(waited):.1f} ms; statements {dict(Counter(statements[WARM_UP:]))}; "
        f"outcomes {dict(outcomes)}"
    )
    if per_statement:
        for key, times in sorted(by_statement.items()):
            print(f"{statistics.median(times):6.2f} ms x{len(times):3d}  {key}")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        if os.environ.get("PROFILE_DUMP"):
            stats.dump_stats(os.environ["PROFILE_DUMP"])
        stats.sort_stats("cumulative").print_stats(40)


def _time_worker_matches() -> None:
    """MATCHES match tasks through a real worker and Redis, one at a time, as the benchmark
    runs them; they commit their proposals."""
    from tests.bench.bench_matching import _new_referrals, _worker_run

    runs = _worker_run(_new_referrals(MATCHES), "1000")[WARM_UP:]
    took = sorted(run["ms"] for run in runs)
    matched = sorted(run["match_ms"] for run in runs)
    print(
        f"{len(runs)} match tasks: median {statistics.median(took):.1f} ms, p95 "
        f"{took[int(len(took) * 0.95)]:.1f} ms (the match itself median "
        f"{statistics.median(matched):.1f} ms); queries per task "
        f"{dict(Counter(run['queries'] for run in runs))}"
    )


def _keep_prepared_statements_across_rollbacks() -> None:
    """psycopg forgets every prepared statement at a ROLLBACK (in case it undid the DDL they
    depend on), so matches rolled back here would each plan every statement afresh, which a
    match task, whose transactions commit, does not: keep them, as there is no DDL here."""
    from psycopg._preparing import PrepareManager

    PrepareManager.clear = lambda self: False


if __name__ == "__main__":
    main(sys.argv[1:])
