"""instances_insert and rows_update: rows written from model instances in one statement, as
bulk_create and bulk_update write them."""

import datetime as dt

import pytest
from django.utils import timezone

from config import db
from config.db import instances_insert, rows_update
from notifications.models import InboundMessage, OutboundMessage

pytestmark = pytest.mark.django_db


def _kept(count: int) -> list[InboundMessage]:
    return [
        InboundMessage.objects.create(
            source="http", digest=f"{index:064x}", raw=b"raw", message_id=f"<old-{index}>"
        )
        for index in range(count)
    ]


def _stored(message: InboundMessage) -> tuple:
    message.refresh_from_db()
    return message.message_id, message.problem, message.applied_at, message.source


@pytest.mark.parametrize("batch", [1000, 2])
def test_each_row_gets_its_own_values_of_the_fields_named(monkeypatch, batch):
    monkeypatch.setattr(db, "ROWS_UPDATE_BATCH", batch)
    first, second, third, untouched = _kept(4)
    applied_at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    for index, message in enumerate((first, second, third)):
        message.message_id = f"<new-{index}@example.org>"
        message.problem = "" if index else "no calendar part"
        message.applied_at = applied_at + dt.timedelta(seconds=index)
        message.source = "changed but not named"

    rows_update([first, second, third], ["message_id", "problem", "applied_at"])

    assert _stored(first) == ("<new-0@example.org>", "no calendar part", applied_at, "http")
    assert _stored(second) == (
        "<new-1@example.org>",
        "",
        applied_at + dt.timedelta(seconds=1),
        "http",
    )
    assert _stored(third)[:3] == ("<new-2@example.org>", "", applied_at + dt.timedelta(seconds=2))
    assert _stored(untouched) == ("<old-3>", "", None, "http")


def test_no_rows_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_update([], ["problem"])


def _unsaved(count: int, *, prefix: str = "test") -> list[OutboundMessage]:
    return [
        OutboundMessage(
            key=f"{prefix}:{index}",
            kind=OutboundMessage.Kind.INVITATION,
            recipient=f"clinician{index}@example.org",
            subject=f"Subject {index}",
            body_text=f"Text {index}",
            message_id=f"<{prefix}-{index}@example.org>",
            next_attempt_at=timezone.now(),
        )
        for index in range(count)
    ]


@pytest.mark.parametrize("batch", [500, 2])
def test_inserted_instances_get_their_ids_and_are_stored_as_bulk_create_stores_them(
    monkeypatch, batch
):
    monkeypatch.setattr(db, "INSTANCES_INSERT_BATCH", batch)
    before = timezone.now()
    written = instances_insert(_unsaved(5))
    expected = OutboundMessage.objects.bulk_create(_unsaved(5, prefix="copy"))

    assert len({m.pk for m in written}) == 5
    for mine, theirs in zip(written, expected, strict=True):
        stored = OutboundMessage.objects.get(pk=mine.pk)
        assert stored.key == mine.key and stored.recipient == mine.recipient
        assert stored.subject == mine.subject and stored.body_text == mine.body_text
        assert stored.created_at >= before and mine.created_at == stored.created_at
        assert not mine._state.adding
        reference = OutboundMessage.objects.get(pk=theirs.pk)
        ignored = {"id", "key", "message_id", "created_at", "next_attempt_at"}
        assert {k: v for k, v in _fields(stored).items() if k not in ignored} == {
            k: v for k, v in _fields(reference).items() if k not in ignored
        }


def _fields(message: OutboundMessage) -> dict:
    return {f.attname: getattr(message, f.attname) for f in message._meta.concrete_fields}


def test_no_instances_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert instances_insert([]) == []


def _unstored(digests: list[str]) -> list[InboundMessage]:
    return [
        InboundMessage(source="imap", digest=digest, raw=digest.encode(), message_id=f"<{digest}>")
        for digest in digests
    ]


@pytest.mark.parametrize("batch", [None, 2])
def test_an_insert_unless_taken_leaves_out_the_rows_already_stored_and_ids_the_rest(
    monkeypatch, batch
):
    if batch is not None:
        monkeypatch.setattr(type(db.connection.ops), "bulk_batch_size", lambda *_: batch)
    [earlier] = db.insert_unless_taken(_unstored(["b" * 64]), conflict="(digest)")
    rows = _unstored(["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64])

    inserted = db.insert_unless_taken(rows, conflict="(digest)", key="digest")

    assert [row.digest for row in inserted] == ["a" * 64, "c" * 64, "d" * 64, "e" * 64]
    assert earlier.pk not in {row.pk for row in inserted}
    for row in inserted:
        stored = InboundMessage.objects.get(pk=row.pk)
        assert (stored.digest, bytes(stored.raw), stored.message_id) == (
            row.digest,
            row.digest.encode(),
            f"<{row.digest}>",
        )
        assert not row._state.adding
    assert InboundMessage.objects.get(digest="b" * 64).pk == earlier.pk
    assert bytes(InboundMessage.objects.get(digest="b" * 64).raw) == b"b" * 64


def test_inserted_instances_get_their_ids_where_a_bulk_insert_returns_none(monkeypatch):
    monkeypatch.setattr(type(db.connection.features), "can_return_rows_from_bulk_insert", False)
    written = instances_insert(_unsaved(3))
    assert [OutboundMessage.objects.get(pk=m.pk).key for m in written] == [
        "test:0",
        "test:1",
        "test:2",
    ]
