"""Re-encrypting stored values with the current key, after a new key is put first."""

from django.apps import apps
from django.db import connection, models, transaction

from ..crypto import is_current, rotate_token
from ..fields import EncryptedBinaryField, EncryptedJSONField, EncryptedTextField

ENCRYPTED_FIELD_TYPES = (EncryptedTextField, EncryptedJSONField, EncryptedBinaryField)


def encrypted_fields() -> list[tuple[type[models.Model], models.Field]]:
    """Every (model, field) pair whose values are encrypted at rest."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, ENCRYPTED_FIELD_TYPES)
    ]


def _rotate_batch(table: str, pk_column: str, column: str, after_pk, batch_size: int):
    """Rotate up to batch_size values after `after_pk` (None: from the start).

    Returns the last primary key read (None when the table is done) and how many were rotated.
    """
    quote = connection.ops.quote_name
    after = "" if after_pk is None else f"AND {quote(pk_column)} > %s "
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(pk_column)}, {quote(column)} FROM {quote(table)} "
            f"WHERE {quote(column)} IS NOT NULL {after}"
            f"ORDER BY {quote(pk_column)} LIMIT %s",
            [batch_size] if after_pk is None else [after_pk, batch_size],
        )
        rows = cursor.fetchall()
        stale = [(rotate_token(token), pk) for pk, token in rows if not is_current(token)]
        if stale:
            cursor.executemany(
                f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk_column)} = %s",
                stale,
            )
    is_done = len(rows) < batch_size
    return (None if is_done else rows[-1][0]), len(stale)


def encrypted_values_rotate(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every stored value not yet under the current key; returns counts per field.

    Works on the raw tokens, so values are never decrypted into Python objects and no other
    column or timestamp changes. Each batch is its own transaction; idempotent: a second run
    finds nothing to do. A value no key opens raises crypto.DecryptionError and stops the run.
    """
    counts: dict[str, int] = {}
    for model, field in encrypted_fields():
        table, pk_column = model._meta.db_table, model._meta.pk.column
        after_pk, rotated = None, 0
        while True:
            with transaction.atomic():
                after_pk, count = _rotate_batch(
                    table, pk_column, field.column, after_pk, batch_size
                )
            rotated += count
            if after_pk is None:
                break
        counts[f"{model._meta.label}.{field.name}"] = rotated
    return counts
