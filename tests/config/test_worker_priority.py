"""A Celery worker gives way to web requests on a shared host (CELERY_WORKER_NICENESS)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

STARTED_WORKER = """
import os
import django
django.setup()
from celery import signals
signals.worker_init.send(sender=None)
print(os.nice(0))
"""


@pytest.mark.parametrize("niceness", ["7", "0"])
def test_a_worker_lowers_its_cpu_priority_by_the_setting(niceness):
    done = subprocess.run(
        [sys.executable, "-c", STARTED_WORKER],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CELERY_WORKER_NICENESS": niceness,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout.split()[-1]) == os.nice(0) + int(niceness)
