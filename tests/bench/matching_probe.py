"""The project's Celery app with a timer and a query counter around each task, and a timer
around the match inside it (referral_match, without the notification that follows): the worker
the matching benchmark starts (`celery -A tests.bench.matching_probe worker`) writes one line
per match_referral task to BENCH_PROBE_FILE (the invitations it then sends are not timed)."""

import json
import os
import time

from celery import signals

from config.celery import app

__all__ = ["app"]
_started: dict[str, float] = {}
_queries = [0]
_match_ms = [0.0]


def _timed_match():
    import scheduling.services as services

    match = services.referral_match

    def timed(**kwargs):
        started = time.perf_counter()
        try:
            return match(**kwargs)
        finally:
            _match_ms[0] = (time.perf_counter() - started) * 1000

    services.referral_match = timed


def _count(execute, sql, params, many, context):
    _queries[0] += 1
    return execute(sql, params, many, context)


@signals.task_prerun.connect
def _start(task_id=None, **kwargs) -> None:
    from django.db import connection

    import scheduling.services as services

    if services.referral_match.__name__ != "timed":
        _timed_match()

    _queries[0], _match_ms[0] = 0, 0.0
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _stop(task_id=None, task=None, **kwargs) -> None:
    elapsed = (time.perf_counter() - _started.pop(task_id)) * 1000
    if task is None or task.name != "scheduling.tasks.match_referral":
        return  # the invitations the matches queue are sent by this worker too
    with open(os.environ["BENCH_PROBE_FILE"], "a") as probe:
        line = {"ms": elapsed, "match_ms": _match_ms[0], "queries": _queries[0]}
        probe.write(json.dumps(line) + "\n")
