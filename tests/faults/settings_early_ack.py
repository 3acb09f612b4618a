"""Test settings for the control of the worker-kill fault: a worker that acknowledges every
task on receipt (acks_late off), as Celery does by default.

The tasks set acks_late themselves, and in a worker they are bound before CELERY_TASK_ANNOTATIONS
would reach them, so the worker turns it off once it is ready.
"""

from celery import signals

from config.settings.test import *  # noqa: F403


@signals.worker_ready.connect
def _acknowledge_on_receipt(sender, **kwargs) -> None:
    for task in sender.app.tasks.values():
        task.acks_late = False
