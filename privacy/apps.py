from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy and audit"

    def ready(self) -> None:
        from celery.signals import before_task_publish
        from django.db.backends.signals import connection_created

        from . import checks  # noqa: F401  (registers the system checks)
        from .append_only import sqlite_register_permission
        from .task_guard import published_message_check

        connection_created.connect(sqlite_register_permission, dispatch_uid="privacy_sqlite")
        before_task_publish.connect(published_message_check, dispatch_uid="privacy_publish")
