"""The Celery application.

With no REDIS_URL (the embedded default) tasks run in-process; otherwise a worker and a beat
process take them from Redis. Either way, tasks are queued after commit and take ids only.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("soundingboard", task_cls="privacy.task_guard:PrivateTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
