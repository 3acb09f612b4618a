import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import RequestFactory, override_settings
from django.urls import clear_url_caches

from config.celery import app as celery_app
from tests.referrals.factories import ProgramFactory
from tests.scheduling.factories import UserFactory


def test_pages_carry_a_content_security_policy_without_unsafe_inline(client, db):
    ProgramFactory()
    response = client.get("/")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in policy


def test_pages_carry_the_privacy_headers(client, db):
    headers = client.get("/").headers
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "geolocation=()" in headers["Permissions-Policy"]
    assert "no-store" in headers["Cache-Control"]


def _view_using_session_and_csrf(request):
    request.session["step"] = "about-you"
    get_token(request)
    return HttpResponse("ok")


def test_session_and_csrf_cookies_are_http_only_and_same_site(db):
    handler = SessionMiddleware(CsrfViewMiddleware(_view_using_session_and_csrf))
    response = handler(RequestFactory().get("/"))
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        cookie = response.cookies[name]
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


def test_stored_session_data_is_encrypted(client, db):
    client.force_login(UserFactory(is_staff=True))
    session = client.session
    session["wizard_answers"] = "MARKER-unfinished-answer"
    session.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_data FROM django_session")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all(data.startswith("gAAAAA") for data in stored)
    assert not any("MARKER" in data or "_auth_user_id" in data for data in stored)
    assert client.session["wizard_answers"] == "MARKER-unfinished-answer"


@pytest.mark.parametrize("password", ["password123", "short", "1234567890123", "testperson1"])
def test_weak_staff_passwords_are_refused(password):
    user = UserFactory.build(username="testperson1", email="testperson1@staff.test")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_passphrase_is_accepted():
    validate_password("kettle orbit lantern meadow", UserFactory.build())


@pytest.fixture
def admin_at(request):
    """Reload the URLconf with the admin at another path; restored afterwards."""
    import config.urls

    with override_settings(ADMIN_URL=request.param):
        importlib.reload(config.urls)
        clear_url_caches()
        yield request.param
    importlib.reload(config.urls)
    clear_url_caches()


@pytest.mark.parametrize("admin_at", ["staff-door-4f2a/"], indirect=True)
def test_the_admin_lives_at_the_configured_path(client, db, admin_at):
    assert client.get(f"/{admin_at}").status_code == 302
    assert client.get("/admin/").status_code == 404


def test_celery_settings_keep_work_when_a_worker_or_redis_fails():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_publish_retry is False
    assert conf.worker_hijack_root_logger is False
    options = conf.broker_transport_options
    assert options["socket_connect_timeout"] <= 5 and options["socket_timeout"] <= 10
    assert options["visibility_timeout"] > conf.task_time_limit


def _production_environment(**overrides: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=Fernet.generate_key().decode() * 2,
        DJANGO_ALLOWED_HOSTS="soundingboard.example",
        DJANGO_ADMIN_URL="staff-door-4f2a/",
        FIELD_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
    )
    environment.update(overrides)
    return {key: value for key, value in environment.items() if value is not None}


def _run(arguments: list[str], **overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=settings.BASE_DIR,
        env=_production_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist_with_no_warnings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


PRODUCTION_RESPONSE_SCRIPT = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="soundingboard.example")
page = client.get("/no-such-page/")
# Follows to whichever sign-in form the admin uses; a form page sets the CSRF cookie.
login = client.get("/" + settings.ADMIN_URL, follow=True)
cookie = client.cookies[settings.CSRF_COOKIE_NAME]
plain = Client(HTTP_HOST="soundingboard.example").get("/no-such-page/")
print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "login_status": login.status_code,
    "cookie": {"name": cookie.key, "secure": cookie["secure"], "httponly": cookie["httponly"]},
    "plain_http": [plain.status_code, plain.headers.get("Location")],
}))
"""


def test_production_responses_carry_hsts_csp_and_secure_cookies():
    result = _run(["-c", PRODUCTION_RESPONSE_SCRIPT])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    headers = seen["headers"]
    assert seen["status"] == 404
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "upgrade-insecure-requests" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert seen["login_status"] == 200
    assert seen["cookie"] == {"name": "__Host-csrftoken", "secure": True, "httponly": True}
    assert seen["plain_http"] == [301, "https://soundingboard.example/no-such-page/"]


@pytest.mark.parametrize(
    "keys, complaint",
    [
        (None, "FIELD_ENCRYPTION_KEYS"),
        ("", "FIELD_ENCRYPTION_KEYS"),
        ("not-a-key", "FIELD_ENCRYPTION_KEYS[0] is not a Fernet key"),
        (settings.DEVELOPMENT_FIELD_ENCRYPTION_KEY, "this installation's own keys"),
    ],
)
def test_production_refuses_to_start_without_its_own_encryption_keys(keys, complaint):
    result = _run(["manage.py", "check"], FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr
    if keys:
        assert keys not in result.stderr  # a key is never echoed into logs


INLINE_CODE = [
    (
        re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")", re.I),
        "inline <script>",
    ),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def _project_templates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    folders = [base / "templates"] + [
        Path(config.path) / "templates"
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(base) and ".venv" not in Path(config.path).parts
    ]
    # Email bodies are not served to browsers: mail clients need their inline styles.
    return sorted(
        path
        for folder in folders
        for path in folder.rglob("*.html")
        if "email" not in path.relative_to(folder).parts
    )


def test_no_template_has_inline_script_or_style_the_policy_would_block():
    found = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}: {what}"
        for path in _project_templates()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for pattern, what in INLINE_CODE
        if pattern.search(line)
    ]
    assert _project_templates()
    assert found == [], "move these to files under static/:\n" + "\n".join(found)
