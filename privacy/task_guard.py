"""Keeping personal data out of Celery messages: tasks take ids only.

Every task in the project is a PrivateTask (config/celery.py sets it as the task class). Queuing a
task checks its arguments first: a string shaped like an email address or a phone number, or one
longer than TASK_ARGUMENT_MAX_LENGTH (free text), is refused. With TASK_ARGUMENT_GUARD "raise"
(local and test settings) that is an exception, so the mistake fails a test; with "log"
(production) the task is not queued and an error naming the task, not the value, is logged: the
data stays out of Redis and the sweeper that owns the work picks it up from the database.

Queuing after commit never fails the request that committed: when the broker cannot be reached
the error is logged and the work waits for its sweeper (the database is the source of truth).

Celery's before_task_publish signal cannot refuse a message (Celery logs and ignores exceptions
raised by receivers), so `published_message_check` only logs: it is the net for messages sent by
name with `send_task`, which bypass the task class.
"""

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from .redaction import looks_personal

logger = logging.getLogger(__name__)


class PersonalDataInTaskArguments(ValueError):
    """A task was queued with something other than ids in its arguments."""


def _values(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from _values(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _values(item)
    else:
        yield value


def _offending_position(args: Iterable[Any], kwargs: Mapping[str, Any]) -> str | None:
    named = [(str(index), arg) for index, arg in enumerate(args or ())]
    named += list((kwargs or {}).items())
    for position, argument in named:
        for value in _values(argument):
            if isinstance(value, str) and (
                len(value) > settings.TASK_ARGUMENT_MAX_LENGTH or looks_personal(value)
            ):
                return position
    return None


def task_arguments_check(task_name: str, args: Any, kwargs: Any) -> bool:
    """True when the arguments may be queued; otherwise raise or log as TASK_ARGUMENT_GUARD says."""
    position = _offending_position(args or (), kwargs or {})
    if position is None:
        return True
    message = (
        f"task {task_name} refused: argument {position} looks like personal data or free text; "
        "tasks take ids only"
    )
    if settings.TASK_ARGUMENT_GUARD == "raise":
        raise PersonalDataInTaskArguments(message)
    logger.error(message)
    return False


class PrivateTask(DjangoTask):
    """A task whose arguments are checked before they leave the process."""

    def apply_async(self, args=None, kwargs=None, **options):
        if not task_arguments_check(self.name, args, kwargs):
            return None
        return super().apply_async(args, kwargs, **options)

    def delay_on_commit(self, *args, **kwargs) -> None:
        self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        # Checked now, inside the caller's transaction, so a test sees the mistake where it is.
        if task_arguments_check(self.name, args, kwargs):
            transaction.on_commit(
                functools.partial(self._publish_or_leave_to_sweeper, args, kwargs, options)
            )

    def _publish_or_leave_to_sweeper(self, args, kwargs, options) -> None:
        try:
            self.apply_async(args, kwargs, **options)
        except OperationalError as error:
            logger.error(
                "task %s not queued, the broker is unavailable (%s); its sweeper will pick the "
                "work up",
                self.name,
                type(error).__name__,
            )


def published_message_check(sender: str | None = None, body: Any = None, **kwargs) -> None:
    """before_task_publish receiver: logs (cannot refuse) a message carrying personal data."""
    if isinstance(body, list | tuple) and len(body) >= 2:
        args, task_kwargs = body[0], body[1]
        if _offending_position(args, task_kwargs) is not None:
            logger.error("task %s was published with personal data in its arguments", sender)
