"""Settings for the test suite: the same code, fast hashing, mail kept in memory."""

from .base import *  # noqa: F403
from .base import DEVELOPMENT_FIELD_ENCRYPTION_KEY, STATIC_ROOT, env

DEMO_MODE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# End-to-end tests point the worker they start at a real SMTP server on loopback.
EMAIL_BACKEND = env("TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
# Tests run tasks in-process unless a test starts a real worker itself.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[DEVELOPMENT_FIELD_ENCRYPTION_KEY]
)
# A task queued with personal data fails the test that queued it.
TASK_ARGUMENT_GUARD = "raise"
# A model with encrypted fields for the tests of privacy.fields; created without migrations.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.privacy.encrypted_app"]  # noqa: F405

# WhiteNoise warns on every request when the collected-static folder is missing; the tests
# serve static files through the finders instead, so an empty folder is all it needs.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
