"""Writing rows without the ORM's per-row work: thousands at once for batch matching (COPY on
PostgreSQL, bulk_create elsewhere), and one at a time in a single statement for the single
match. Runs in the caller's transaction; sends nothing."""

import json
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone


def _complete(model: type[models.Model], fields: Sequence[str]) -> tuple[list, list, list]:
    """The model's other concrete columns and how to fill each, as Django would on save: now
    for auto_now fields, else the field's default. Returns those fields, the values that are
    the same for every row, and the positions (among those fields) of callable defaults with
    their callables, called per row so that each row gets its own."""
    now = timezone.now()
    extra, constants, per_row = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in fields or field.attname in fields:
            continue
        extra.append(field)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            constants.append(now)
        elif field.has_default() and callable(field.default):
            constants.append(None)
            per_row.append((len(constants) - 1, field.default))
        else:
            constants.append(field.get_default())
    return extra, constants, per_row


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
    extra, constants, per_row = _complete(model, fields)
    meta = model._meta
    columns = [meta.get_field(name).column for name in fields] + [f.column for f in extra]
    json_given = [
        i for i, n in enumerate(fields) if isinstance(meta.get_field(n), models.JSONField)
    ]
    json_extra = {i for i, f in enumerate(extra) if isinstance(f, models.JSONField)}
    constants = [json.dumps(v) if i in json_extra else v for i, v in enumerate(constants)]
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
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for index, row in enumerate(rows):
                given = list(row)
                for i in json_given:
                    given[i] = json.dumps(given[i])
                filled = constants
                if per_row:
                    filled = list(constants)
                    for i, default in per_row:
                        value = default()
                        filled[i] = json.dumps(value) if i in json_extra else value
                copy.write_row([ids[index], *given, *filled] if with_ids else [*given, *filled])
    return ids


def row_insert(
    model: type[models.Model], values: dict[str, object], *, unless_conflict: bool = False
) -> int | None:
    """Insert one row of `model` in one statement and return its id: `values` by field name
    or column name ("slot_id"), the other columns filled as Django would on save. No model
    instance is built and no savepoint taken, for the single match's writes. With
    `unless_conflict` a row that a unique constraint refuses is not written and None is
    returned instead of an error, so the transaction can go on."""
    columns, params = insert_columns(model, values)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(params))})"
    if unless_conflict:
        sql += " ON CONFLICT DO NOTHING"
    returns_id = connection.features.can_return_columns_from_insert
    if returns_id:
        sql += f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returns_id:
            row = cursor.fetchone()
            return row[0] if row else None
        return cursor.lastrowid if cursor.rowcount else None


def insert_columns(model: type[models.Model], values: dict[str, object]) -> tuple[list, list]:
    """The quoted columns and prepared values of one new row of `model`: `values` by field
    or column name, the other columns filled as Django would on save."""
    meta = model._meta
    extra, filled, per_row = _complete(model, list(values))
    for position, default in per_row:
        filled[position] = default()
    fields = [meta.get_field(name) for name in values] + extra
    columns = [connection.ops.quote_name(field.column) for field in fields]
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, [*values.values(), *filled], strict=True)
    ]
    return columns, params
