"""Test settings for the control of the pool-process kill: without task_reject_on_worker_lost,
Celery marks a task whose pool process died as failed and acknowledges it."""

from config.settings.test import *  # noqa: F403

CELERY_TASK_REJECT_ON_WORKER_LOST = False
