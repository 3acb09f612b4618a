"""Writing thousands of rows at once, for batch matching: COPY on PostgreSQL, bulk_create
elsewhere. Runs in the caller's transaction; sends nothing."""

import json
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone


def _complete(model: type[models.Model], fields: Sequence[str]) -> tuple[list, list]:
    """The model's other concrete columns and how to fill each: now for auto_now fields, else
    the field's default (called per row, so a callable default gives each row its own), as
    Django would on save."""
    now = timezone.now()
    extra, fillers = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in fields or field.attname in fields:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            extra.append(field)
            fillers.append(lambda now=now: now)
        else:
            extra.append(field)
            fillers.append(field.get_default)
    return extra, fillers


def rows_insert(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple], *, with_ids: bool
) -> list[int]:
    """Insert `rows` (values for `fields`, column names like "slot_id") into `model`'s table;
    other columns get their defaults. Returns the new ids in row order when `with_ids`."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, batch_size=2000)
        return [obj.pk for obj in objects] if with_ids else []
    extra, fillers = _complete(model, fields)
    meta = model._meta
    columns = [meta.get_field(name).column for name in fields] + [f.column for f in extra]
    is_json = [isinstance(meta.get_field(n), models.JSONField) for n in fields]
    is_json += [isinstance(f, models.JSONField) for f in extra]
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        ids: list[int] = []
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            columns.insert(0, meta.pk.column)
            is_json.insert(0, False)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for index, row in enumerate(rows):
                values = [*row, *(fill() for fill in fillers)]
                if with_ids:
                    values.insert(0, ids[index])
                copy.write_row(
                    [json.dumps(v) if j else v for v, j in zip(values, is_json, strict=True)]
                )
    return ids
