import logging
import socket

import pytest
from celery import Celery, shared_task
from django.conf import settings
from django.db import transaction

from config.celery import app
from privacy.task_guard import (
    PersonalDataInTaskArguments,
    PrivateTask,
    published_message_check,
)

MARKER_EMAIL = "marker.person@example.test"
MARKER_PHONE = "0412 345 678"
ran_with: list = []


@shared_task
def probe(*args, **kwargs) -> None:
    ran_with.append((args, kwargs))


@pytest.fixture(autouse=True)
def _fresh_probe():
    ran_with.clear()


def test_a_task_queued_with_ids_runs():
    probe.delay(42, appointment_id=7, change="proposed")
    assert ran_with == [((42,), {"appointment_id": 7, "change": "proposed"})]


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((MARKER_EMAIL,), {}),
        ((), {"phone": MARKER_PHONE}),
        ((1, ["MARKER free text " * 10]), {}),
        ((), {"context": {"to": MARKER_EMAIL}}),
    ],
)
def test_a_task_queued_with_personal_data_is_refused_in_tests(args, kwargs):
    with pytest.raises(PersonalDataInTaskArguments) as refused:
        probe.delay(*args, **kwargs)
    assert MARKER_EMAIL not in str(refused.value) and "MARKER" not in str(refused.value)
    assert ran_with == []


@pytest.mark.django_db
def test_the_mistake_shows_where_the_task_is_queued_not_after_commit():
    with pytest.raises(PersonalDataInTaskArguments), transaction.atomic():
        probe.delay_on_commit(MARKER_EMAIL)


@pytest.mark.django_db
def test_in_production_the_task_is_not_queued_and_the_error_names_no_value(caplog, settings):
    settings.TASK_ARGUMENT_GUARD = "log"
    assert probe.delay(MARKER_EMAIL) is None
    assert ran_with == []
    assert "tests.privacy.test_task_guard.probe refused: argument 0" in caplog.text
    assert MARKER_EMAIL not in caplog.text


def test_every_project_task_checks_its_arguments():
    app.loader.import_default_modules()
    project_tasks = [task for name, task in app.tasks.items() if not name.startswith("celery.")]
    assert project_tasks
    assert all(isinstance(task, PrivateTask) for task in project_tasks)


def test_a_message_sent_by_name_with_personal_data_is_logged(caplog):
    published_message_check(sender="any.task", body=((MARKER_EMAIL,), {}, {}))
    assert "any.task was published with personal data" in caplog.text
    assert MARKER_EMAIL not in caplog.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_a_commit_succeeds_and_is_logged_when_the_broker_is_down(
    caplog, django_capture_on_commit_callbacks
):
    down = Celery(
        "broker-down", broker=f"redis://127.0.0.1:{_closed_port()}/0", set_as_current=False
    )
    down.conf.update(
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_publish_retry=False,
    )

    @down.task(name="probe.down", base=PrivateTask)
    def match(referral_id: int) -> None:
        raise AssertionError("never runs: the broker is down")

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        match.delay_on_commit(42)
    assert "task probe.down not queued, the broker is unavailable" in caplog.text
