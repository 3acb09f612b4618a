"""Settings shared by every environment, read from environment variables.

The embedded default needs no environment at all: SQLite under var/, tasks run in-process and
mail goes to the console and to .eml files under var/mail/. Setting DATABASE_URL and REDIS_URL
moves the same code onto PostgreSQL and a Redis broker with separate worker and beat processes.
Every variable is listed in .env.example.
"""

from datetime import timedelta
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
# Celery's Django fixup closes the database connection before and after every task, so each
# task paid for a new connection (a single match went from ~6 ms to ~18 ms). The fixup instead
# closes them only every this many tasks; config/celery.py checks them around each task the way
# Django does around a request, so CONN_MAX_AGE and CONN_HEALTH_CHECKS apply in the worker too.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULE = {
    "materialise-slots": {
        "task": "scheduling.tasks.slots_materialise_all",
        "schedule": crontab(minute=15, hour="*/6"),
    },
}

# Domain settings. Each limit is named here with its default and can be set in the environment.
SLOT_HORIZON_WEEKS = env.int("SLOT_HORIZON_WEEKS", default=8)
SLOT_MINUTES = env.int("SLOT_MINUTES", default=60)
REFERENCE_CODE_LENGTH = env.int("REFERENCE_CODE_LENGTH", default=6)

# Matching (scheduling/matching.py; docs/matching.md). Every soft cost is stated in hours of
# waiting: a weight of 24 makes that term as bad as offering a time one day later.
MATCH_WEIGHT_WAIT_PER_HOUR = env.float("MATCH_WEIGHT_WAIT_PER_HOUR", default=1.0)
# A clinician whose next weeks are fully booked costs this much more than an idle one.
MATCH_WEIGHT_FAIRNESS = env.float("MATCH_WEIGHT_FAIRNESS", default=24.0)
MATCH_FAIRNESS_WEEKS = env.int("MATCH_FAIRNESS_WEEKS", default=4)
# Stated preferences are soft: a clinician of another gender, or a specialty the referrer did
# not ask for, is offered only when it saves more than this much waiting.
MATCH_WEIGHT_GENDER = env.float("MATCH_WEIGHT_GENDER", default=72.0)
MATCH_WEIGHT_SPECIALTY = env.float("MATCH_WEIGHT_SPECIALTY", default=48.0)
# A later session goes to the episode's earlier clinician when they have a feasible time within
# MATCH_CONTINUITY_DAYS; the weight must exceed that many days of waiting plus the fairness and
# preference weights for continuity to win every time.
MATCH_WEIGHT_CONTINUITY = env.float("MATCH_WEIGHT_CONTINUITY", default=500.0)
MATCH_CONTINUITY_DAYS = env.int("MATCH_CONTINUITY_DAYS", default=14)
# An hour of waiting for a PRIORITY case counts this many times; leaving one unmatched too.
MATCH_PRIORITY_WAIT_FACTOR = env.float("MATCH_PRIORITY_WAIT_FACTOR", default=3.0)
# What leaving a referral unmatched costs in a batch; far above any offer (8 weeks is 1,344 h),
# so a batch matches every referral it can before it looks at waiting times.
MATCH_UNMATCHED_PENALTY = env.float("MATCH_UNMATCHED_PENALTY", default=10000.0)
# A proposal the clinician has not answered lapses after this long, or this long before the
# session starts if that is sooner; the slot is released and the referral matched again.
MATCH_PROPOSAL_EXPIRY_HOURS = env.int("MATCH_PROPOSAL_EXPIRY_HOURS", default=48)
MATCH_RESPOND_BEFORE_START_HOURS = env.int("MATCH_RESPOND_BEFORE_START_HOURS", default=2)
# A single match reads candidate times earliest first, this many at a time, until no later time
# can beat the best found (or after MATCH_CANDIDATE_MAX_PAGES pages).
MATCH_CANDIDATE_PAGE_SIZE = env.int("MATCH_CANDIDATE_PAGE_SIZE", default=200)
MATCH_CANDIDATE_MAX_PAGES = env.int("MATCH_CANDIDATE_MAX_PAGES", default=5)
# The sweeper re-queues a NEW referral whose match was asked for this long ago without result
# (broker lost, worker killed), and retries UNMATCHED ones at these intervals.
MATCH_STUCK_AFTER_MINUTES = env.int("MATCH_STUCK_AFTER_MINUTES", default=15)
MATCH_UNMATCHED_RETRY_MINUTES = env.int("MATCH_UNMATCHED_RETRY_MINUTES", default=60)
MATCH_PRIORITY_RETRY_MINUTES = env.int("MATCH_PRIORITY_RETRY_MINUTES", default=5)
# More referrals due than this are assigned together as one batch instead of one by one.
MATCH_BATCH_MIN_SIZE = env.int("MATCH_BATCH_MIN_SIZE", default=20)
# One batch run takes at most this many referrals, oldest first; the rest wait for the next.
MATCH_BATCH_MAX_SIZE = env.int("MATCH_BATCH_MAX_SIZE", default=20000)
MATCH_BATCH_MINUTES = env.int("MATCH_BATCH_MINUTES", default=5)
MATCH_SWEEP_MINUTES = env.int("MATCH_SWEEP_MINUTES", default=10)
MATCH_EXPIRY_SWEEP_MINUTES = env.int("MATCH_EXPIRY_SWEEP_MINUTES", default=5)

CELERY_BEAT_SCHEDULE |= {
    "match-backlog": {
        "task": "scheduling.tasks.match_backlog",
        "schedule": timedelta(minutes=MATCH_BATCH_MINUTES),
    },
    "match-sweep": {
        "task": "scheduling.tasks.match_sweep",
        "schedule": timedelta(minutes=MATCH_SWEEP_MINUTES),
    },
    "proposals-expire": {
        "task": "scheduling.tasks.proposals_expire",
        "schedule": timedelta(minutes=MATCH_EXPIRY_SWEEP_MINUTES),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
