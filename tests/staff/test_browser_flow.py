"""A coordinator's morning in a real browser: sign in with two factors, see a new urgent case
arrive, acknowledge it, and assign a clinician by hand despite a conflict, with a reason."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from referrals.models import Referral, ReferralEvent
from scheduling.models import Appointment
from tests.browser import assert_no_axe_violations
from tests.referrals.factories import DistrictFactory, ReferralFactory
from tests.scheduling.factories import ClinicianFactory, SlotFactory
from tests.staff.factories import PASSWORD, current_code, staff_user, totp_device

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_signs_in_acknowledges_an_urgent_case_and_assigns_a_clinician(
    staff_page, live_server, settings
):
    settings.STAFF_DASHBOARD_POLL_SECONDS = 1
    page = staff_page
    coordinator = staff_user("coordinator", username="casey", first_name="Casey", last_name="Coord")
    device = totp_device(coordinator)
    district = DistrictFactory(code="home-lhd", name="Home Local Health District")
    referral = ReferralFactory(reference="URG001", status="new", workplace_district=district)
    clinician = ClinicianFactory(
        display_name="Dr Nearby", districts=[district], programs=[referral.program]
    )
    starts_at = (timezone.localtime() + dt.timedelta(days=5)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    SlotFactory(clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1))

    page.goto("/coordinate/")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Username").fill("casey")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your sign-in code")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Code").fill(current_code(device))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Coordinator dashboard")).to_be_visible()

    # A referral comes in urgent while the dashboard is open; its count tells the coordinator.
    Referral.objects.filter(pk=referral.pk).update(status="diverted", priority="urgent")
    ReferralEvent.objects.create(
        referral=referral, from_status="new", to_status="diverted", actor_label="system"
    )
    expect(page.get_by_role("status")).to_have_text(re.compile("A new urgent case has arrived"))
    page.reload()
    urgent = page.locator("#queue-urgent")
    expect(urgent.get_by_role("link", name="URG001", exact=True)).to_be_visible()
    assert_no_axe_violations(page)

    urgent.get_by_role("link", name="URG001", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("Case URG001"))).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Your note").fill("Phoned: safe tonight, GP tomorrow, will offer a session.")
    page.get_by_role("button", name="Acknowledge as Casey Coord").click()
    expect(page.get_by_text("Urgent case acknowledged in your name.")).to_be_visible()

    page.get_by_role("link", name="Assign a clinician yourself").click()
    page.get_by_role("combobox", name="Clinician").select_option(label="Dr Nearby")
    page.get_by_role("button", name="Show their times").click()
    expect(
        page.get_by_text("The clinician works in the referrer's district (conflict of interest).")
    ).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("radio", name=re.compile("10:00")).check()
    page.get_by_label("Why you are assigning this yourself").fill(
        "Works at a different hospital in the district; the person agreed by phone."
    )
    page.get_by_role("button", name="Offer this time to Dr Nearby").click()
    expect(
        page.get_by_text("Session offered to Dr Nearby; the invitation is on its way.")
    ).to_be_visible()
    expect(page.get_by_role("cell", name="Proposed", exact=True)).to_be_visible()
    assert_no_axe_violations(page)

    appointment = Appointment.objects.get(referral=referral)
    assert appointment.clinician == clinician
    assert appointment.manual_assignment_reason.startswith("Works at a different hospital")
    referral.refresh_from_db()
    assert referral.urgent_acknowledged_by == coordinator


def test_the_other_staff_pages_have_no_accessibility_violations(staff_page, live_server):
    from django.conf import settings
    from django.test import Client

    from tests.scheduling.factories import AppointmentFactory, AvailabilityRuleFactory
    from tests.staff.factories import sign_in_verified

    coordinator = staff_user("coordinator", username="casey2")
    client = sign_in_verified(Client(), coordinator)
    staff_page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    clinician = ClinicianFactory(display_name="Dr Grid")
    AvailabilityRuleFactory(clinician=clinician)
    appointment = AppointmentFactory(slot=SlotFactory(clinician=clinician), status="accepted")
    monday = appointment.slot.starts_at.date().isoformat()
    pages = [
        "/coordinate/stats/",
        "/coordinate/clinicians/",
        "/coordinate/clinicians/new/",
        f"/coordinate/clinicians/{clinician.pk}/",
        f"/coordinate/clinicians/{clinician.pk}/availability/",
        f"/coordinate/clinicians/{clinician.pk}/leave/",
        f"/coordinate/clinicians/{clinician.pk}/deactivate/",
        f"/staff/clinicians/{clinician.pk}/week/?week={monday}",
        "/staff/backup-codes/",
    ]
    for path in pages:
        staff_page.goto(path)
        expect(staff_page.get_by_role("heading", level=1)).to_be_visible()
        assert_no_axe_violations(staff_page)
    staff_page.get_by_role("button", name="Sign out casey2").click()
    staff_user("clinician", username="newcomer")
    staff_page.goto("/staff/sign-in/")
    staff_page.get_by_label("Username").fill("newcomer")
    staff_page.get_by_label("Password").fill(PASSWORD)
    staff_page.get_by_role("button", name="Continue").click()
    expect(staff_page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    assert_no_axe_violations(staff_page)


def test_the_accessibility_check_does_report_a_violation(staff_page):
    staff_page.set_content('<html lang="en"><body><main><img src="x.png"></main></body></html>')
    with pytest.raises(pytest.fail.Exception, match="image-alt"):
        assert_no_axe_violations(staff_page)
