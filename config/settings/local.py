"""The embedded default for a laptop: debug on, demo data allowed."""

from .base import *  # noqa: F403
from .base import DEVELOPMENT_FIELD_ENCRYPTION_KEY, STATIC_ROOT, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
DEMO_MODE = True
# The published development key: fine for demo data, refused in production.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[DEVELOPMENT_FIELD_ENCRYPTION_KEY]
)
TASK_ARGUMENT_GUARD = "raise"

# runserver serves static files itself; WhiteNoise only needs the folder to exist.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
