"""System checks: refuse to start with keys, settings or hooks that would fail later."""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string, module_has_submodule

from .crypto import keys_check

TASK_ARGUMENT_GUARDS = ("raise", "log")


@register(Tags.security)
def encryption_keys_check(app_configs, **kwargs) -> list[Error]:
    try:
        keys_check(settings.FIELD_ENCRYPTION_KEYS)
    except ImproperlyConfigured as error:
        return [Error(str(error), hint=_KEY_HINT, id="privacy.E001")]
    return []


@register(Tags.security, deploy=True)
def development_key_check(app_configs, **kwargs) -> list[Error]:
    if settings.DEVELOPMENT_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS contains the published development key",
                hint=_KEY_HINT,
                id="privacy.E002",
            )
        ]
    return []


@register()
def retention_hooks_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    for path in settings.RETENTION_DEIDENTIFIERS:
        try:
            hook = import_string(path)
        except ImportError as error:
            errors.append(Error(f"RETENTION_DEIDENTIFIERS: {error}", id="privacy.E003"))
            continue
        if not callable(hook):
            message = f"RETENTION_DEIDENTIFIERS: {path} is not callable"
            errors.append(Error(message, id="privacy.E003"))
    return errors


@register()
def task_guard_check(app_configs, **kwargs) -> list[Error]:
    if settings.TASK_ARGUMENT_GUARD not in TASK_ARGUMENT_GUARDS:
        return [
            Error(
                f"TASK_ARGUMENT_GUARD must be one of {', '.join(TASK_ARGUMENT_GUARDS)}",
                id="privacy.E004",
            )
        ]
    return []


@register()
def visibility_timeout_check(app_configs, **kwargs) -> list[Error]:
    """A task still running when Redis's visibility timeout passes is handed to a second worker."""
    from celery import current_app

    _task_modules_import()
    limits = [settings.CELERY_TASK_TIME_LIMIT] + [
        task.time_limit for task in current_app.tasks.values() if task.time_limit
    ]
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    if timeout <= max(limits):
        return [
            Error(
                f"the broker's visibility timeout ({timeout}s) must exceed the longest task time "
                f"limit ({max(limits)}s), or running tasks are delivered twice",
                hint="raise CELERY_VISIBILITY_TIMEOUT_SECONDS or lower the task's time_limit",
                id="privacy.E005",
            )
        ]
    return []


def _task_modules_import() -> None:
    # What Celery's autodiscovery imports, without its signal (which runs these checks again).
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "tasks"):
            import_module(f"{app_config.name}.tasks")


_KEY_HINT = (
    "Set FIELD_ENCRYPTION_KEYS to one or more comma-separated keys made with "
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
    "; the first encrypts, all decrypt."
)
