"""The referrer's own page, through the signed link in their emails: what it shows, what it lets
them change, and everything it refuses (expired, altered or someone else's links; GETs that
would change something; requests without a CSRF token)."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import appointment_notify, referral_notify, referrer_uid
from privacy.models import RetentionRecord
from referrals.links import referrer_token
from referrals.models import Referral
from scheduling.models import Appointment
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.staff.factories import sign_in_verified, staff_user

pytestmark = pytest.mark.django_db
A = Appointment.Status
R = Referral.Status
K = OutboundMessage.Kind


def at(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def slot_at(clinician, starts_at):
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


def booked(*, hours: float = 72, program=None, **fields) -> Appointment:
    program = program or ProgramFactory(session_limit=3)
    clinician = ClinicianFactory(
        display_name="Dr Avery", programs=[program], districts=[DistrictFactory()]
    )
    referral = ReferralFactory(program=program, status=R.BOOKED, preferred_name="Sam", **fields)
    appointment = AppointmentFactory(
        referral=referral, slot=slot_at(clinician, at(hours)), status=A.ACCEPTED
    )
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    appointment_notify(appointment_id=appointment.pk, change="accepted")
    return appointment


def page_url(referral, name="my_referral", *args) -> str:
    return reverse(f"referrals:{name}", args=[referrer_token(referral.pk), *args])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Opening the link -----------------------------------------------------------------------


def test_the_link_opens_the_page_with_the_status_in_plain_words_and_the_booked_session(client):
    appointment = booked()
    response = client.get(page_url(appointment.referral))
    assert response.status_code == 200
    body = text(response)
    assert f"Your request {appointment.referral.reference}" in body
    assert "Your session is booked." in body
    assert "Session 1:" in body and "Dr Avery will call you" in body
    assert "You have used 1 of your 3 sessions." in body
    assert "Lifeline" in body  # the crisis lines in the footer


def test_the_link_names_the_referral_and_nothing_about_the_person():
    referral = ReferralFactory(email="sam.jones@hospital.test", family_name="Jones")
    url = page_url(referral)
    for personal in ("sam", "jones", "hospital", referral.reference.lower()):
        assert personal not in url.lower()


def test_an_expired_link_is_refused_with_a_page_offering_a_new_one(client, settings):
    referral = ReferralFactory()
    with time_machine.travel(timezone.now() - dt.timedelta(days=31)):
        url = page_url(referral)
    response = client.get(url)
    assert response.status_code == 410
    assert "This link has expired" in text(response)
    assert reverse("referrals:my_link") in text(response)
    assert referral.reference not in text(response)


def test_an_altered_link_is_refused_with_a_page_offering_a_new_one(client):
    referral = ReferralFactory()
    token = referrer_token(referral.pk)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for url in (
        reverse("referrals:my_referral", args=[tampered]),
        reverse("referrals:my_referral", args=["not-a-token"]),
        reverse("referrals:my_withdraw", args=[tampered]),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "This link does not work" in text(response)
        assert "Send me my link again" in text(response)


def test_a_link_from_another_purpose_does_not_open_the_page(client):
    from django.core import signing

    referral = ReferralFactory()
    other = signing.dumps({"r": referral.pk}, salt="notifications.respond")
    assert client.get(reverse("referrals:my_referral", args=[other])).status_code == 404


def test_a_link_for_one_referral_opens_no_session_of_another(client):
    mine, theirs = booked(), booked()
    token = referrer_token(mine.referral_id)
    for name in ("my_cancel", "my_reschedule", "my_session_ics"):
        url = reverse(f"referrals:{name}", args=[token, theirs.pk])
        assert client.get(url).status_code == 404, name
        if name != "my_session_ics":  # a download only answers GET
            assert client.post(url).status_code == 404, name
    theirs.refresh_from_db()
    assert (theirs.status, theirs.slot_id) == (A.ACCEPTED, theirs.slot_id)
    assert "Dr Avery" not in text(client.get(page_url(ReferralFactory())))


def test_a_get_never_changes_anything(client):
    appointment = booked()
    referral = appointment.referral
    sent = OutboundMessage.objects.count()
    for name, args in (
        ("my_cancel", [appointment.pk]),
        ("my_reschedule", [appointment.pk]),
        ("my_withdraw", []),
        ("my_delete", []),
        ("my_next", []),
    ):
        assert client.get(page_url(referral, name, *args)).status_code in (200, 302)
    referral.refresh_from_db()
    appointment.refresh_from_db()
    assert (referral.status, referral.deletion_requested_at) == (R.BOOKED, None)
    assert appointment.status == A.ACCEPTED
    assert OutboundMessage.objects.count() == sent


def test_changes_need_the_pages_csrf_token():
    appointment = booked()
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(page_url(appointment.referral, "my_cancel", appointment.pk))
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == A.ACCEPTED


# --- Cancelling, moving, the calendar file --------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "uses_session", "says"),
    [
        (72, True, "Cancelling now is not late and does not use up a session."),
        (10, True, "this is a late cancellation and it will use up one of your sessions"),
        (10, False, "this is a late cancellation. It will not use up one of your sessions"),
    ],
)
def test_the_cancel_page_states_the_notice_rule_before_the_person_confirms(
    client, hours, uses_session, says
):
    program = ProgramFactory(
        cancellation_notice_hours=24, late_cancellation_uses_session=uses_session
    )
    appointment = booked(hours=hours, program=program)
    body = text(client.get(page_url(appointment.referral, "my_cancel", appointment.pk)))
    assert "asks for 24 hours' notice" in body
    assert says in body


def test_cancelling_from_the_page_tells_the_clinician_and_the_person(client):
    appointment = booked()
    response = client.post(page_url(appointment.referral, "my_cancel", appointment.pk))
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == A.CANCELLED
    kinds = set(
        OutboundMessage.objects.filter(appointment=appointment).values_list("kind", flat=True)
    )
    assert {K.INVITATION_CANCEL, K.CONFIRMATION_CANCEL} <= kinds
    assert "Your session is cancelled" in text(client.get(response["Location"]))


def test_moving_from_the_page_offers_the_same_clinician_first_then_others(client):
    appointment = booked()
    program = appointment.referral.program
    own = slot_at(appointment.clinician, at(24 * 5))
    other_clinician = ClinicianFactory(
        display_name="Dr Blake", programs=[program], districts=[DistrictFactory()]
    )
    slot_at(other_clinician, at(24 * 4))
    url = page_url(appointment.referral, "my_reschedule", appointment.pk)

    body = text(client.get(url))
    assert body.index("Other times with Dr Avery") < body.index("Times with another clinician")
    assert "with Dr Blake" in body

    response = client.post(url, {"slot": own.pk})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.slot == own
    update = OutboundMessage.objects.get(appointment=appointment, kind=K.INVITATION_UPDATE)
    assert update.ical_uid == appointment.ical_uid


def test_moving_to_a_time_not_offered_is_refused_and_keeps_the_session(client):
    appointment = booked()
    foreign = slot_at(ClinicianFactory(), at(24 * 5))  # not in this program
    response = client.post(
        page_url(appointment.referral, "my_reschedule", appointment.pk), {"slot": foreign.pk}
    )
    assert response.status_code == 400
    assert "That time is no longer offered" in text(response)
    appointment.refresh_from_db()
    assert appointment.slot_id != foreign.pk


def test_the_calendar_file_is_the_persons_own_copy_of_the_session(client):
    appointment = booked()
    response = client.get(page_url(appointment.referral, "my_session_ics", appointment.pk))
    assert response["Content-Type"].startswith("text/calendar")
    ics = response.content.decode()
    assert "METHOD:PUBLISH" in ics and "ORGANIZER" not in ics and "RSVP" not in ics
    assert f"UID:{referrer_uid(appointment)}" in ics
    assert appointment.ical_uid not in ics


# --- The request as a whole -----------------------------------------------------------------


def test_booking_the_next_session_from_the_page_proposes_it_to_the_same_clinician(client):
    appointment = booked(hours=-3)
    Appointment.objects.filter(pk=appointment.pk).update(status=A.COMPLETED)
    later = slot_at(appointment.clinician, at(80))
    body = text(client.get(page_url(appointment.referral)))
    assert "Book my next session" in body

    client.post(page_url(appointment.referral, "my_next"))
    proposed = Appointment.objects.get(referral=appointment.referral, status=A.PROPOSED)
    assert (proposed.slot, proposed.session_number) == (later, 2)


def test_withdrawing_from_the_page_cancels_the_session_and_confirms(client):
    appointment = booked()
    referral = appointment.referral
    assert "cancel your session" in text(client.get(page_url(referral, "my_withdraw")))
    client.post(page_url(referral, "my_withdraw"))
    referral.refresh_from_db()
    assert referral.status == R.WITHDRAWN
    assert OutboundMessage.objects.filter(referral=referral, kind=K.WITHDRAWN).exists()
    assert "You withdrew this request" in text(client.get(page_url(referral)))


def test_a_deletion_request_is_confirmed_by_a_coordinator_and_keeps_the_statistics(client):
    appointment = booked()
    referral = appointment.referral
    client.post(page_url(referral, "my_delete"))
    referral.refresh_from_db()
    assert (referral.status, referral.deletion_requested_at is not None) == (R.WITHDRAWN, True)
    assert Appointment.objects.get(pk=appointment.pk).status == A.CANCELLED

    coordinator = sign_in_verified(Client(), staff_user("coordinator"))
    listing = text(coordinator.get(reverse("coordinate:deletion_requests")))
    confirm_url = reverse("coordinate:deletion_confirm", args=[referral.reference])
    assert confirm_url in listing and referral.family_name not in listing
    coordinator.post(confirm_url)

    referral.refresh_from_db()
    assert (referral.given_name, referral.family_name, referral.email) == ("", "", "")
    assert (referral.status, referral.program_id) == (R.WITHDRAWN, appointment.referral.program_id)
    assert RetentionRecord.objects.get(referral_id=referral.pk).reason == "person_request"
    assert confirm_url not in text(coordinator.get(reverse("coordinate:deletion_requests")))
    after = client.get(page_url(referral))
    assert after.status_code == 410
    assert "Your details have been deleted" in text(after)
    assert "Dr Avery" not in text(after)


def test_a_coordinator_cannot_delete_a_case_nobody_asked_to_delete():
    referral = ReferralFactory(status=R.WITHDRAWN)
    coordinator = sign_in_verified(Client(), staff_user("coordinator"))
    coordinator.post(reverse("coordinate:deletion_confirm", args=[referral.reference]))
    referral.refresh_from_db()
    assert referral.email != ""
    assert not RetentionRecord.objects.exists()


# --- The link in emails, and sending it again -----------------------------------------------


def _link_in(body: str) -> str:
    return re.search(r"http://[^\s\"<>]+/my/[^\s\"<>]+/", body).group(0)


def test_the_submitted_email_and_the_confirmation_carry_a_working_link(client, settings):
    from notifications.tasks import outbox_flush

    appointment = booked()
    referral_notify(referral_id=appointment.referral_id, change="submitted")
    outbox_flush()  # "request received" gets its text when it is sent
    for kind in (K.SUBMITTED, K.CONFIRMATION):
        message = OutboundMessage.objects.get(referral=appointment.referral, kind=kind)
        link = _link_in(message.body_text)
        assert link in message.body_html
        path = link.removeprefix(settings.SITE_URL.rstrip("/"))
        assert client.get(path).status_code == 200
        assert appointment.referral.email not in message.subject


def _ask_for_link(client, email):
    return client.post(reverse("referrals:my_link"), {"email": email})


def test_sending_the_link_again_answers_the_same_for_known_and_unknown_addresses(client, settings):
    known = ReferralFactory(email="known@example.test", status=R.NEW)
    ReferralFactory(email="known@example.test", status=R.CLOSED)
    answers = []
    for email in ("Known@Example.test", "nobody@example.test"):
        response = _ask_for_link(client, email)
        page = client.get(response["Location"])
        answers.append((response.status_code, response["Location"], page.content))
    assert answers[0] == answers[1]

    (sent,) = OutboundMessage.objects.filter(kind=K.REFERRER_LINK)
    assert (sent.referral_id, sent.recipient) == (known.pk, "known@example.test")
    assert "known" not in sent.subject.lower()
    path = _link_in(sent.body_text).removeprefix(settings.SITE_URL.rstrip("/"))
    assert client.get(path).status_code == 200


def test_sending_the_link_again_is_rate_limited_for_any_address(client, settings):
    settings.REFERRER_LINK_REQUESTS_PER_ADDRESS = 2
    ReferralFactory(email="known@example.test", status=R.NEW)
    for email in ("known@example.test", "nobody@example.test"):
        statuses = [_ask_for_link(client, email).status_code for _ in range(3)]
        assert statuses == [302, 302, 429]
    assert OutboundMessage.objects.filter(kind=K.REFERRER_LINK).count() == 2


def test_a_mistyped_address_is_explained_and_kept(client):
    response = _ask_for_link(client, "not an address")
    assert response.status_code == 400
    assert "Enter an email address like name@example.com." in text(response)
    assert 'value="not an address"' in response.content.decode()


def test_the_page_costs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    appointment = booked()
    with django_assert_max_num_queries(12):
        assert client.get(page_url(appointment.referral)).status_code == 200
