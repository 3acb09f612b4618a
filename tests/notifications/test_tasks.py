import datetime as dt
import smtplib
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from notifications import services, tasks
from notifications.models import OutboundMessage
from tests.notifications.factories import proposed_appointment
from tests.referrals.factories import ReferralFactory

pytestmark = pytest.mark.django_db


def queued_message() -> OutboundMessage:
    referral = ReferralFactory()
    [message] = services.referral_notify(referral_id=referral.pk, change="submitted")
    return message


# Both ways a send claims its row: one UPDATE … RETURNING, or an UPDATE and a read (SQLite
# before 3.35, which has no RETURNING; without it no other insert works on PostgreSQL).
IS_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
CLAIMS = (
    ["update returning the row", "update, then read"] if IS_SQLITE else ["update returning the row"]
)


@pytest.fixture(params=CLAIMS)
def claim(request, monkeypatch):
    if request.param == "update, then read":
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)


def _smtp_failing_with(*errors):
    connection = mock.MagicMock()
    connection.send_messages.side_effect = errors if len(errors) > 1 else errors[0]
    return mock.patch("notifications.tasks.get_connection", return_value=connection)


def test_a_message_goes_out_once_even_if_the_send_task_runs_twice(claim):
    message = queued_message()
    assert tasks.message_send(message.pk) == "sent"
    assert tasks.message_send(message.pk) == "not claimed"
    [sent] = mail.outbox
    message.refresh_from_db()
    assert sent.body == message.body_text  # the claimed row's bodies, decrypted
    assert (message.status, message.attempts) == ("sent", 1)
    assert message.sent_at is not None


def test_request_received_is_written_without_its_text_and_sent_with_it(claim):
    """The person's "request received" is rendered by the sender, not in their request; what
    went out is what the row holds afterwards."""
    message = queued_message()
    assert (message.subject, message.body_text, message.is_rendered_at_send) == ("", "", True)

    assert tasks.message_send(message.pk) == "sent"

    [sent] = mail.outbox
    message.refresh_from_db()
    assert message.referral.reference in sent.body and sent.body == message.body_text
    assert sent.subject == message.subject != ""
    assert not message.is_rendered_at_send
    resent = services.message_resend(message_id=message.pk)
    assert (resent.subject, resent.body_text) == (message.subject, message.body_text)


def test_a_transient_smtp_error_is_retried_later_with_growing_backoff(claim):
    message = queued_message()
    error = smtplib.SMTPResponseException(451, b"try again later")
    with _smtp_failing_with(error), mock.patch.object(services, "queue_send") as requeue:
        assert tasks.message_send(message.pk) == "queued"
        message.refresh_from_db()
        first_delay = message.next_attempt_at - timezone.now()
        with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1)):
            assert tasks.message_send(message.pk) == "queued"
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.last_error == "SMTPResponseException 451"
    assert dt.timedelta(seconds=25) < first_delay <= dt.timedelta(seconds=30)
    assert [c.kwargs["countdown"] for c in requeue.call_args_list] == [30, 60]
    assert mail.outbox == []


def test_a_queued_retry_is_not_sent_before_its_time(claim):
    message = queued_message()
    with _smtp_failing_with(ConnectionRefusedError()), mock.patch.object(services, "queue_send"):
        tasks.message_send(message.pk)
    assert tasks.message_send(message.pk) == "not claimed"


def test_a_permanent_refusal_fails_at_once_without_echoing_the_server_text():
    message = queued_message()
    error = smtplib.SMTPRecipientsRefused({"doctor@example.test": (550, b"no such user")})
    with _smtp_failing_with(error):
        assert tasks.message_send(message.pk) == "failed"
    message.refresh_from_db()
    assert message.last_error == "SMTPRecipientsRefused"


def test_transient_errors_give_up_after_the_last_attempt(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    message = queued_message()
    with _smtp_failing_with(smtplib.SMTPServerDisconnected()):
        assert tasks.message_send(message.pk) == "failed"


def test_the_sweeper_requeues_lost_rows_and_gives_up_on_rows_stuck_mid_send():
    lost = queued_message()
    stuck = queued_message()
    OutboundMessage.objects.filter(pk=stuck.pk).update(
        status="sending", claimed_at=timezone.now() - dt.timedelta(hours=1)
    )
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        result = tasks.outbox_sweep()
    assert result == {"requeued": 1, "failed_stale": 1}
    lost.refresh_from_db()
    stuck.refresh_from_db()
    assert lost.status == "sent"  # tasks run in-process in the test settings
    assert stuck.status == "failed"
    assert len(mail.outbox) == 1


def test_a_fresh_row_is_left_to_its_own_task():
    queued_message()
    assert tasks.outbox_sweep() == {"requeued": 0, "failed_stale": 0}


def test_a_broker_outage_loses_no_message(django_capture_on_commit_callbacks):
    broker_down = mock.patch("notifications.tasks.message_send.apply_async", side_effect=OSError)
    flush_down = mock.patch("notifications.tasks.outbox_flush.apply_async", side_effect=OSError)
    with broker_down, flush_down, django_capture_on_commit_callbacks(execute=True):
        message = queued_message()
    message.refresh_from_db()
    assert message.status == "queued"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        tasks.outbox_sweep()
    message.refresh_from_db()
    assert message.status == "sent"


# --- reminders ----------------------------------------------------------------------------


def accepted_session(starts_in: dt.timedelta, accepted_ago=dt.timedelta(days=2)):
    starts_at = (timezone.now() + starts_in).replace(second=0, microsecond=0)
    appointment = proposed_appointment(starts_at=starts_at, status="accepted")
    appointment.responded_at = timezone.now() - accepted_ago
    appointment.save()
    return appointment


def reminders_for(appointment):
    return OutboundMessage.objects.filter(appointment=appointment, kind="reminder")


def test_reminders_go_24_and_2_hours_before_to_both_sides():
    appointment = accepted_session(dt.timedelta(hours=30))
    start = appointment.slot.starts_at
    assert services.reminders_queue(now=start - dt.timedelta(hours=25)) == 0
    assert services.reminders_queue(now=start - dt.timedelta(hours=23)) == 2
    assert services.reminders_queue(now=start - dt.timedelta(hours=22)) == 0
    assert services.reminders_queue(now=start - dt.timedelta(minutes=110)) == 2
    recipients = set(reminders_for(appointment).values_list("recipient", flat=True))
    assert recipients == {appointment.clinician.calendar_email, appointment.referral.email}
    for message in reminders_for(appointment):
        lowered = message.subject.lower()
        assert "counselling" not in lowered and "crisis" not in lowered
        assert appointment.referral.family_name.lower() not in lowered


def test_no_reminder_for_a_cancelled_session_even_one_already_queued():
    appointment = accepted_session(dt.timedelta(hours=23))
    services.reminders_queue()
    queued = list(reminders_for(appointment))
    appointment.status = "cancelled"
    appointment.save()
    assert services.reminders_queue() == 0
    assert [tasks.message_send(m.pk) for m in queued] == ["skipped", "skipped"]
    assert mail.outbox == []


def test_after_a_reschedule_reminders_follow_the_new_time():
    appointment = accepted_session(dt.timedelta(hours=23))
    services.reminders_queue()
    old = list(reminders_for(appointment))
    slot = appointment.slot
    slot.starts_at += dt.timedelta(days=2)
    slot.ends_at += dt.timedelta(days=2)
    slot.save()
    assert [tasks.message_send(m.pk) for m in old] == ["skipped", "skipped"]
    assert services.reminders_queue(now=slot.starts_at - dt.timedelta(hours=23)) == 2


def test_a_session_accepted_inside_the_window_gets_no_reminder_for_that_window():
    appointment = accepted_session(dt.timedelta(hours=20), accepted_ago=dt.timedelta(hours=1))
    assert services.reminders_queue() == 0
    start = appointment.slot.starts_at
    assert services.reminders_queue(now=start - dt.timedelta(hours=1)) == 2


def test_a_kept_smtp_connection_the_server_closed_is_reopened_once():
    first, second = queued_message(), queued_message()
    assert tasks.message_send(first.pk) == "sent"
    with _smtp_failing_with(smtplib.SMTPServerDisconnected(), [1]) as get_connection:
        tasks._smtp.connection = get_connection()  # the kept connection, now closed by the server
        tasks._smtp.expires_at = float("inf")
        assert tasks.message_send(second.pk) == "sent"
    assert get_connection.return_value.send_messages.call_count == 2


def test_a_fresh_connection_that_drops_is_retried_later_not_at_once():
    message = queued_message()
    failing = _smtp_failing_with(smtplib.SMTPServerDisconnected())
    with failing as get_connection, mock.patch.object(services, "queue_send"):
        assert tasks.message_send(message.pk) == "queued"
    assert get_connection.return_value.send_messages.call_count == 1


def test_an_smtp_feature_error_is_not_retried_but_a_refused_connection_is():
    assert not tasks._is_transient(smtplib.SMTPNotSupportedError())
    assert tasks._is_transient(ConnectionRefusedError())
    assert tasks._is_transient(TimeoutError())
    assert not tasks._is_transient(smtplib.SMTPAuthenticationError(535, b"no"))


def test_a_worker_dying_mid_batch_strands_only_the_row_in_flight():
    first, second, third = queued_message(), queued_message(), queued_message()
    deliver = tasks._deliver

    def die_on_the_second(message):
        if message.pk == second.pk:
            raise SystemExit("worker killed")
        deliver(message)

    with mock.patch("notifications.tasks._deliver", die_on_the_second), pytest.raises(SystemExit):
        tasks.messages_send([first.pk, second.pk, third.pk])
    statuses = dict(OutboundMessage.objects.values_list("pk", "status"))
    # The third was never claimed: the sweeper re-queues it instead of giving it up.
    assert [statuses[m.pk] for m in (first, second, third)] == ["sent", "sending", "queued"]
    assert [m.to[0] for m in mail.outbox] == [first.recipient]


def test_rows_sent_in_one_batch_task_go_out_once_each():
    first, second, third = queued_message(), queued_message(), queued_message()
    assert tasks.message_send(second.pk) == "sent"
    assert tasks.messages_send([first.pk, second.pk, third.pk]) == {"sent": 2}
    assert tasks.messages_send([first.pk, second.pk, third.pk]) == {}
    assert len(mail.outbox) == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        m.recipient for m in (first, second, third)
    )


# --- "request received" in batches ---------------------------------------------------------


def submitted(count: int, django_capture_on_commit_callbacks) -> list[OutboundMessage]:
    """`count` people's "request received" rows, each written in its own transaction whose
    on-commit hand-off runs, with the flush task only counted (not run)."""
    messages = []
    for _ in range(count):
        with django_capture_on_commit_callbacks(execute=True):
            referral = ReferralFactory()
            messages += services.referral_created_notify(referral=referral, change="submitted")
    return messages


def test_a_burst_of_request_received_emails_is_one_flush_over_one_connection(
    django_capture_on_commit_callbacks,
):
    with mock.patch("notifications.tasks.outbox_flush.apply_async") as queued:
        messages = submitted(5, django_capture_on_commit_callbacks)
    assert queued.call_count == 1  # the first commit queued it; it had not started since
    with mock.patch("notifications.tasks.get_connection", wraps=tasks.get_connection) as smtp:
        assert tasks.outbox_flush() == {"sent": 5}
    assert smtp.call_count == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.recipient for m in messages)
    assert tasks.outbox_flush() == {}  # idempotent: nothing is sent twice


def test_a_row_written_after_a_flush_started_queues_the_next_one(
    django_capture_on_commit_callbacks,
):
    with mock.patch("notifications.tasks.outbox_flush.apply_async") as queued:
        submitted(1, django_capture_on_commit_callbacks)
        tasks.outbox_flush()
        submitted(1, django_capture_on_commit_callbacks)
    assert queued.call_count == 2
    assert tasks.outbox_flush() == {"sent": 1}


def test_a_flush_that_finds_a_full_batch_queues_another(
    settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_SEND_BATCH = 2
    with mock.patch("notifications.tasks.outbox_flush.apply_async") as queued:
        submitted(3, django_capture_on_commit_callbacks)
        assert tasks.outbox_flush() == {"sent": 2}
        assert queued.call_count == 2
        assert tasks.outbox_flush() == {"sent": 1}
        assert queued.call_count == 2


def test_the_on_call_alert_of_an_urgent_referral_is_not_held_for_a_flush(
    django_capture_on_commit_callbacks,
):
    with (
        mock.patch("notifications.tasks.outbox_flush.apply_async") as flush,
        django_capture_on_commit_callbacks(execute=True),
    ):
        referral = ReferralFactory(status="diverted")
        [alert] = services.referral_created_notify(referral=referral, change="diverted")
    assert flush.call_count == 0
    alert.refresh_from_db()
    assert alert.status == "sent"  # its own task, run at once by the test settings
