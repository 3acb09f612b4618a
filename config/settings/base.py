"""Settings shared by every environment, read from environment variables.

The embedded default needs no environment at all: SQLite under var/, tasks run in-process and
mail goes to the console and to .eml files under var/mail/. Setting DATABASE_URL and REDIS_URL
moves the same code onto PostgreSQL and a Redis broker with separate worker and beat processes.
Every variable is listed in .env.example.
"""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-embedded-default-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "formtools",
    "referrals",
    "scheduling",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "referrals.context_processors.crisis_lines",
            ],
        },
    },
]

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # WAL and a busy timeout let the in-process worker and the web process share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-au"
TIME_ZONE = "Australia/Sydney"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

# Mail: https://docs.djangoproject.com/en/5.2/topics/email/
EMAIL_BACKEND = env("EMAIL_BACKEND", default="notifications.backends.ConsoleAndEmlFileBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="Sounding Board <bookings@soundingboard.test>"
)
# The calendar organizer must be a dedicated mailbox the system reads, without a +tag
# (Microsoft strips it) and not a Google Calendar account (Google then sends no replies).
CALENDAR_ORGANIZER_EMAIL = env("CALENDAR_ORGANIZER_EMAIL", default="calendar@soundingboard.test")
ONCALL_COORDINATOR_EMAIL = env("ONCALL_COORDINATOR_EMAIL", default="oncall@soundingboard.test")

# Celery: https://docs.celeryq.dev/en/stable/userguide/configuration.html
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when Redis is down: the sweepers pick the work up.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE = {
    "materialise-slots": {
        "task": "scheduling.tasks.slots_materialise_all",
        "schedule": crontab(minute=15, hour="*/6"),
    },
    # Periodic notification work; a run still queued when the next is due is dropped.
    "outbox-sweep": {
        "task": "notifications.tasks.outbox_sweep",
        "schedule": env.int("OUTBOX_SWEEP_SECONDS", default=60),
        "options": {"expires": env.int("OUTBOX_SWEEP_SECONDS", default=60)},
    },
    "reminders-queue": {
        "task": "notifications.tasks.reminders_queue",
        "schedule": env.int("REMINDER_SWEEP_SECONDS", default=300),
        "options": {"expires": env.int("REMINDER_SWEEP_SECONDS", default=300)},
    },
    "imap-poll": {
        "task": "notifications.tasks.imap_poll",
        "schedule": env.int("IMAP_POLL_SECONDS", default=60),
        "options": {"expires": env.int("IMAP_POLL_SECONDS", default=60)},
    },
}

# Domain settings. Each limit is named here with its default and can be set in the environment.
SLOT_HORIZON_WEEKS = env.int("SLOT_HORIZON_WEEKS", default=8)
SLOT_MINUTES = env.int("SLOT_MINUTES", default=60)
REFERENCE_CODE_LENGTH = env.int("REFERENCE_CODE_LENGTH", default=6)

# Notifications: the outbox, calendar replies, feeds and reminders.
CALENDAR_ORGANIZER_NAME = env("CALENDAR_ORGANIZER_NAME", default="Sounding Board")
# Words no subject, invitation title or reminder may contain (the referrer's surname is added).
DISCREET_FORBIDDEN_WORDS = env.list(
    "DISCREET_FORBIDDEN_WORDS", default=["counselling", "counseling", "crisis"]
)
# Sending: transient SMTP errors are retried with exponential backoff up to this many attempts.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=6)
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", default=30)
OUTBOX_RETRY_MAX_SECONDS = env.int("OUTBOX_RETRY_MAX_SECONDS", default=3600)
# The sweeper re-queues a row still waiting this long after it was due (its task was lost) and
# gives up on a row stuck "sending" (a worker died mid-send; re-sending could send it twice).
OUTBOX_REQUEUE_AFTER_SECONDS = env.int("OUTBOX_REQUEUE_AFTER_SECONDS", default=60)
OUTBOX_SENDING_STALE_MINUTES = env.int("OUTBOX_SENDING_STALE_MINUTES", default=15)
OUTBOX_SWEEP_BATCH = env.int("OUTBOX_SWEEP_BATCH", default=500)
# A worker keeps its SMTP connection open this long, so a burst is not one connection per mail.
SMTP_REUSE_SECONDS = env.int("SMTP_REUSE_SECONDS", default=30)
# Reminders go this many hours before a session, to the clinician and the referrer.
REMINDER_LEAD_HOURS = env.list("REMINDER_LEAD_HOURS", cast=int, default=[24, 2])
# Signed Accept/Decline links in invitations stop working after this many days.
RESPONSE_LINK_MAX_AGE_DAYS = env.int("RESPONSE_LINK_MAX_AGE_DAYS", default=14)
# A clinician's feed lists sessions from this many days ago onwards.
FEED_PAST_DAYS = env.int("FEED_PAST_DAYS", default=30)
# Where the urgent alert sends the on-call coordinator (the coordinator workspace's queue).
URGENT_QUEUE_URL = env("URGENT_QUEUE_URL", default=f"{SITE_URL.rstrip('/')}/staff/")
# What an unmatched referrer is told about how long a coordinator may take.
UNMATCHED_FOLLOW_UP_BUSINESS_DAYS = env.int("UNMATCHED_FOLLOW_UP_BUSINESS_DAYS", default=3)
# Inbound replies. The HTTP door is closed while the secret is empty.
INBOUND_MAIL_SECRET = env("INBOUND_MAIL_SECRET", default="")
INBOUND_MAIL_MAX_BYTES = env.int("INBOUND_MAIL_MAX_BYTES", default=2_000_000)
# The IMAP poller reads the organizer mailbox; it does nothing while IMAP_HOST is empty.
IMAP_HOST = env("IMAP_HOST", default="")
IMAP_PORT = env.int("IMAP_PORT", default=993)
IMAP_USER = env("IMAP_USER", default="")
IMAP_PASSWORD = env("IMAP_PASSWORD", default="")
IMAP_USE_SSL = env.bool("IMAP_USE_SSL", default=True)
IMAP_INBOX_FOLDER = env("IMAP_INBOX_FOLDER", default="INBOX")
IMAP_PROCESSED_FOLDER = env("IMAP_PROCESSED_FOLDER", default="Processed")
IMAP_TIMEOUT_SECONDS = env.int("IMAP_TIMEOUT_SECONDS", default=20)
IMAP_BATCH = env.int("IMAP_BATCH", default=50)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
