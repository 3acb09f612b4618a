"""A person on a phone completes the wizard in chromium, for each program and when urgent.

Every page they see is checked with axe-core. The browser is driven through labels and roles,
as a person (or their screen reader) finds things.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from referrals.models import Referral
from tests.browser import assert_no_axe_violations

pytestmark = pytest.mark.browser


def heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
    assert_no_axe_violations(page)


def group(page: Page, legend: str):
    return page.get_by_role("group", name=legend, exact=True)


def carry_on(page: Page) -> None:
    page.get_by_role("button", name="Continue", exact=True).click()


def choose_service(page: Page, service: str) -> None:
    page.goto("/refer/")
    heading(page, "Choose a service")
    expect(page.get_by_text("If you need help now").first).to_be_visible()
    page.get_by_text("Which service fits me?").click()
    page.get_by_label(service).check()
    carry_on(page)


def accept_notice(page: Page) -> None:
    heading(page, "Before you start")
    expect(page.get_by_role("heading", name="Collection notice")).to_be_visible()
    page.get_by_label("I have read the collection notice and agree to it").check()
    page.get_by_label("I understand this is not a crisis service").check()
    carry_on(page)


def answer_eligibility(page: Page, stage: str = "Resident (PGY2+)") -> None:
    heading(page, "Who the service is for")
    group(page, "Where are you in your career?").get_by_label(stage, exact=True).check()
    page.get_by_label("Which state or territory do you work in?").select_option(
        label="New South Wales"
    )
    page.get_by_label("Which health district or health service employs you").select_option(
        label="Sydney Local Health District"
    )
    carry_on(page)


def fill_about_you(page: Page, *, first_try_empty: bool = False) -> None:
    heading(page, "About you")
    if first_try_empty:
        carry_on(page)
        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("There is a problem")
        expect(summary).to_be_focused()
        assert_no_axe_violations(page)
        summary.get_by_role("link", name="Enter an email address.").click()
        expect(page.get_by_label("Email address")).to_be_focused()
    group(page, "Who needs support?").get_by_label("I do").check()
    page.get_by_label("Given name").fill("Alex")
    page.get_by_label("Family name").fill("Doctor")
    page.get_by_label("Email address").fill("alex.doctor@example.test")
    page.get_by_label("Australian mobile number").fill("0412 345 678")
    group(page, "How should we get in touch first?").get_by_label("Text message").check()
    carry_on(page)


def fill_workplace(page: Page) -> None:
    heading(page, "Your workplace")
    expect(
        page.get_by_text("so we never match you with someone from your own workplace")
    ).to_be_visible()
    # With JavaScript the list narrows at once and the no-script button is hidden.
    expect(page.get_by_role("button", name="Show the hospitals of this district")).to_be_hidden()
    page.get_by_label("Which district, network or health service").select_option(
        label="Western Sydney Local Health District"
    )
    facility = page.get_by_label("Which hospital or site?")
    expect(facility.locator("option", has_text="Westmead Hospital")).to_have_count(1)
    expect(facility.locator("option", has_text="Royal Prince Alfred Hospital")).to_have_count(0)
    facility.select_option(label="Westmead Hospital")
    page.get_by_label("Your specialty").fill("Emergency medicine")
    carry_on(page)


def fill_whats_going_on(page: Page) -> None:
    heading(page, "What's going on")
    page.get_by_label("Burnout").check()
    page.get_by_label("Anything else you would like us to know").fill("Night shifts are hard.")
    carry_on(page)


def answer_safety(page: Page, *, is_safe_now: str = "Yes") -> None:
    heading(page, "Your safety")
    group(page, "Are you safe right now?").get_by_label(is_safe_now, exact=True).check()
    thoughts = group(
        page,
        "Over the last two weeks, how often have you had thoughts that you would be better "
        "off dead, or of hurting yourself?",
    )
    thoughts.get_by_label("Not at all").check()
    group(page, "Have you harmed yourself, or tried to, in the last month?").get_by_label(
        "No", exact=True
    ).check()
    group(page, "Are you worried you might harm someone else?").get_by_label(
        "No", exact=True
    ).check()
    carry_on(page)


def wellbeing_check(page: Page, answer: str | None) -> None:
    heading(page, "How you have been feeling")
    if answer is None:
        page.get_by_role("button", name="Skip these questions").click()
        return
    for number in range(1, 11):
        question = page.get_by_role(
            "group", name=re.compile(rf"^{number}\. In the last four weeks")
        )
        question.get_by_label(answer, exact=True).check()
    carry_on(page)


def fill_preferences(page: Page) -> None:
    heading(page, "Your preferences")
    expect(
        group(page, "Would you like to talk with someone of a particular gender?").get_by_label(
            "No preference"
        )
    ).to_be_checked()
    group(page, "Would you rather talk by phone or by video?").get_by_label("Video").check()
    group(page, "Monday").get_by_label("Evening (5pm–8pm)").check()
    group(page, "Saturday").get_by_label("Morning (8am–12pm)").check()
    carry_on(page)


def send(page: Page) -> str:
    heading(page, "Check your answers")
    expect(page.get_by_text("0412 345 678")).to_be_visible()
    expect(
        page.get_by_text("Monday evening (5pm–8pm), Saturday morning (8am–12pm)")
    ).to_be_visible()
    page.get_by_role("button", name="Send my referral").click()
    heading(page, "Referral sent")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{6}", reference)
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    return reference


def test_a_junior_doctor_refers_themselves_to_dup_coaching_on_a_phone(page):
    choose_service(page, "Delivering Under Pressure coaching")
    accept_notice(page)
    answer_eligibility(page)
    fill_about_you(page, first_try_empty=True)
    fill_workplace(page)
    fill_whats_going_on(page)
    answer_safety(page)
    wellbeing_check(page, None)
    fill_preferences(page)
    reference = send(page)
    expect(page.get_by_text("We look for a coach")).to_be_visible()
    referral = Referral.objects.get(reference=reference)
    # Matching ran as soon as the referral was saved; no coach has times in this test.
    assert (referral.program.code, referral.status, referral.contact_method) == (
        "dup",
        "unmatched",
        "sms",
    )
    assert referral.workplace_facility.name == "Westmead Hospital"


def test_a_registrar_books_the_jmo_support_line_and_changes_an_answer_on_the_way(page):
    choose_service(page, "JMO Support Line")
    accept_notice(page)
    answer_eligibility(page, stage="Medical student")
    panel = page.get_by_role("region", name="Services that fit you")
    expect(panel.get_by_role("button", name="Continue with Drs4Drs counselling")).to_be_visible()
    assert_no_axe_violations(page)
    answer_eligibility(page, stage="Registrar")
    fill_about_you(page)
    fill_workplace(page)
    fill_whats_going_on(page)
    answer_safety(page)
    wellbeing_check(page, None)
    fill_preferences(page)
    heading(page, "Check your answers")
    page.get_by_role("link", name="Change Preferred name (optional)").click()
    heading(page, "About you")
    page.get_by_label("Preferred name (optional)").fill("Al")
    page.get_by_role("button", name="Save and go back to your answers").click()
    heading(page, "Check your answers")
    expect(page.locator(".summary-row", has_text="Preferred name")).to_contain_text("Al")
    reference = send(page)
    expect(page.get_by_text("We look for a senior clinician")).to_be_visible()
    referral = Referral.objects.get(reference=reference)
    assert (referral.program.code, referral.preferred_name) == ("jmo-support-line", "Al")


def test_a_doctor_asks_drs4drs_for_counselling_and_a_high_k10_shows_the_crisis_lines(page):
    choose_service(page, "Drs4Drs counselling")
    accept_notice(page)
    answer_eligibility(page, stage="Other doctor")
    fill_about_you(page)
    fill_workplace(page)
    fill_whats_going_on(page)
    answer_safety(page)
    wellbeing_check(page, "Most of the time")
    fill_preferences(page)
    reference = send(page)
    expect(
        page.get_by_role("heading", name="If things get harder before we reach you")
    ).to_be_visible()
    expect(page.get_by_role("link", name="13 11 14").first).to_be_visible()
    referral = Referral.objects.get(reference=reference)
    assert (referral.priority, referral.triage.k10_score) == ("priority", 40)


def test_an_urgent_answer_ends_the_wizard_on_a_calm_page_with_every_line(page):
    choose_service(page, "Drs4Drs counselling")
    accept_notice(page)
    answer_eligibility(page)
    fill_about_you(page)
    fill_workplace(page)
    fill_whats_going_on(page)
    answer_safety(page, is_safe_now="Not sure")
    heading(page, "Please talk to someone now")
    for number in ["000", "13 11 14", "1800 011 511", "1300 374 377"]:
        lines = page.locator(".crisis-panel .crisis-options")
        expect(lines.get_by_role("link", name=number, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Your Employee Assistance Program")).to_be_visible()
    page.get_by_role("button", name="Yes, ask a counsellor to contact me now").click()
    heading(page, "Please talk to someone now")
    expect(
        page.get_by_role("heading", name="No counsellor is free in the next hour")
    ).to_be_visible()
    referral = Referral.objects.get()
    assert (referral.status, referral.triage.rule_fired) == ("diverted", "urgent.not_safe_now")
    assert referral.wants_urgent_consult
