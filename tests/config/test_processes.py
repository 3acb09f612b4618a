"""The production-shaped processes of compose.yaml, run natively: gunicorn and celery beat.

(The worker is proven by every test using the `celery_worker_process` fixture.)
"""

import datetime as dt
import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduling.models import Slot
from tests.conftest import database_url_for_subprocesses
from tests.referrals.factories import reference_data_ensure
from tests.scheduling.factories import AvailabilityRuleFactory, ClinicianFactory
from tests.staff.factories import current_code, totp_device

BASE_DIR = Path(django_settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # No TLS terminator in front of this test server; compose.yaml says the same.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": database_url_for_subprocesses(),
        **extra,
    }


@contextmanager
def running(command: list[str], *, environment: dict[str, str], log_path: Path):
    """Run a process for the duration of the block; it is always stopped afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(condition, *, seconds: float, what: str, log_path: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} within {seconds} s:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.1)


class Site:
    """A tiny HTTP client that keeps cookies itself: the production cookies are Secure, and
    Python's cookie jar (rightly) keeps those off plain http."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies = SimpleCookie()

    def request(self, method: str, path: str, form: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode(errors="replace")
        set_cookies = response.headers.get_all("Set-Cookie") or []
        for header in set_cookies:
            self.cookies.load(header)
        connection.close()
        return response, content, set_cookies

    def answers(self) -> bool:
        try:
            return self.request("GET", "/")[0].status == 200
        except OSError:
            return False


@pytest.mark.postgres
def test_gunicorn_serves_the_site_static_files_and_admin_with_production_settings(
    transactional_db, tmp_path, settings
):
    # The test settings hash with MD5, which production settings do not accept.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    reference_data_ensure()  # an earlier transactional test may have emptied the tables
    ops = get_user_model().objects.create_superuser("ops", password="a long test password")
    device = totp_device(ops)
    environment = production_environment(tmp_path)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr.decode()
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2",
    ]  # fmt: skip
    site = Site(port)

    with running(command, environment=environment, log_path=log_path):
        wait_until(site.answers, seconds=30, what="gunicorn did not answer", log_path=log_path)

        home, page, _ = site.request("GET", "/")
        assert "Delivering Under Pressure" in page
        assert home.headers["X-Frame-Options"] == "DENY"
        stylesheet, _, _ = site.request("GET", "/static/css/site.css")
        assert stylesheet.status == 200

        # The admin signs in through the staff sign-in: password, then the authenticator code.
        _, sign_in_page, _ = site.request("GET", "/staff/sign-in/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', sign_in_page).group(1)
        password_step, _, set_cookies = site.request(
            "POST",
            "/staff/sign-in/",
            {"csrfmiddlewaretoken": token, "username": "ops", "password": "a long test password"},
        )
        assert password_step.status == 302
        session_cookie = next(c for c in set_cookies if c.startswith("__Host-sessionid="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        _, code_page, _ = site.request("GET", password_step.headers["Location"])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', code_page).group(1)
        code_step, _, _ = site.request(
            "POST",
            password_step.headers["Location"],
            {"csrfmiddlewaretoken": token, "token": current_code(device)},
        )
        assert code_step.status == 302
        admin_index, admin_page, _ = site.request("GET", f"/{django_settings.ADMIN_URL}")
        assert admin_index.status == 200
        assert "Clinicians" in admin_page


@pytest.mark.services
def test_beat_sends_the_periodic_materialisation_and_a_real_worker_runs_it(
    celery_worker_process, redis_url, tmp_path
):
    from celery.beat import PersistentScheduler

    from config.celery import app

    clinician = ClinicianFactory()
    AvailabilityRuleFactory(
        clinician=clinician,
        weekday=timezone.localdate().weekday(),
        valid_from_on=timezone.localdate(),
    )
    # Beat remembers when each entry last ran; one that last ran a day ago is due at once.
    schedule_path = tmp_path / "beat-schedule"
    scheduler = PersistentScheduler(app=app, schedule_filename=str(schedule_path))
    scheduler.schedule["materialise-slots"].last_run_at = timezone.now() - dt.timedelta(days=1)
    scheduler.close()
    log_path = tmp_path / "beat.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "beat",
        "--schedule", str(schedule_path), "--loglevel=INFO",
    ]  # fmt: skip

    with running(command, environment=environment, log_path=log_path) as beat:
        wait_until(
            lambda: Slot.objects.filter(clinician=clinician).exists() or beat.poll() is not None,
            seconds=60,
            what="no slots from the beat-sent task",
            log_path=log_path,
        )
        assert beat.poll() is None, log_path.read_text(errors="replace")

    assert "scheduling.tasks.slots_materialise_all" in log_path.read_text(errors="replace")
