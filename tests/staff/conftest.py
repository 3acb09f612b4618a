"""Fixtures for the staff workspace: people in each role, signed in with both factors."""

import pytest
from django.test import Client

from tests.staff.factories import clinician_user, sign_in_verified, staff_user


@pytest.fixture
def coordinator(db):
    return staff_user("coordinator", username="casey", first_name="Casey", last_name="Coord")


@pytest.fixture
def coordinator_client(coordinator) -> Client:
    return sign_in_verified(Client(), coordinator)


@pytest.fixture
def clinician_a(db):
    return clinician_user(display_name="Dr Avery")


@pytest.fixture
def clinician_b(db):
    return clinician_user(display_name="Dr Blake")


# Browser fixtures for staff flows (named staff_* so they never collide with tests/e2e ones).

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def staff_browser(chromium_path):
    """Debian's chromium through Playwright, once per test session."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's guard against async use must step aside.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def staff_page(staff_browser, live_server):
    """A fresh browser tab on the live server, in Sydney time, Australian English."""
    context = staff_browser.new_context(
        base_url=live_server.url, locale="en-AU", timezone_id="Australia/Sydney"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def assert_accessible():
    """Run axe-core on the page as it is now and fail with its report if it finds anything."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page) -> None:
        results = axe.run(page)
        assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"

    return check
