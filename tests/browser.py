"""Helpers for browser tests (the fixtures are in tests/conftest.py and tests/e2e/conftest.py)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_axe = Axe()


def assert_no_axe_violations(page: Page) -> None:
    """Fail, naming each rule, impact and element, if axe-core finds any violation."""
    results = _axe.run(page)
    if results.violations_count:
        pytest.fail(f"axe-core on {page.url}:\n{results.generate_report()}", pytrace=False)
