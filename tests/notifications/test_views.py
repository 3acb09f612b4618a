import base64
import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from notifications import services
from notifications.models import InboundMessage, OutboundMessage
from scheduling.models import Appointment
from tests.notifications import replies
from tests.notifications.factories import proposed_appointment

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"
CONTENT_TYPES = ["message/rfc822", "application/octet-stream", "text/plain"]


def invited():
    appointment = proposed_appointment()
    services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    return appointment


def accept_reply(appointment) -> bytes:
    text = replies.reply_text(
        uid=appointment.ical_uid, attendee=f"mailto:{appointment.clinician.calendar_email}"
    )
    return replies.google_reply(text, appointment.clinician.calendar_email)


# --- the inbound endpoint ------------------------------------------------------------------


@pytest.fixture
def inbound_secret(settings):
    settings.INBOUND_MAIL_SECRET = SECRET


def test_the_inbound_door_is_closed_without_a_configured_secret(client):
    response = client.post(reverse("notifications:inbound"), b"x", content_type="message/rfc822")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_X_INBOUND_SECRET": SECRET[:-1]}],
)
def test_the_inbound_door_refuses_a_wrong_or_missing_secret(client, inbound_secret, headers):
    appointment = invited()
    response = client.post(
        reverse("notifications:inbound"),
        accept_reply(appointment),
        content_type="message/rfc822",
        **headers,
    )
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_raw_reply_posted_with_the_secret_accepts_the_session(
    client, inbound_secret, django_capture_on_commit_callbacks
):
    appointment = invited()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("notifications:inbound"),
            accept_reply(appointment),
            content_type="message/rfc822",
            HTTP_AUTHORIZATION=f"Bearer {SECRET}",
        )
    assert response.status_code == 200
    assert response.json() == {"stored": True}
    appointment.refresh_from_db()
    assert appointment.status == "accepted"
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1


def test_the_door_answers_once_the_message_is_kept_and_the_worker_applies_it(
    client, inbound_secret
):
    from notifications.tasks import inbound_apply

    appointment = invited()
    response = client.post(
        reverse("notifications:inbound"),
        accept_reply(appointment),
        content_type="message/rfc822",
        HTTP_X_INBOUND_SECRET=SECRET,
    )
    assert response.json() == {"stored": True}
    appointment.refresh_from_db()
    assert appointment.status == "proposed"  # the worker's task has not run
    assert inbound_apply() == 1
    appointment.refresh_from_db()
    assert appointment.status == "accepted"
    assert inbound_apply() == 0  # applied once


def test_a_reply_kept_while_the_broker_is_down_is_applied_by_the_periodic_run(
    client, inbound_secret, django_capture_on_commit_callbacks, settings
):
    from unittest import mock

    from notifications.tasks import inbound_apply

    appointment = invited()
    with (
        mock.patch(
            "notifications.tasks.inbound_apply.apply_async", side_effect=OSError("no broker")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("notifications:inbound"),
            accept_reply(appointment),
            content_type="message/rfc822",
            HTTP_X_INBOUND_SECRET=SECRET,
        )
    assert response.status_code == 200
    assert response.json() == {"stored": True}
    appointment.refresh_from_db()
    assert appointment.status == "proposed"
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "notifications.tasks.inbound_apply" in schedule
    assert inbound_apply() == 1
    appointment.refresh_from_db()
    assert appointment.status == "accepted"


def test_the_same_message_posted_twice_is_kept_once(
    client, inbound_secret, django_capture_on_commit_callbacks
):
    reply = accept_reply(invited())
    answers = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(
                client.post(
                    reverse("notifications:inbound"),
                    reply,
                    content_type="message/rfc822",
                    HTTP_X_INBOUND_SECRET=SECRET,
                ).json()
            )
    assert answers == [{"stored": True}, {"stored": False, "problem": "already received"}]
    assert InboundMessage.objects.count() == 1
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1


def test_a_form_post_with_basic_auth_is_understood(
    client, inbound_secret, django_capture_on_commit_callbacks
):
    appointment = invited()
    credentials = base64.b64encode(f"mailer:{SECRET}".encode()).decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("notifications:inbound"),
            {"email": accept_reply(appointment).decode()},
            HTTP_AUTHORIZATION=f"Basic {credentials}",
        )
    assert response.status_code == 200
    assert response.json() == {"stored": True}
    appointment.refresh_from_db()
    assert appointment.status == "accepted"


def test_an_oversized_message_is_refused_before_it_is_read(client, inbound_secret, settings):
    settings.INBOUND_MAIL_MAX_BYTES = 1000
    response = client.post(
        reverse("notifications:inbound"),
        b"x" * 2000,
        content_type="message/rfc822",
        HTTP_X_INBOUND_SECRET=SECRET,
    )
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"", b"\x00\x01garbage", b"Subject: x\r\n\r\nhello"])
def test_garbage_gets_a_clear_answer_never_a_server_error(client, inbound_secret, body):
    response = client.post(
        reverse("notifications:inbound"),
        body,
        content_type="message/rfc822",
        HTTP_X_INBOUND_SECRET=SECRET,
    )
    assert response.status_code in (200, 400)


def test_the_inbound_door_only_takes_posts(client, inbound_secret):
    assert client.get(reverse("notifications:inbound")).status_code == 405


# --- signed Accept/Decline links ------------------------------------------------------------


def links_for(appointment):
    return services.response_links(appointment, sequence=appointment.ical_sequence)


def test_opening_a_link_only_shows_a_confirmation_page(client):
    appointment = invited()
    response = client.get(links_for(appointment)["accept"])
    assert response.status_code == 200
    assert b"Accept this session" in response.content
    assert appointment.referral.family_name.encode() not in response.content
    appointment.refresh_from_db()
    assert appointment.status == "proposed"


def test_the_post_from_the_page_accepts_once_and_a_replay_is_harmless(client):
    appointment = invited()
    url = links_for(appointment)["accept"]
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "accepted"
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 1
    assert b"accepted" in client.get(url).content.lower()


def test_the_decline_link_releases_the_session(client):
    appointment = invited()
    client.post(links_for(appointment)["decline"])
    appointment.refresh_from_db()
    appointment.referral.refresh_from_db()
    assert (appointment.status, appointment.referral.status) == ("declined", "new")


def test_a_link_from_an_older_version_of_the_invitation_does_nothing(client):
    appointment = invited()
    url = links_for(appointment)["accept"]
    services.appointment_notify(appointment_id=appointment.pk, change="rescheduled")
    client.post(url)
    appointment.refresh_from_db()
    assert appointment.status == "proposed"
    assert b"has changed" in client.get(url).content


def test_a_tampered_or_expired_link_is_refused(client, settings):
    appointment = invited()
    url = links_for(appointment)["accept"]
    assert client.get(url[:-3] + "abc/").status_code == 400
    later = timezone.now() + dt.timedelta(days=settings.RESPONSE_LINK_MAX_AGE_DAYS + 1)
    with time_machine.travel(later):
        assert client.post(url).status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == "proposed"


def test_a_token_signed_for_another_purpose_is_refused(client):
    from django.core import signing

    appointment = invited()
    token = signing.dumps({"a": appointment.pk, "r": "accepted", "s": 0}, salt="elsewhere")
    response = client.post(reverse("notifications:respond", args=[token]))
    assert response.status_code == 400


# --- feeds ---------------------------------------------------------------------------------


def test_a_clinicians_feed_lists_their_sessions_and_can_be_revoked(client):
    appointment = proposed_appointment(status="accepted")
    other = proposed_appointment(status="accepted")
    clinician = appointment.clinician
    url = reverse("notifications:feed", args=[clinician.feed_token])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert "METHOD:PUBLISH" in body and body.count("BEGIN:VEVENT") == 1
    assert other.referral.reference not in body
    assert services.feed_urls(clinician)["webcal"].startswith("webcal://")
    services.feed_token_rotate(clinician_id=clinician.pk)
    assert client.get(url).status_code == 404


def test_an_unknown_feed_token_is_not_found(client):
    assert client.get(reverse("notifications:feed", args=["nope"])).status_code == 404


# --- the MTA pipe ----------------------------------------------------------------------------


def test_the_pipe_command_reads_one_message_from_stdin(
    monkeypatch, django_capture_on_commit_callbacks
):
    appointment = invited()
    stdin = io.TextIOWrapper(io.BytesIO(accept_reply(appointment)))
    monkeypatch.setattr("sys.stdin", stdin)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("receive_reply", stdout=out)
    assert out.getvalue().strip() == '{"stored": true}'
    appointment.refresh_from_db()
    assert appointment.status == "accepted"
    assert InboundMessage.objects.get().source == "pipe"


def test_the_feed_address_command_prints_webcal_and_can_revoke(client):
    appointment = proposed_appointment(status="accepted")
    old = appointment.clinician.feed_token
    out = io.StringIO()
    call_command("calendar_feed_url", str(appointment.clinician.pk), "--rotate", stdout=out)
    appointment.clinician.refresh_from_db()
    assert appointment.clinician.feed_token != old
    assert f"webcal://127.0.0.1:8000/calendar/feed/{appointment.clinician.feed_token}.ics" in (
        out.getvalue()
    )


def test_a_plus_tagged_or_google_organizer_mailbox_is_flagged(settings):
    from notifications.checks import organizer_mailbox_check

    settings.CALENDAR_ORGANIZER_EMAIL = "bookings+calendar@gmail.com"
    assert [w.id for w in organizer_mailbox_check(None)] == [
        "notifications.W001",
        "notifications.W002",
    ]
    settings.CALENDAR_ORGANIZER_EMAIL = "calendar@soundingboard.test"
    assert organizer_mailbox_check(None) == []


# --- the IMAP poller, with the mailbox faked at the edge (the real one is in test_end_to_end) --


class FakeMailbox:
    """imap-tools' mailbox as the poller uses it, with imaplib's answer to a UID FETCH."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.inbox = dict(messages)
        self.moved: list[str] = []
        self.created: list[str] = []
        self.folder = self
        self.client = self

    def login(self, user, password, initial_folder):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def exists(self, name):
        return name in self.created

    def create(self, name):
        self.created.append(name)

    def uids(self, criteria):
        return list(self.inbox)

    def uid(self, command, uid_set, parts):
        assert command == "FETCH" and "BODY.PEEK[]" in parts  # leaves the messages unseen
        data = []
        for number, uid in enumerate(uid_set.split(","), start=1):
            raw, size = self.inbox[uid], len(self.inbox[uid])
            if number % 2:
                data += [(f"{number} (UID {uid} BODY[] {{{size}}}".encode(), raw), b")"]
            else:  # some servers answer with the UID after the body
                data += [(f"{number} (BODY[] {{{size}}}".encode(), raw), f" UID {uid})".encode()]
        return "OK", data

    def move(self, uids, folder):
        self.moved.extend(uids)


def test_the_poller_ingests_each_message_and_moves_it_to_the_processed_folder(settings):
    from unittest import mock

    from notifications.tasks import imap_poll

    settings.IMAP_HOST = "127.0.0.1"
    appointment = invited()
    reply = accept_reply(appointment)
    fake = FakeMailbox({"7": reply, "8": b"Subject: hi\r\n\r\nnot a reply"})
    with mock.patch("notifications.inbound._mailbox", return_value=fake):
        assert imap_poll() == 2
    assert fake.moved == ["7", "8"] and fake.created == ["Processed"]
    appointment.refresh_from_db()
    assert appointment.status == "accepted"
    assert InboundMessage.objects.filter(source="imap").count() == 2
    assert reply in {bytes(m.raw) for m in InboundMessage.objects.all()}  # as the mailbox held it


def test_a_message_that_cannot_be_stored_holds_up_only_itself(settings):
    from unittest import mock

    from notifications import inbound
    from notifications.tasks import imap_poll

    settings.IMAP_HOST = "127.0.0.1"
    appointment = invited()
    poison = b"Subject: poison\r\n\r\nstoring this fails"
    fake = FakeMailbox({"7": poison, "8": accept_reply(appointment)})
    receive = inbound.messages_receive

    def failing_on_poison(raws, *, source):
        if poison in raws:
            raise RuntimeError("the database refused it")
        return receive(raws, source=source)

    with (
        mock.patch("notifications.inbound._mailbox", return_value=fake),
        mock.patch("notifications.inbound.messages_receive", side_effect=failing_on_poison),
    ):
        assert imap_poll() == 1
    assert fake.moved == ["8"]  # the poison message stays in the inbox for the next poll
    appointment.refresh_from_db()
    assert appointment.status == "accepted"


def test_the_poller_does_nothing_without_a_configured_mailbox():
    from notifications.tasks import imap_poll

    assert imap_poll() == 0


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES))
def test_no_body_makes_the_inbound_door_fail_or_change_a_session(
    client, inbound_secret, body, content_type
):
    from notifications.tasks import inbound_apply

    appointment = Appointment.objects.first() or invited()
    response = client.post(
        reverse("notifications:inbound"),
        body,
        content_type=content_type,
        HTTP_X_INBOUND_SECRET=SECRET,
    )
    assert response.status_code in (200, 400, 413)
    inbound_apply()
    appointment.refresh_from_db()
    assert appointment.status == "proposed"


def test_a_broken_form_post_gets_a_clear_answer(client, inbound_secret):
    response = client.generic(
        "POST",
        reverse("notifications:inbound"),
        b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nunterminated',
        content_type="multipart/form-data",  # no boundary: the form cannot be parsed
        HTTP_X_INBOUND_SECRET=SECRET,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "the form could not be read"}
