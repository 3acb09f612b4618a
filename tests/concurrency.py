"""Running calls at the same moment, each in its own thread with its own database connection."""

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(calls: list[Callable[[], object]], *, timeout: float = 30) -> list[Exception]:
    """Start every call in its own thread, release them together, wait (at most `timeout`
    seconds each) and return what they raised; fails the test if one is still running. Each
    thread's connection is closed after."""
    start = threading.Barrier(len(calls))
    errors: list[Exception] = []

    def run(call: Callable[[], object]) -> None:
        try:
            start.wait(timeout=10)
            call()
        except Exception as error:  # returned to the test, with the others
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    return errors
