"""Database helpers the apps share."""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, models


def among_sql(column: str, values: Iterable) -> tuple[str, list]:
    """SQL keeping rows whose `column` is one of `values`, and its parameters: `= ANY(array)`
    on PostgreSQL, one parameter however many values (a batch passes ten thousand ids, and
    quoting each as its own parameter cost more than the query), IN elsewhere. One value is
    a plain `=`: PostgreSQL's generic plan for `= ANY(array)` guesses ten rows, so it planned
    such a statement afresh at every run, and a single match's history read spent more time
    being planned than run."""
    values = list(values)
    if len(values) == 1:
        return f"{column} = %s", values
    if connection.vendor == "postgresql":
        if is_int_list(values):
            return f"{column} = ANY(%s::bigint[])", [int_array(values)]
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def is_int_list(values: list) -> bool:
    """Whether `values` are all plain integers (ids), to be sent as one `int_array`."""
    return bool(values) and all(type(value) is int for value in values)


def int_array(values: Iterable[int]) -> str:
    """Integers as one PostgreSQL array literal ('{1,2,3}'), for a parameter cast to
    bigint[]: psycopg adapts a list element by element, which for a match's 250 ids took
    1.1 ms a statement against 0.4 ms for the literal."""
    return "{" + ",".join(map(str, values)) + "}"


def insert_unless_taken(
    rows: Sequence[models.Model], *, conflict: str, key: str | None = None
) -> list[models.Model]:
    """INSERT the unsaved `rows` of one model, leaving out each row whose unique `conflict`
    target (SQL, such as "(digest)" or "(a, b) WHERE c IS NULL") is already taken, by a row
    stored before or one committed meanwhile: `INSERT … ON CONFLICT target DO NOTHING
    RETURNING pk`, on PostgreSQL and SQLite (3.35 or later, for RETURNING) alike. Returns the
    rows inserted, with their primary keys set. `key` names a field that tells the rows apart
    (needed for more than one row: RETURNING comes back in no set order).

    One statement, and no SAVEPOINT: catching an IntegrityError from a plain INSERT needs
    both, and a SELECT beforehand besides to spare the common case an error. The statement is
    built once per model, row count and target (`_insert_sql`). Model.save()'s signals are
    not sent.
    """
    if not rows:
        return []
    if key is None and len(rows) > 1:
        raise ValueError("more than one row needs a key to tell the returned rows apart")
    model = type(rows[0])
    fields = _insert_fields(model)
    by_key = {getattr(row, key): row for row in rows} if key is not None else {}
    batch = max(1, connection.ops.bulk_batch_size(fields, rows) or len(rows))
    inserted = []
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        sql = _insert_sql(model, len(part), conflict=conflict, key=key)
        with connection.cursor() as cursor:
            cursor.execute(sql, _insert_params(part, fields))
            returned = cursor.fetchall()
        for pk, *rest in returned:
            row = by_key[rest[0]] if key is not None else part[0]
            row.pk = pk
            row._state.adding = False
            row._state.db = connection.alias
            inserted.append(row)
    return inserted


def instances_insert(rows: Sequence[models.Model]) -> list[models.Model]:
    """INSERT unsaved instances of one model as bulk_create does (auto_now values filled, no
    signals sent), setting their primary keys, with the statement built once per model and
    row count (`_insert_sql`): for the one invitation a match writes, bulk_create spent
    longer compiling its INSERT than PostgreSQL spent running it. Elsewhere than PostgreSQL,
    bulk_create itself, or a save per row where a bulk insert returns no ids."""
    if not rows:
        return []
    model = type(rows[0])
    if connection.vendor != "postgresql":
        if connection.features.can_return_rows_from_bulk_insert:
            return model.objects.bulk_create(rows)
        for row in rows:  # bulk_create could not give them their ids
            row.save(force_insert=True)
        return list(rows)
    fields = _insert_fields(model)
    for start in range(0, len(rows), INSTANCES_INSERT_BATCH):
        part = rows[start : start + INSTANCES_INSERT_BATCH]
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(model, len(part)), _insert_params(part, fields))
            returned = cursor.fetchall()
        # In the order of VALUES, as bulk_create relies on too.
        for row, (pk,) in zip(part, returned, strict=True):
            row.pk = pk
            row._state.adding = False
            row._state.db = connection.alias
    return list(rows)


INSTANCES_INSERT_BATCH = 500  # rows a statement: well under 65,535 parameters


def _insert_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    meta = model._meta
    return tuple(f for f in meta.local_concrete_fields if f is not meta.pk)


def _insert_params(rows: Sequence[models.Model], fields: tuple[models.Field, ...]) -> list:
    """The VALUES' parameters, as an INSERT of the ORM's prepares them (auto_now filled)."""
    return [
        field.get_db_prep_save(field.pre_save(row, True), connection)
        for row in rows
        for field in fields
    ]


@functools.lru_cache(maxsize=128)
def _insert_sql(
    model: type[models.Model], count: int, *, conflict: str | None = None, key: str | None = None
) -> str:
    """INSERT of `count` rows of `model` returning their primary keys (and `key`), leaving out
    the rows whose `conflict` target is taken when one is given; built once, not compiled by
    the ORM at every insert."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = quote(meta.pk.column)
    if key is not None:
        returning += ", " + quote(meta.get_field(key).column)
    on_conflict = f" ON CONFLICT {conflict} DO NOTHING" if conflict else ""
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES {', '.join([one_row] * count)}{on_conflict} RETURNING {returning}"
    )


def rows_update(rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of saved `rows` of one model from the instances, as bulk_update does,
    in one statement per ROWS_UPDATE_BATCH rows: on PostgreSQL `UPDATE … FROM (VALUES …)`,
    since bulk_update builds a CASE expression per field and row, which for a batch of fifty
    kept messages cost more than parsing them. Elsewhere bulk_update itself."""
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    names = [quote(field.column) for field in columns]
    one_row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    table = quote(meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    for start in range(0, len(rows), ROWS_UPDATE_BATCH):
        part = rows[start : start + ROWS_UPDATE_BATCH]
        params = [
            field.get_db_prep_save(getattr(row, field.attname), connection)
            for row in part
            for field in columns
        ]
        sql = (
            f"UPDATE {table} SET {assignments}"
            f" FROM (VALUES {', '.join([one_row] * len(part))}) AS v ({', '.join(names)})"
            f" WHERE {table}.{names[0]} = v.{names[0]}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


ROWS_UPDATE_BATCH = 1000  # well under PostgreSQL's 65,535 parameters a statement


@dataclass(frozen=True)
class _Part:
    """One model of a joined read: where its columns sit in a row, how each is converted, and
    which instance's foreign key it fills."""

    path: str
    model: type[models.Model]
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple, object], ...]
    start: int
    pk_index: int
    parent: str | None
    field: models.ForeignKey | None


@dataclass(frozen=True)
class _JoinedRead:
    sql: str
    parts: tuple[_Part, ...]
    extra_start: int
    extra_names: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _joined_read(
    model: type[models.Model],
    related: tuple[str, ...],
    deferred: frozenset[str],
    only: frozenset[str] | None,
    extra: tuple[tuple[str, str], ...],
    lock: str,
    vendor: str,
) -> _JoinedRead:
    """The SELECT (without its WHERE) and the row layout for `instances_with_related`."""
    quote = connection.ops.quote_name
    aliases = {"": "t0"}
    parts: list[_Part] = []
    columns: list[str] = []
    joins: list[str] = [f"FROM {quote(model._meta.db_table)} AS t0"]
    for path in ("", *related):
        parent, _, name = path.rpartition("__")
        if path:
            owner = parts[[p.path for p in parts].index(parent)].model
            field = owner._meta.get_field(name)
            part_model = field.related_model
            alias = aliases[path] = f"t{len(aliases)}"
            kind = "LEFT OUTER JOIN" if field.null else "INNER JOIN"
            joins.append(
                f"{kind} {quote(part_model._meta.db_table)} AS {alias}"
                f" ON {alias}.{quote(field.target_field.column)}"
                f" = {aliases[parent]}.{quote(field.column)}"
            )
        else:
            field, part_model, alias = None, model, "t0"
        prefix = f"{path}__" if path else ""
        joined = {r.rpartition("__")[2] for r in related if r.rpartition("__")[0] == path}
        asked = {
            f.name
            for f in part_model._meta.concrete_fields
            if f"{prefix}{f.name}" not in deferred and (only is None or f"{prefix}{f.name}" in only)
        }
        chosen = [
            f
            for f in part_model._meta.concrete_fields
            if f.primary_key or f.name in joined or f.name in asked
        ]
        converters = []
        for index, chosen_field in enumerate(chosen):
            column = chosen_field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, tuple(found), column))
        parts.append(
            _Part(
                path=path,
                model=part_model,
                attnames=tuple(f.attname for f in chosen),
                converters=tuple(converters),
                start=len(columns),
                pk_index=[f.primary_key for f in chosen].index(True),
                parent=parent if path else None,
                field=field,
            )
        )
        columns += [f"{alias}.{quote(f.column)}" for f in chosen]
    # Braces doubled: the statement is a format string for its WHERE and ORDER BY.
    columns += [expression.replace("{", "{{").replace("}", "}}") for _name, expression in extra]
    return _JoinedRead(
        sql=f"SELECT {', '.join(columns)} {' '.join(joins)} WHERE {{where}}{{order}}{lock}",
        parts=tuple(parts),
        extra_start=len(columns) - len(extra),
        extra_names=tuple(name for name, _expression in extra),
    )


def instances_with_related(
    model: type[models.Model],
    *,
    related: Sequence[str],
    where: str,
    params: Sequence,
    defer: Sequence[str] = (),
    only: Sequence[str] | None = None,
    order_by: str = "",
    lock: bool = False,
    skip_locked: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> list[models.Model]:
    """Instances of `model` with the foreign keys in `related` ("referral__program" style
    paths, parents before children) loaded, as select_related would, in one statement whose
    SQL is built once per process: building it with the ORM cost a match's notification more
    than running it. `where` and `order_by` are SQL on the model's table as `t0`; `defer`
    names fields ("referral__details") left out, and `only` the only ones read besides keys
    (as the ORM's defer and only: a field left out is read if asked for); `lock` takes the
    model's own rows FOR UPDATE where the database can, leaving out those another
    transaction holds with `skip_locked`. `extra` adds (name, SQL expression) columns, set
    on each instance under their names as annotate does; they take no parameters, so that
    PostgreSQL can keep one plan for the statement."""
    lock_clause = ""
    if lock and connection.features.has_select_for_update_of:
        lock_clause = " FOR UPDATE OF t0" + (" SKIP LOCKED" if skip_locked else "")
    read = _joined_read(
        model,
        tuple(related),
        frozenset(defer),
        None if only is None else frozenset(only),
        tuple(extra),
        lock_clause,
        connection.vendor,
    )
    order = f" ORDER BY {order_by}" if order_by else ""
    with connection.cursor() as cursor:
        cursor.execute(read.sql.format(where=where, order=order), list(params))
        rows = cursor.fetchall()
    found = []
    for row in rows:
        built: dict[str, models.Model] = {}
        for part in read.parts:
            values = list(row[part.start : part.start + len(part.attnames)])
            for index, converters, column in part.converters:
                for converter in converters:
                    values[index] = converter(values[index], column, connection)
            instance = None
            if values[part.pk_index] is not None:  # else a null foreign key: no row
                instance = part.model.from_db(connection.alias, part.attnames, values)
            built[part.path] = instance
            if part.field is not None and built[part.parent] is not None:
                part.field.set_cached_value(built[part.parent], instance)
        for name, value in zip(read.extra_names, row[read.extra_start :], strict=True):
            setattr(built[""], name, value)
        found.append(built[""])
    return found
