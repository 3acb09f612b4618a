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


# Browser fixtures for staff flows: a desktop-sized tab on the shared session browser.


@pytest.fixture
def staff_page(browser, live_server):
    """A fresh browser tab on the live server, in Sydney time, Australian English."""
    context = browser.new_context(
        base_url=live_server.url, locale="en-AU", timezone_id="Australia/Sydney"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
