"""Browser tests: Debian's chromium, driven by Playwright, against a live test server.

Fixtures and helpers for any browser test in the project:

- ``browser`` (tests/conftest.py): one headless chromium for the whole session, launched from
  Debian's package (never a downloaded browser) with the flags every helper uses.
- ``page``: a fresh phone-sized page (390×844, en-AU, Sydney time) per test, whose relative
  ``page.goto("/refer/")`` addresses go to the live server. Browser tests are transactional
  (the server runs in another thread), so each starts from emptied tables with the reference
  data (programs, districts, facilities) loaded again; create anything else in the test.
- ``assert_no_axe_violations(page)`` (tests/browser.py): runs axe-core on the page as it is now
  and fails with a readable list of every violation. Call it on every state a person can see.

Mark browser tests ``@pytest.mark.browser``. A laptop without chromium skips them; CI fails.

While the browser runs, Playwright's event loop is running in the test thread, so Django gives
the test's ORM calls a connection of their own (Django keys connections by async context). They
work as usual; the fixture closes that connection before the test database is dropped.
"""

import pytest
from playwright.sync_api import Page

from tests.referrals.factories import reference_data_ensure

PHONE_VIEWPORT = {"width": 390, "height": 844}
# Long enough for a loaded CI machine, short enough that a missing element fails quickly.
ACTION_TIMEOUT_MS = 10_000


@pytest.fixture
def page(browser, live_server) -> Page:
    reference_data_ensure()
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        base_url=live_server.url,
        locale="en-AU",
        timezone_id="Australia/Sydney",
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()
