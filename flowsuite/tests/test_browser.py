"""End to end in headless Chromium (Debian's) against daphne: log in, switch the theme, and
watch the home page follow a broker going down, live."""

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser


def test_log_in_switch_theme_and_see_the_broker_go_down_live(site, browser, mosquitto):
    from playwright.sync_api import expect

    page = browser.new_page(color_scheme="light")
    log_in(page, site)
    html = page.locator("html")
    expect(page.locator("h1")).to_contain_text("Hello, Viewer (demo)")
    expect(html).to_have_attribute("data-bs-theme", "light")  # follows the system

    # auto -> light -> dark; the choice is kept on the user, so a new page load has it.
    page.click("#theme-toggle")
    page.click("#theme-toggle")
    expect(html).to_have_attribute("data-bs-theme", "dark")
    page.wait_for_load_state("networkidle")
    page.reload()
    expect(html).to_have_attribute("data-theme-choice", "dark")
    expect(html).to_have_attribute("data-bs-theme", "dark")

    mqtt_card = page.locator('.status-card[data-service="mqtt"]')
    expect(mqtt_card).to_have_attribute("data-state", "ok")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "open")

    mosquitto.stop()
    # No reload: the status monitor pushes the change through the websocket.
    expect(mqtt_card).to_have_attribute("data-state", "down", timeout=15000)
    expect(mqtt_card.locator("[data-state-badge]")).to_have_text("Down")
    expect(page.locator("[data-summary-badge]")).to_have_text("Some services are down")


def test_anonymous_visitors_are_sent_to_log_in(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/")
    assert page.url.startswith(f"{site}/accounts/login/")
    assert page.locator("input[name=username]").is_visible()
