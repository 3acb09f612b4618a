from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from privacy.crypto import DecryptionError, decrypt_text
from privacy.migration_operations import encrypt_existing_values
from tests.privacy.encrypted_app.models import Note

pytestmark = pytest.mark.django_db

MARKER = "MARKER-burnout-after-night-shifts"
OTHER_KEY = Fernet.generate_key().decode()


def _raw(column: str, pk: int):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM encrypted_app_note WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _reloaded(note: Note) -> Note:
    return Note.objects.get(pk=note.pk)


@pytest.mark.parametrize(
    "text", [None, "", "plain words", "Grüße — 你好 🙂 ‘quoted’", "long text " * 20_000]
)
def test_free_text_reads_back_exactly_as_written(text):
    note = Note.objects.create(text=text)
    assert _reloaded(note).text == text


@pytest.mark.parametrize(
    "answers",
    [False, 0, "", [], {}, None, True, 3.5, {"k10": [1, 2, 3], "self_harm": False, "note": "ü 🙂"}],
)
def test_triage_answers_read_back_exactly_as_written_falsy_ones_included(answers):
    note = Note.objects.create(answers=answers, optional_answers=answers)
    reloaded = _reloaded(note)
    assert reloaded.answers == answers and type(reloaded.answers) is type(answers)
    assert reloaded.optional_answers == answers
    assert type(reloaded.optional_answers) is type(answers)


@pytest.mark.parametrize(
    "raw", [None, b"", b"\x00\xff binary", "Subject: Grüße\r\n".encode() * 500]
)
def test_raw_bytes_read_back_exactly_as_written(raw):
    note = Note.objects.create(raw=raw)
    assert _reloaded(note).raw == raw
    if raw:
        assert raw[:8] not in _raw("raw", note.pk).encode()


def test_a_missing_nullable_value_is_stored_as_null_not_as_ciphertext():
    note = Note.objects.create(text=None, optional_answers=None)
    assert _raw("text", note.pk) is None
    assert _raw("optional_answers", note.pk) is None
    assert Note.objects.filter(text__isnull=True).get() == note


def test_the_database_column_holds_no_plaintext():
    note = Note.objects.create(text=MARKER, answers={"details": MARKER})
    for column in ("text", "answers"):
        stored = _raw(column, note.pk)
        assert MARKER not in stored
        assert stored.startswith("gAAAAA")  # a Fernet token
    assert decrypt_text(_raw("text", note.pk)) == MARKER


def test_updates_through_the_queryset_are_encrypted_too():
    note = Note.objects.create(text="before")
    Note.objects.filter(pk=note.pk).update(text=MARKER)
    assert MARKER not in _raw("text", note.pk)
    assert _reloaded(note).text == MARKER


def test_reading_with_the_wrong_key_fails_loudly_and_names_the_field():
    note = Note.objects.create(text=MARKER)
    wrong_key = override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY])
    with wrong_key, pytest.raises(DecryptionError, match=r"encrypted_app\.Note\.text"):
        _reloaded(note)


def test_a_value_stored_unencrypted_or_altered_is_never_returned_as_data():
    note = Note.objects.create(text="x")
    token = _raw("text", note.pk)
    for stored in ("plaintext someone wrote directly", token[:-4] + "AAAA"):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE encrypted_app_note SET text = %s WHERE id = %s", [stored, note.pk]
            )
        with pytest.raises(DecryptionError):
            _reloaded(note)


def test_searching_encrypted_text_is_refused_rather_than_silently_matching_nothing():
    with pytest.raises(FieldError):
        list(Note.objects.filter(text=MARKER))
    with pytest.raises(FieldError):
        list(Note.objects.filter(text__icontains="burnout"))
    with pytest.raises(FieldError):
        list(Note.objects.filter(answers__k10=1))


def test_rows_written_with_an_old_key_read_after_a_new_key_is_put_first(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    note = Note.objects.create(text=MARKER, answers={"a": 1})
    with override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY, old_key]):
        assert _reloaded(note).text == MARKER
        newer = Note.objects.create(text="written after rotation")
    with override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY]):
        assert _reloaded(newer).text == "written after rotation"
        with pytest.raises(DecryptionError):
            _reloaded(note)


def test_reencrypt_command_moves_every_value_to_the_current_key(settings, capsys):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    notes = [Note.objects.create(text=f"{MARKER}-{n}", answers=[n]) for n in range(5)]
    with override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY, old_key]):
        call_command("reencrypt_fields", batch_size=2)
        assert "encrypted_app.Note.text: 5 re-encrypted" in capsys.readouterr().out
        call_command("reencrypt_fields")
        assert "done: 0 values re-encrypted" in capsys.readouterr().out
    with override_settings(FIELD_ENCRYPTION_KEYS=[OTHER_KEY]):
        assert [_reloaded(note).text for note in notes] == [f"{MARKER}-{n}" for n in range(5)]
        assert [_reloaded(note).answers for note in notes] == [[n] for n in range(5)]


def test_migration_step_encrypts_existing_plaintext_and_reverses_cleanly():
    from django.apps import apps

    note = Note.objects.create()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE encrypted_app_note SET text = %s, answers = %s WHERE id = %s",
            [MARKER, '{"k10": 22}', note.pk],
        )
    operation = encrypt_existing_values("encrypted_app", "note", ["text", "answers"])
    # The step only reads schema_editor.connection; SQLite forbids a real editor in a test's
    # transaction.
    schema_editor = SimpleNamespace(connection=connection)
    operation.code(apps, schema_editor)
    operation.code(apps, schema_editor)  # re-running leaves tokens alone
    assert MARKER not in _raw("text", note.pk)
    assert (_reloaded(note).text, _reloaded(note).answers) == (MARKER, {"k10": 22})
    operation.reverse_code(apps, schema_editor)
    assert (_raw("text", note.pk), _raw("answers", note.pk)) == (MARKER, '{"k10": 22}')
