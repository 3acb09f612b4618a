"""Load at a web process's start what its first requests would otherwise load.

Django imports the URLconf (and with it every view, form and their libraries) on the first
request, compiles its email and URL validators' patterns on first use, phonenumbers compiles
a region's patterns on its first number, and the cache's and the broker's Redis clients are
imported on first use. On a 2-core machine that cost the first person a worker served
150–400 ms (the email pattern alone 60 ms), once per worker and again after every restart.

gunicorn calls `warm_up` from `post_worker_init` (config/gunicorn.py), before it freezes what
is loaded. Nothing here opens a connection, so a worker still starts while PostgreSQL or Redis
is down.
"""

from django.conf import settings


def warm_up() -> None:
    from importlib import import_module

    from django.core.cache import caches
    from django.core.files.storage import storages
    from django.forms.renderers import get_default_renderer
    from django.template import engines
    from django.urls import get_resolver
    from django.utils import formats, translation
    from django.utils.module_loading import import_string

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018  imports every urls module, view, form and template tag
    resolver.reverse_dict  # noqa: B018  builds what reverse() searches
    for engine in engines.all():
        engine.engine.template_loaders  # noqa: B018  imports the loaders (and caches for them)
        engine.engine.template_context_processors  # noqa: B018
    get_default_renderer()
    for alias in settings.CACHES:
        caches[alias]
    storages["staticfiles"]
    import_module(settings.SESSION_ENGINE)
    for path in (
        settings.SESSION_SERIALIZER,
        settings.MESSAGE_STORAGE,
        "formtools.wizard.storage.session.SessionStorage",  # the referral wizard's storage
    ):
        import_string(path)
    import_module("encodings.idna")  # what a socket's host name is encoded with
    with translation.override(settings.LANGUAGE_CODE):
        formats.get_format("DATE_FORMAT")  # imports the language's format modules
    _compile_patterns()
    _import_clients()


def _compile_patterns() -> None:
    """Validate one made-up value of each kind the forms check, which compiles the patterns."""
    import phonenumbers
    from django.core.validators import URLValidator, validate_email

    validate_email("warm-up@example.org")
    URLValidator()("https://example.org/")
    for number in ("0412 345 678", "02 9999 9999"):  # a mobile and a landline, as the forms
        parsed = phonenumbers.parse(number, "AU")
        phonenumbers.is_valid_number(parsed)
        phonenumbers.number_type(parsed)


def _import_clients() -> None:
    """The Redis client the cache and the broker use, and what queueing a task loads (the
    task modules, kombu's Redis transport, Celery's event dispatcher): imported only,
    connected on first use."""
    if not settings.REDIS_URL:
        return
    from importlib import import_module

    from config.celery import app

    for name in (
        "redis",
        "kombu.transport.redis",
        "kombu.mixins",
        "kombu.utils.limits",
        "celery.events.dispatcher",
    ):
        import_module(name)
    app.loader.import_default_modules()
    app.amqp  # noqa: B018  the task message protocol
