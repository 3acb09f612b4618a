"""Every environment variable the settings read is documented in .env.example."""

import re
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# Read by tools rather than by config/settings/*.py, and still worth documenting.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE", "POSTGRES_PASSWORD"}


def variables_read_by_settings() -> set[str]:
    """What the Django settings read with django-environ, and gunicorn's config with os.environ."""
    pattern = re.compile(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
    gunicorn = re.compile(r"\bos\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
    return {
        name
        for path in (BASE_DIR / "config" / "settings").glob("*.py")
        for name in pattern.findall(path.read_text())
    } | set(gunicorn.findall((BASE_DIR / "config" / "gunicorn.py").read_text()))


def variables_documented() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_every_variable_the_settings_read_is_documented_in_env_example():
    assert variables_read_by_settings() - variables_documented() == set()


def test_env_example_documents_no_variable_that_nothing_reads():
    assert variables_documented() - variables_read_by_settings() - READ_ELSEWHERE == set()
