"""Database helpers the apps share."""

from collections.abc import Sequence

from django.db import connection, models
from django.db.models.sql import InsertQuery


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
    both, and a SELECT beforehand besides to spare the common case an error. Model.save()'s
    signals are not sent.
    """
    if not rows:
        return []
    if key is None and len(rows) > 1:
        raise ValueError("more than one row needs a key to tell the returned rows apart")
    model = type(rows[0])
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.pk]
    returning = connection.ops.quote_name(meta.pk.column)
    if key is not None:
        returning += ", " + connection.ops.quote_name(meta.get_field(key).column)
    by_key = {getattr(row, key): row for row in rows} if key is not None else {}
    batch = max(1, connection.ops.bulk_batch_size(fields, rows) or len(rows))
    inserted = []
    for start in range(0, len(rows), batch):
        query = InsertQuery(model)
        query.insert_values(fields, rows[start : start + batch])
        [(sql, params)] = query.get_compiler(connection=connection).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ON CONFLICT {conflict} DO NOTHING RETURNING {returning}", params)
            returned = cursor.fetchall()
        for pk, *rest in returned:
            row = by_key[rest[0]] if key is not None else rows[start]
            row.pk = pk
            row._state.adding = False
            row._state.db = connection.alias
            inserted.append(row)
    return inserted
