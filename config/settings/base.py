"""Settings shared by every environment, read from environment variables.

The embedded default needs no environment at all: SQLite under var/, tasks run in-process and
mail goes to the console and to .eml files under var/mail/. Setting DATABASE_URL and REDIS_URL
moves the same code onto PostgreSQL and a Redis broker with separate worker and beat processes.
Every variable is listed in .env.example.
"""

import datetime as dt
from pathlib import Path

import csp.constants as csp
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
# Demo data and demo logins (seed_demo) only where a settings module turns this on: local.py.
DEMO_MODE = False

INSTALLED_APPS = [
    # The admin's default site is replaced by one that needs a verified second factor.
    "staff.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "formtools",
    "csp",
    "privacy",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "referrals",
    "scheduling",
    "notifications",
    "staff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "privacy.middleware.PrivacyHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "staff.middleware.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it can turn a lock-out raised anywhere below into the lock-out page.
    "axes.middleware.AxesMiddleware",
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
                "staff.context_processors.staff_nav",
            ],
        },
    },
]

# Django's form renderer with the option and input templates written in Python (same markup,
# a fraction of the time for long lists). https://docs.djangoproject.com/en/5.2/ref/forms/renderers/
FORM_RENDERER = "config.form_renderer.WidgetRenderer"

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A kept connection is checked before each request reuses it, so one the server dropped (a
# restart, a failover) is replaced instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # An unreachable server fails a request after this long instead of the OS's minutes; the
    # person sees the 503 page (config.views.server_error).
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT_SECONDS", default=5
    )
    # Parameters sent apart from the SQL, and a statement a connection has run a few times
    # kept prepared: PostgreSQL then stops planning it again, which took longer than running
    # most of a single match's statements (0.43 ms of 0.5 for reading an appointment).
    # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int(
            "DATABASE_PREPARE_THRESHOLD", default=5
        )
    # PostgreSQL compiles a statement it guesses costly (a batch's reads of ten thousand
    # referrals) before running it; that took longer than running it (15 ms of a 27 ms read).
    if not env.bool("DATABASE_JIT", default=False):
        options = DATABASES["default"]["OPTIONS"]
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
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
# One language, written in the templates and code: without the translation machinery every
# form field's label and choice is a plain string, and the final POST of a referral took 4 %
# less CPU (16.5-16.8 -> 15.9-16.0 ms, tests.bench.submit_probe). Dates and numbers still
# follow en-au.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic gathers files for WhiteNoise to serve; the Docker image builds it.
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# A plain page a person can act on, rather than the developer explanation.
CSRF_FAILURE_VIEW = "referrals.views.csrf_failure"
# The 503 page (the database is unreachable) asks browsers to try again after this long.
SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int(
    "SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS", default=30
)
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

# Staff sign-in: password, then a second factor (django-otp), with django-axes counting failures.
# https://django-otp-official.readthedocs.io/ and https://django-axes.readthedocs.io/
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "staff:sign_in"
LOGIN_REDIRECT_URL = "staff:home"
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Sounding Board")
# The admin never shows a device's key or QR code: whoever sees one can make that person's codes.
# (django-otp's pages for them also failed with a server error for an id that names nothing.)
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# After the right password, the code must follow within this many minutes.
STAFF_SIGN_IN_PENDING_MINUTES = env.int("STAFF_SIGN_IN_PENDING_MINUTES", default=10)
# How many single-use backup codes a person gets when they set up two-factor sign-in.
STAFF_BACKUP_CODE_COUNT = env.int("STAFF_BACKUP_CODE_COUNT", default=10)
# A signed-in staff session ends after this long without a request...
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=30)
# ...and, however busy, this long after sign-in.
STAFF_SESSION_ABSOLUTE_HOURS = env.int("STAFF_SESSION_ABSOLUTE_HOURS", default=10)
SESSION_COOKIE_AGE = STAFF_SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A password reset link works for this long (Django counts seconds).
PASSWORD_RESET_TIMEOUT = env.int("STAFF_PASSWORD_RESET_HOURS", default=24) * 3600
# Failed passwords or codes before a lock-out; counted per username and address together, so
# nobody elsewhere can lock a colleague out, and the cool-off ends every lock-out on its own.
AXES_FAILURE_LIMIT = env.int("STAFF_SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("STAFF_SIGN_IN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Further tries during a lock-out do not extend it: the cool-off always ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "token"]
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip_address"
AXES_CLIENT_STR_CALLABLE = "config.client_ip.client_log_label"
AXES_LOCKOUT_CALLABLE = "staff.views.auth.locked_out"
# How many reverse proxies we run in front of the app; each appends to X-Forwarded-For, so the
# client is that many entries from the right. 0: trust only the socket's address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

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
if REDIS_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"  # kombu's, publishing more cheaply
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
# The hard limit on any task's run time; a task needing longer sets its own time_limit, and the
# privacy.E005 check keeps the visibility timeout above the longest of them.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_SECONDS", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# Publishing must not hang a web request when Redis is down: the sweepers pick the work up.
CELERY_BROKER_CONNECTION_TIMEOUT = env.int("CELERY_BROKER_CONNECTION_TIMEOUT_SECONDS", default=2)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis hands an unacknowledged task to another worker after this long. With acks_late a
    # task is acknowledged when it finishes, so this must exceed the longest run (twice the time
    # limit by default); it is also how long a task waits for redelivery after its worker died.
    "visibility_timeout": env.int(
        "CELERY_VISIBILITY_TIMEOUT_SECONDS", default=2 * CELERY_TASK_TIME_LIMIT
    ),
    # A worker looks for tasks whose visibility timeout has passed about every interval ×
    # throttle seconds (kombu's defaults: 10 × 10). A dead worker's task therefore waits for
    # the timeout plus up to one sweep; a low timeout (a fault test) needs a shorter sweep too.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL_SECONDS", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": env.int("CELERY_BROKER_SOCKET_TIMEOUT_SECONDS", default=5),
    # One quick retry for a blip; kombu's default 2 s pause would hold the request that long.
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_PUBLISH_RETRY = False
# A worker that loses Redis stops its running tasks; with acks_late they are delivered again,
# and tasks are idempotent, so nothing runs twice at once and nothing is lost.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Keep LOGGING (and its redaction filter) in the worker instead of Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection before and after every task, so each
# task paid for a new connection (a single match went from ~6 ms to ~18 ms). The fixup instead
# closes them only every this many tasks; config/celery.py checks them around each task the way
# Django does around a request, so CONN_MAX_AGE and CONN_HEALTH_CHECKS apply in the worker too.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# A worker process lowers its own CPU priority by this much (os.nice) when it starts, so on a
# host it shares with gunicorn a person's request runs before background matching and sending.
# The work itself still gets every idle cycle; 0 leaves the priority alone. The lowest priority
# (19) took a burst of 1,000 submissions about half a second sooner than 10 did
# (docs/reliability.md).
CELERY_WORKER_NICENESS = env.int("CELERY_WORKER_NICENESS", default=19)
CELERY_BEAT_SCHEDULE = {
    "materialise-slots": {
        "task": "scheduling.tasks.slots_materialise_all",
        "schedule": crontab(minute=15, hour="*/6"),
    },
    "urgent-realert": {
        "task": "staff.tasks.urgent_realert_sweep",
        "schedule": crontab(minute="*"),
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
    "inbound-apply": {
        "task": "notifications.tasks.inbound_apply",
        "schedule": env.int("INBOUND_APPLY_SWEEP_SECONDS", default=60),
        "options": {"expires": env.int("INBOUND_APPLY_SWEEP_SECONDS", default=60)},
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
# Seconds each process keeps programs, districts and facilities before reading them again (an
# edit is seen at once by the process that made it, by the others within this); 0: every time.
REFERENCE_DATA_CACHE_SECONDS = env.int("REFERENCE_DATA_CACHE_SECONDS", default=60)

# ---------------------------------------------------------------------------------------------
# Security and privacy. Owned by the security work (issue 8); SECURITY.md explains the choices.
# Production hardening (HTTPS, HSTS, secure cookies) is in production.py; everything here
# applies in every environment, so the tests exercise it.
# ---------------------------------------------------------------------------------------------
SECURITY_CONTACT_EMAIL = env("SECURITY_CONTACT_EMAIL", default="security@soundingboard.test")
# The largest form body read (the wizard's biggest step is a few kilobytes); a larger one gets
# the 413 page (referrals.views.bad_request). Django's default, named so it can be found.
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_BYTES", default=2_621_440)

# Content Security Policy, django-csp 4: https://django-csp.readthedocs.io/en/latest/configuration.html
# No inline script or style anywhere: templates load static files only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "base-uri": [csp.NONE],
        "object-src": [csp.NONE],
    },
}
# https://docs.djangoproject.com/en/5.2/ref/middleware/#referrer-policy: signed links carry
# tokens in their URLs, so no other site is told where a person came from.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Browser features no page here uses (privacy.middleware.PrivacyHeadersMiddleware).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "serial",
        "bluetooth",
        "browsing-topics",
    )
}

# Cookies: https://docs.djangoproject.com/en/5.2/ref/settings/#sessions. Lax, not Strict, so a
# signed link opened from an email arrives with the session.
SESSION_ENGINE = "privacy.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# Field encryption at rest (privacy.fields): comma-separated Fernet keys; the first encrypts,
# all decrypt. Local and test settings fall back to the published development key below, which
# production refuses.
DEVELOPMENT_FIELD_ENCRYPTION_KEY = "Oykyu2daRpgHol7G7z8gnnsnZt3ENRq9ZGA0D2paedA="
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# Task arguments are ids only (privacy.task_guard): "raise" refuses with an exception, "log"
# logs an error and leaves the work to its sweeper. Longer strings count as free text.
TASK_ARGUMENT_GUARD = env("TASK_ARGUMENT_GUARD", default="log")
TASK_ARGUMENT_MAX_LENGTH = env.int("TASK_ARGUMENT_MAX_LENGTH", default=100)

# Retention: health records are kept 7 years after the last service (NSW HRIP Act s 25,
# Victoria's Health Records Act HPP 4.2), then de-identified by privacy.tasks.retention_sweep.
RETENTION_YEARS = env.int("RETENTION_YEARS", default=7)
RETENTION_SWEEP_BATCH = env.int("RETENTION_SWEEP_BATCH", default=200)
# What each app blanks for a referral, in order; see privacy.services.retention.
RETENTION_DEIDENTIFIERS = [
    "notifications.retention.referral_deidentify_messages",
    "staff.retention.referral_deidentify_case_notes",
    "scheduling.retention.referral_deidentify_appointments",
    "referrals.retention.referral_deidentify_personal_data",
]
CELERY_BEAT_SCHEDULE["retention-sweep"] = {
    "task": "privacy.tasks.retention_sweep",
    "schedule": crontab(minute=30, hour=3),
}
CELERY_BEAT_SCHEDULE["sessions-clear-expired"] = {
    "task": "privacy.tasks.sessions_clear_expired",
    "schedule": crontab(minute=45, hour="*/6"),
}

# Error reports without personal data (privacy.reporting).
DEFAULT_EXCEPTION_REPORTER_FILTER = "privacy.reporting.PrivateExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "privacy.reporting.PrivateExceptionReporter"

# Coordinator workspace.
# An urgent case nobody has acknowledged after this long re-alerts the on-call address...
STAFF_URGENT_REALERT_MINUTES = env.int("STAFF_URGENT_REALERT_MINUTES", default=15)
# ...and again each such interval, at most this many times, so a missed case keeps knocking
# without flooding the on-call inbox overnight.
STAFF_URGENT_REALERT_MAX_TIMES = env.int("STAFF_URGENT_REALERT_MAX_TIMES", default=4)
# Rows per page in each dashboard list.
STAFF_PAGE_SIZE = env.int("STAFF_PAGE_SIZE", default=20)
# "Upcoming sessions" looks this far ahead; "Recently closed" this far back.
STAFF_UPCOMING_DAYS = env.int("STAFF_UPCOMING_DAYS", default=14)
STAFF_RECENTLY_CLOSED_DAYS = env.int("STAFF_RECENTLY_CLOSED_DAYS", default=30)
# How often an open dashboard asks whether its counts changed (0 turns the check off).
STAFF_DASHBOARD_POLL_SECONDS = env.int("STAFF_DASHBOARD_POLL_SECONDS", default=60)
# The highest session limit a coordinator may set for one episode.
EPISODE_SESSION_LIMIT_MAX = env.int("EPISODE_SESSION_LIMIT_MAX", default=12)
# Statistics: counts below this are shown as "<5" (and medians of fewer cases are withheld).
STATS_SMALL_COUNT = env.int("STATS_SMALL_COUNT", default=5)
# Months shown on the statistics page when no range is chosen.
STATS_DEFAULT_MONTHS = env.int("STATS_DEFAULT_MONTHS", default=12)

# The self-referral wizard.
# Finished referrals (including urgent ones) accepted from one client IP per window; beyond it
# the person sees a clear page and keeps their answers. Signed-in phone intake is exempt.
REFERRAL_SUBMISSIONS_PER_IP = env.int("REFERRAL_SUBMISSIONS_PER_IP", default=10)
REFERRAL_SUBMISSION_WINDOW_SECONDS = env.int("REFERRAL_SUBMISSION_WINDOW_SECONDS", default=3600)
# The optional "what's going on" free text; the limit is shown to the person.
REFERRAL_DETAILS_MAX_LENGTH = env.int("REFERRAL_DETAILS_MAX_LENGTH", default=1000)
# The confirmation page's promise of when the person hears from us.
REFERRAL_CONTACT_WITHIN_WORKING_DAYS = env.int("REFERRAL_CONTACT_WITHIN_WORKING_DAYS", default=2)
# Drs4Drs "talk to a counsellor now": how soon an on-duty counsellor's slot must start.
URGENT_CONSULT_WITHIN_MINUTES = env.int("URGENT_CONSULT_WITHIN_MINUTES", default=60)

# Self-service: the referrer's signed link and page, and the clinician portal.
# A referrer's signed link (in their emails) opens their page for this many days.
REFERRER_LINK_MAX_AGE_DAYS = env.int("REFERRER_LINK_MAX_AGE_DAYS", default=30)
# "Send me my link again": requests accepted per window from one client address, and for one
# email address (counted whether or not the address is known, so the limit reveals nothing).
REFERRER_LINK_REQUESTS_PER_IP = env.int("REFERRER_LINK_REQUESTS_PER_IP", default=10)
REFERRER_LINK_REQUESTS_PER_ADDRESS = env.int("REFERRER_LINK_REQUESTS_PER_ADDRESS", default=3)
REFERRER_LINK_REQUEST_WINDOW_SECONDS = env.int("REFERRER_LINK_REQUEST_WINDOW_SECONDS", default=3600)
# Moving a session offers at most this many times with the same clinician, and as many with
# others; more would be a list nobody reads on a phone.
SESSION_MOVE_OPTIONS_SHOWN = env.int("SESSION_MOVE_OPTIONS_SHOWN", default=12)
# A clinician's portal lists their past sessions back this many days.
CLINICIAN_PAST_SESSIONS_DAYS = env.int("CLINICIAN_PAST_SESSIONS_DAYS", default=90)

# The cache holds the submission rate-limit counters, so with Redis it is shared by every web
# process; short socket timeouts keep a Redis outage from stalling a request (the limiter then
# lets the referral through). https://docs.djangoproject.com/en/5.2/topics/cache/#redis
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.KeptClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sb",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


# Notifications: the outbox, calendar replies, feeds and reminders.
CALENDAR_ORGANIZER_NAME = env("CALENDAR_ORGANIZER_NAME", default="Sounding Board")
# Words no subject, invitation title or reminder may contain (the referrer's surname is added).
DISCREET_FORBIDDEN_WORDS = env.list(
    "DISCREET_FORBIDDEN_WORDS", default=["counselling", "counseling", "crisis"]
)
# Sending: transient SMTP errors are retried with exponential backoff up to this many attempts.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=6)
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", default=30)
# Kept below the broker's visibility timeout: Redis would hand a task waiting longer to a second
# worker (the outbox claim keeps that harmless, but it is wasted work).
OUTBOX_RETRY_MAX_SECONDS = env.int("OUTBOX_RETRY_MAX_SECONDS", default=300)
# The sweeper re-queues a row still waiting this long after it was due (its task was lost) and
# gives up on a row stuck "sending" (a worker died mid-send; re-sending could send it twice).
OUTBOX_REQUEUE_AFTER_SECONDS = env.int("OUTBOX_REQUEUE_AFTER_SECONDS", default=60)
OUTBOX_SENDING_STALE_MINUTES = env.int("OUTBOX_SENDING_STALE_MINUTES", default=15)
OUTBOX_SWEEP_BATCH = env.int("OUTBOX_SWEEP_BATCH", default=500)
# Rows written together (a batch of proposals) go out in tasks of at most this many, each over
# one SMTP connection: fewer tasks in a burst, and one task never holds a worker for long.
OUTBOX_SEND_BATCH = env.int("OUTBOX_SEND_BATCH", default=50)
# A person's "request received" is sent by a flush task that takes every such row waiting; once
# one is queued, the next submissions queue none for this long unless it has started
# (notifications.services.queue_flush).
OUTBOX_FLUSH_PENDING_SECONDS = env.int("OUTBOX_FLUSH_PENDING_SECONDS", default=10)
# ...and it runs this many seconds after it was queued (kept far below the visibility timeout).
OUTBOX_FLUSH_DELAY_SECONDS = env.int("OUTBOX_FLUSH_DELAY_SECONDS", default=1)
# A worker keeps its SMTP connection open this long, so a burst is not one connection per mail.
SMTP_REUSE_SECONDS = env.int("SMTP_REUSE_SECONDS", default=30)
# Reminders go this many hours before a session, to the clinician and the referrer.
REMINDER_LEAD_HOURS = env.list("REMINDER_LEAD_HOURS", cast=int, default=[24, 2])
# Signed Accept/Decline links in invitations stop working after this many days.
RESPONSE_LINK_MAX_AGE_DAYS = env.int("RESPONSE_LINK_MAX_AGE_DAYS", default=14)
# A clinician's feed lists sessions from this many days ago onwards.
FEED_PAST_DAYS = env.int("FEED_PAST_DAYS", default=30)
# Where the urgent alert sends the on-call coordinator (the coordinator workspace's queue).
URGENT_QUEUE_URL = env("URGENT_QUEUE_URL", default=f"{SITE_URL.rstrip('/')}/coordinate/")
# What an unmatched referrer is told about how long a coordinator may take.
UNMATCHED_FOLLOW_UP_BUSINESS_DAYS = env.int("UNMATCHED_FOLLOW_UP_BUSINESS_DAYS", default=3)
# Inbound replies. The HTTP door is closed while the secret is empty.
INBOUND_MAIL_SECRET = env("INBOUND_MAIL_SECRET", default="")
INBOUND_MAIL_MAX_BYTES = env.int("INBOUND_MAIL_MAX_BYTES", default=2_000_000)
# The HTTP and pipe doors keep a message; the worker applies what they kept in batches of at
# most this many (notifications.tasks.inbound_apply, queued after each message is kept).
INBOUND_APPLY_BATCH = env.int("INBOUND_APPLY_BATCH", default=50)
# Once a run is queued, kept messages queue none for this long unless it has started.
INBOUND_APPLY_PENDING_SECONDS = env.int("INBOUND_APPLY_PENDING_SECONDS", default=10)
# Beat runs it this often too, for messages kept while the broker was down.
INBOUND_APPLY_SWEEP_SECONDS = env.int("INBOUND_APPLY_SWEEP_SECONDS", default=60)
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
# Past the first page a match reads only each clinician's first few times (later ones never
# cost less); this many per clinician, doubled for one whose times were all infeasible.
MATCH_CANDIDATES_PER_CLINICIAN = env.int("MATCH_CANDIDATES_PER_CLINICIAN", default=3)
# Candidate times come from each worker's copy of the offered times; the database is asked
# whether the first ones are still open, with this many to spare for times already taken
# (twice as many each round while too few were open), and this many per clinician past the
# first page. Any change to availability empties every copy, and so does this age.
MATCH_CANDIDATE_CHECK_SPARE = env.int("MATCH_CANDIDATE_CHECK_SPARE", default=50)
MATCH_CANDIDATES_PER_CLINICIAN_SPARE = env.int("MATCH_CANDIDATES_PER_CLINICIAN_SPARE", default=2)
MATCH_OFFERED_TIMES_CACHE_SECONDS = env.int("MATCH_OFFERED_TIMES_CACHE_SECONDS", default=300)
# And the full clinician weeks, left out before any time is asked about: read again whenever
# a week may have room again (or a batch filled many), and after this age, so that weeks
# filled since are left out too.
MATCH_FULL_WEEKS_CACHE_SECONDS = env.int("MATCH_FULL_WEEKS_CACHE_SECONDS", default=10)
# Each worker keeps the clinicians' attributes and links a single match read (they change a
# few times a year); any change to a clinician empties every copy, and so does this age.
MATCH_PROFILE_CACHE_SECONDS = env.int("MATCH_PROFILE_CACHE_SECONDS", default=300)
# The sweeper re-queues a NEW referral whose match was asked for this long ago without result
# (broker lost, worker killed), and retries UNMATCHED ones at these intervals.
MATCH_STUCK_AFTER_MINUTES = env.int("MATCH_STUCK_AFTER_MINUTES", default=15)
# A match that finds its referral locked by another transaction (a worker matching it, or a
# killed worker's transaction not yet ended) tries again after this long, this many times at
# most, rather than waiting for the sweeper. Kept below the broker's visibility timeout.
MATCH_LOCKED_RETRY_SECONDS = env.int("MATCH_LOCKED_RETRY_SECONDS", default=5)
MATCH_LOCKED_MAX_RETRIES = env.int("MATCH_LOCKED_MAX_RETRIES", default=12)
MATCH_UNMATCHED_RETRY_MINUTES = env.int("MATCH_UNMATCHED_RETRY_MINUTES", default=60)
MATCH_PRIORITY_RETRY_MINUTES = env.int("MATCH_PRIORITY_RETRY_MINUTES", default=5)
# More referrals due than this are assigned together as one batch instead of one by one.
MATCH_BATCH_MIN_SIZE = env.int("MATCH_BATCH_MIN_SIZE", default=20)
# One batch run takes at most this many referrals, oldest first; the rest wait for the next.
MATCH_BATCH_MAX_SIZE = env.int("MATCH_BATCH_MAX_SIZE", default=20000)
MATCH_BATCH_MINUTES = env.int("MATCH_BATCH_MINUTES", default=5)
MATCH_SWEEP_MINUTES = env.int("MATCH_SWEEP_MINUTES", default=10)
MATCH_EXPIRY_SWEEP_MINUTES = env.int("MATCH_EXPIRY_SWEEP_MINUTES", default=5)
# A burst of submissions is matched as batches: a match task that finds this many new
# referrals waiting matches them together (one worker at a time, up to this many rounds);
# a task that finds another worker batching waits this long, up to this many times, before
# matching its referral alone.
MATCH_COALESCE_MIN_WAITING = env.int("MATCH_COALESCE_MIN_WAITING", default=10)
MATCH_COALESCE_MAX_ROUNDS = env.int("MATCH_COALESCE_MAX_ROUNDS", default=50)
MATCH_COALESCE_RETRY_SECONDS = env.float("MATCH_COALESCE_RETRY_SECONDS", default=0.5)
MATCH_COALESCE_MAX_RETRIES = env.int("MATCH_COALESCE_MAX_RETRIES", default=60)

CELERY_BEAT_SCHEDULE |= {
    "match-backlog": {
        "task": "scheduling.tasks.match_backlog",
        "schedule": dt.timedelta(minutes=MATCH_BATCH_MINUTES),
    },
    "match-sweep": {
        "task": "scheduling.tasks.match_sweep",
        "schedule": dt.timedelta(minutes=MATCH_SWEEP_MINUTES),
    },
    "proposals-expire": {
        "task": "scheduling.tasks.proposals_expire",
        "schedule": dt.timedelta(minutes=MATCH_EXPIRY_SWEEP_MINUTES),
    },
}

# Logging: every handler carries the redaction filter (privacy.redaction). Django's own loggers
# are routed to the same handlers so none bypasses it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_personal_data": {"()": "privacy.redaction.RedactPersonalData"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_personal_data"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "redact_personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console", "mail_admins"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
