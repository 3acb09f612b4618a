"""A clinician's morning in a real browser: sign in with two factors, accept a proposed session,
mark yesterday's session 1 completed and see session 2 proposed; then their availability,
capacity and feed pages, and the coordinator's new pages. axe-core checks every page shown."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import OutboundMessage
from notifications.services import appointment_notify
from scheduling.models import Appointment
from tests.browser import assert_no_axe_violations
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory
from tests.staff.factories import (
    PASSWORD,
    clinician_user,
    current_code,
    sign_in_verified,
    staff_user,
    totp_device,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
A = Appointment.Status


def slot_at(clinician, hours: float):
    starts_at = (timezone.now() + dt.timedelta(hours=hours)).replace(
        minute=0, second=0, microsecond=0
    )
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


def session(clinician, program, *, hours: float, status: str, name: str) -> Appointment:
    referral = ReferralFactory(
        program=program,
        preferred_name=name,
        status="proposed" if status == A.PROPOSED else "booked",
        contact_method="phone",
    )
    appointment = AppointmentFactory(
        referral=referral, slot=slot_at(clinician, hours), status=status
    )
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    return appointment


def heading(page, text) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(text))
    assert_no_axe_violations(page)


def test_a_clinician_accepts_a_proposal_and_completing_session_one_proposes_the_next(staff_page):
    page = staff_page
    program = ProgramFactory(short_name="DUP", session_limit=3)
    clinician = clinician_user(display_name="Dr Avery", user__username="avery")
    clinician.programs.set([program])
    clinician.districts.set([DistrictFactory()])
    device = totp_device(clinician.user)
    proposal = session(clinician, program, hours=72, status=A.PROPOSED, name="Pat")
    first = session(clinician, program, hours=-20, status=A.ACCEPTED, name="Quinn")
    next_time = slot_at(clinician, 24 * 5)

    page.goto("/clinician/")
    heading(page, "Staff sign-in")
    page.get_by_label("Username").fill("avery")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    heading(page, "Your sign-in code")
    page.get_by_label("Code").fill(current_code(device))
    page.get_by_role("button", name="Sign in").click()
    heading(page, "Your sessions")

    page.get_by_role("row", name=re.compile("Pat")).get_by_role("link").click()
    heading(page, "Session 1 of 3")
    expect(page.get_by_text("Phone call: +61412345678")).to_be_visible()
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Accepted. The person has been sent")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Back to your sessions").click()
    to_mark = page.get_by_role("region", name="To mark as completed or not attended")
    to_mark.get_by_role("row", name=re.compile("Quinn")).get_by_role("link").click()
    heading(page, "Session 1 of 3")
    page.get_by_role("button", name="Mark as completed").click()
    expect(page.get_by_role("status")).to_contain_text("The next session has been proposed")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Back to your sessions").click()
    waiting = page.get_by_role("region", name="Waiting for your answer")
    expect(waiting.get_by_role("row", name=re.compile("Quinn"))).to_contain_text("2 of 3")
    assert_no_axe_violations(page)

    proposal.refresh_from_db()
    assert proposal.status == A.ACCEPTED
    assert OutboundMessage.objects.filter(appointment=proposal, kind="confirmation").exists()
    second = Appointment.objects.get(referral=first.referral, status=A.PROPOSED)
    assert (second.clinician, second.slot, second.session_number) == (clinician, next_time, 2)


def test_the_clinicians_other_pages_and_the_coordinators_new_pages_pass_axe(
    staff_page, live_server
):
    page = staff_page
    clinician = clinician_user(display_name="Dr Avery", user__username="avery2")
    program = ProgramFactory()
    clinician.programs.set([program])
    clinician.districts.set([DistrictFactory()])
    booked = session(clinician, program, hours=72, status=A.ACCEPTED, name="Robin")
    slot_at(clinician, 24 * 5)
    _use_session_of(page, live_server, sign_in_verified(Client(), clinician.user))

    page.goto("/clinician/availability/")
    heading(page, "Your weekly availability")
    page.get_by_label("Weekday").select_option(label="Monday")
    page.get_by_label("From").fill("09:00")
    page.get_by_label("Until").fill("11:00")
    page.get_by_label("Starting on").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Preview the slots").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    assert_no_axe_violations(page)
    for path, title in (
        ("/clinician/leave/", "Your leave"),
        ("/clinician/capacity/", "Your weekly capacity"),
        ("/clinician/feed/", "Your calendar feed"),
    ):
        page.goto(path)
        heading(page, title)
    page.get_by_role("button", name=re.compile("Replace the address")).click()
    expect(page.get_by_role("status")).to_contain_text("old feed address no longer works")
    assert_no_axe_violations(page)

    page.context.clear_cookies()
    _use_session_of(page, live_server, sign_in_verified(Client(), staff_user("coordinator")))
    reference = booked.referral.reference
    page.goto(f"/coordinate/cases/{reference}/sessions/{booked.pk}/reschedule/")
    heading(page, f"Move session 1 of {reference}")
    page.goto("/coordinate/deletion-requests/")
    heading(page, "Deletion requests")


def _use_session_of(page, live_server, client: Client) -> None:
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
