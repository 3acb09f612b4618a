"""The Celery application.

With no REDIS_URL (the embedded default) tasks run in-process; otherwise a worker and a beat
process take them from Redis. Either way, tasks are queued after commit and take ids only.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("soundingboard", task_cls="privacy.task_guard:PrivateTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(sender=None, **kwargs) -> None:
    """Treat each task in a worker like a request: keep the connection unless it is broken or
    older than CONN_MAX_AGE (CELERY_DB_REUSE_MAX stops the fixup closing it every time)."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_init.connect
def _yield_the_cpu_to_requests(**kwargs) -> None:
    """Background work waits for a person's request: pool processes forked later inherit it."""
    from django.conf import settings

    if settings.CELERY_WORKER_NICENESS:
        os.nice(settings.CELERY_WORKER_NICENESS)
