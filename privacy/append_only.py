"""The one door through which rows of an append-only table may be changed or removed.

Append-only tables refuse UPDATE and DELETE at two levels: their Django model and queryset raise
AppendOnlyError, and a database trigger raises unless the purge permission is on for the current
transaction. On PostgreSQL the permission is the transaction-local setting `privacy.purge`; on
SQLite it is a function registered on each of our connections (any other client, lacking the
function, is refused too). Only the retention service and `manage.py flush` open the door.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_is_purge_permitted = contextvars.ContextVar("privacy_purge_permitted", default=False)

SQLITE_PERMISSION_FUNCTION = "privacy_purge_permitted"


class AppendOnlyError(Exception):
    """An attempt to change or delete a row of an append-only table."""


def is_purge_permitted() -> bool:
    return _is_purge_permitted.get()


@contextmanager
def purge_permitted() -> Iterator[None]:
    """Allow changes to append-only rows inside this block (one transaction)."""
    with transaction.atomic():
        token = _is_purge_permitted.set(True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('privacy.purge', 'on', true)")
        try:
            yield
        finally:
            _is_purge_permitted.reset(token)
            if connection.vendor == "postgresql" and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('privacy.purge', 'off', true)")


def sqlite_register_permission(sender, connection, **kwargs) -> None:
    """connection_created receiver: give each SQLite connection the trigger's permission check."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_PERMISSION_FUNCTION, 0, lambda: int(is_purge_permitted())
        )


def _postgresql_trigger_sql(table: str) -> list[str]:
    function = f"{table}_append_only"
    return [
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            IF current_setting('privacy.purge', true) = 'on' THEN
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$ LANGUAGE plpgsql
        """,
        f"DROP TRIGGER IF EXISTS {function} ON {table}",
        f"""
        CREATE TRIGGER {function} BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {function}()
        """,
    ]


def _sqlite_trigger_sql(table: str) -> list[str]:
    return [
        f"""
        CREATE TRIGGER IF NOT EXISTS {table}_no_{operation} BEFORE {operation.upper()} ON {table}
        FOR EACH ROW WHEN NOT {SQLITE_PERMISSION_FUNCTION}()
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation.upper()} refused'); END
        """
        for operation in ("update", "delete")
    ]


def triggers_install(table: str):
    """A RunPython function installing the append-only triggers on `table` for this database."""

    def install(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        statements = {"postgresql": _postgresql_trigger_sql, "sqlite": _sqlite_trigger_sql}
        if vendor not in statements:
            raise NotImplementedError(f"no append-only trigger for {vendor}")
        for statement in statements[vendor](table):
            schema_editor.execute(statement, params=None)

    return install


def triggers_remove(table: str):
    """A RunPython function removing what triggers_install(table) created."""

    def remove(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        else:
            for operation in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")

    return remove
