"""The Content Security Policy as a browser enforces it: pages work, injected code does not."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    page.violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and page.violations.append(message.text)
        ),
    )
    yield page
    context.close()


def test_the_home_page_renders_styled_with_no_policy_violation(page, live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("heading", name="Confidential support for doctors").wait_for()
    header_colour = page.locator(".site-header").evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )
    assert header_colour == "rgb(11, 93, 122)"  # from static/css/site.css
    assert page.violations == []


def test_code_injected_into_a_page_is_blocked_and_reported(page, live_server):
    page.goto(live_server.url + "/")
    is_csp_report = lambda message: "Content Security Policy" in message.text  # noqa: E731
    with page.expect_console_message(is_csp_report, timeout=5000) as report:
        page.evaluate(
            """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            const style = document.createElement("style");
            style.textContent = "body { background: red }";
            document.head.appendChild(style);
        }"""
        )
    assert "inline script" in report.value.text
    assert page.evaluate("() => window.injected === undefined")
    assert (
        page.evaluate("() => getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
    )
