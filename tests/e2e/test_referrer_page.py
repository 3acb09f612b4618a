"""A referrer on a phone opens the link from their email, moves their session, then cancels it;
and someone whose link has expired asks for a new one. Every page they see is checked with
axe-core, and what the clinician's calendar receives is checked in the outbox."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from notifications.emails import format_when
from notifications.models import OutboundMessage
from notifications.services import appointment_notify
from referrals.links import referrer_token
from referrals.models import Referral
from scheduling.models import Appointment
from tests.browser import assert_no_axe_violations
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory

pytestmark = pytest.mark.browser
A = Appointment.Status
K = OutboundMessage.Kind


def heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
    assert_no_axe_violations(page)


def slot_at(clinician, days: int, hour: int):
    local = timezone.localtime() + dt.timedelta(days=days)
    starts_at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


def test_a_referrer_on_a_phone_moves_their_session_and_then_cancels_it(page: Page):
    program = ProgramFactory(
        short_name="DUP", session_limit=3, cancellation_notice_hours=24, min_notice_hours=24
    )
    clinician = ClinicianFactory(
        display_name="Dr Avery", programs=[program], districts=[DistrictFactory()]
    )
    referral = ReferralFactory(program=program, status="booked", preferred_name="Sam")
    appointment = AppointmentFactory(
        referral=referral, slot=slot_at(clinician, 4, 10), status=A.ACCEPTED
    )
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    appointment_notify(appointment_id=appointment.pk, change="accepted")
    new_slot = slot_at(clinician, 6, 14)
    new_time = format_when(new_slot.starts_at, referral.time_zone)

    page.goto(reverse("referrals:my_referral", args=[referrer_token(referral.pk)]))
    heading(page, f"Your request {referral.reference}")
    expect(page.get_by_text("Your session is booked.")).to_be_visible()

    page.get_by_role("link", name="Change the time of session 1").click()
    heading(page, "Change the time of your session")
    page.get_by_role("group", name="Other times with Dr Avery").get_by_label(new_time).check()
    page.get_by_role("button", name="Move my session").click()
    heading(page, f"Your request {referral.reference}")
    expect(page.get_by_role("status")).to_contain_text("Your session has moved")
    expect(page.get_by_role("heading", name=re.compile(re.escape(new_time)))).to_be_visible()

    page.get_by_role("link", name="Cancel session 1").click()
    heading(page, "Cancel your session?")
    expect(page.get_by_text("asks for 24 hours' notice")).to_be_visible()
    expect(page.get_by_text("Cancelling now is not late")).to_be_visible()
    page.get_by_role("button", name="Cancel this session").click()
    heading(page, f"Your request {referral.reference}")
    expect(page.get_by_role("status")).to_contain_text("Your session is cancelled")
    expect(page.get_by_role("button", name="Book my next session")).to_be_visible()

    appointment.refresh_from_db()
    assert (appointment.slot, appointment.status) == (new_slot, A.CANCELLED)
    sent = OutboundMessage.objects.filter(
        appointment=appointment, recipient=clinician.calendar_email
    )
    assert [(m.kind, m.ical_method, m.ical_uid, m.ical_sequence) for m in sent.order_by("pk")] == [
        (K.INVITATION, "REQUEST", appointment.ical_uid, 0),
        (K.INVITATION_UPDATE, "REQUEST", appointment.ical_uid, 1),
        (K.INVITATION_CANCEL, "CANCEL", appointment.ical_uid, 2),
    ]
    assert Referral.objects.get(pk=referral.pk).status == "held"


def test_someone_whose_link_expired_asks_for_a_new_one(page: Page, settings):
    settings.REFERRER_LINK_MAX_AGE_DAYS = 0
    referral = ReferralFactory(email="sam@example.test", status="new")
    page.goto(reverse("referrals:my_referral", args=[referrer_token(referral.pk)]))
    heading(page, "This link has expired")
    page.get_by_label("Your email address").fill("sam@example.test")
    page.get_by_role("button", name="Send me my link").click()
    heading(page, "Check your email")
    assert OutboundMessage.objects.filter(referral=referral, kind=K.REFERRER_LINK).count() == 1
