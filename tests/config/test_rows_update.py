"""rows_update: the named fields of saved rows written from their instances, as bulk_update
writes them, and nothing else."""

import datetime as dt

import pytest
from django.utils import timezone

from config import db
from config.db import rows_update
from notifications.models import InboundMessage

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
