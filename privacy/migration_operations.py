"""Migration helpers for turning an existing plaintext column into an encrypted one.

In the owning app's migration, first AlterField to the encrypted field (the column stays text;
on PostgreSQL a jsonb column becomes text holding the JSON), then encrypt what is already there:

    operations = [
        migrations.AlterField("referral", "details", EncryptedTextField(blank=True)),
        encrypt_existing_values("referrals", "referral", ["details"]),
    ]

Text and JSON columns only: a binary column cannot be converted this way (switch such a field
before it holds data). Rows are read and written with raw SQL, because the model now expects
ciphertext. Values that are already tokens under a configured key are left alone, so the step
is safe to re-run; reversing it decrypts back to plaintext before the reverse AlterField.
"""

from django.db import migrations

from .crypto import DecryptionError, decrypt_text, encrypt_text


def _is_token(value: str) -> bool:
    try:
        decrypt_text(value)
    except DecryptionError:
        return False
    return True


def _convert_column(schema_editor, table: str, pk_column: str, column: str, convert) -> None:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(pk_column)}, {quote(column)} FROM {quote(table)} "
            f"WHERE {quote(column)} IS NOT NULL"
        )
        changed = [(new, pk) for pk, old in cursor.fetchall() if (new := convert(old)) != old]
        if changed:
            cursor.executemany(
                f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk_column)} = %s",
                changed,
            )


def _encrypt(value: str) -> str:
    return value if _is_token(value) else encrypt_text(value)


def _decrypt(value: str) -> str:
    return decrypt_text(value) if _is_token(value) else value


def encrypt_existing_values(
    app_label: str, model_name: str, field_names: list[str]
) -> migrations.RunPython:
    """A reversible RunPython that encrypts the plaintext already stored in these fields."""

    def run(convert):
        def step(apps, schema_editor) -> None:
            model = apps.get_model(app_label, model_name)
            for name in field_names:
                column = model._meta.get_field(name).column
                _convert_column(
                    schema_editor, model._meta.db_table, model._meta.pk.column, column, convert
                )

        return step

    return migrations.RunPython(run(_encrypt), run(_decrypt), elidable=False)
