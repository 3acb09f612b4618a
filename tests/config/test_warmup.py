"""config/warmup.py: a web process loads at start what its first requests would."""

import json
import os
import subprocess
import sys

from django.conf import settings

# Run in a fresh interpreter (this one has loaded everything already) on a database of its own.
FIRST_REQUESTS = """
import json, sys
import django
from django.core.management import call_command
django.setup()
call_command("migrate", verbosity=0)
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
client.handler.load_middleware()  # gunicorn's WSGI handler loads them when it is imported
if "--warm-up" in sys.argv:
    from config.warmup import warm_up
    warm_up()
loaded = set(sys.modules)
statuses = [client.get(path).status_code for path in ("/", "/refer/service/", "/staff/sign-in/")]
answer = {"self_referral-current_step": "service", "service-program": "dup"}
answered = client.post("/refer/service/", answer)
statuses += [answered.status_code, client.get(answered["Location"]).status_code]
print(json.dumps({"statuses": statuses, "imported": sorted(set(sys.modules) - loaded)}))
"""


def _first_requests(tmp_path, *flags: str) -> dict:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'first-requests.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUESTS, *flags],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_warmed_up_process_imports_nothing_while_serving_its_first_people(tmp_path):
    cold = _first_requests(tmp_path)
    warm = _first_requests(tmp_path, "--warm-up")
    # Three pages, then the first step answered (the next one is shown).
    assert warm["statuses"] == cold["statuses"] == [200, 200, 200, 302, 200]
    # The control: without the warm-up those first requests import the URLconf and the views.
    assert "config.urls" in cold["imported"]
    assert warm["imported"] == []
