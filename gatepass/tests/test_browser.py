"""A guard runs the gate in headless Chromium while an administrator watches who is inside."""

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

NEW_DRIVER = """
from gatepass import badges, drivers
from gatepass.models import Driver
driver = drivers.driver_save(Driver(name="Rosa Díaz", licence_number="MX-TEST-1", company="Acme"))
print(badges.token_for(badges.current_badge(driver)))
"""


def test_a_guards_scan_shows_up_live_on_another_sessions_inside_now_page(site, browser):
    from playwright.sync_api import expect

    name = "Rosa Díaz"
    token = site.manage("shell", "--no-imports", "-c", NEW_DRIVER).strip().splitlines()[-1]

    admin = browser.new_context().new_page()
    log_in(admin, site, "admin@flowsuite.demo")
    admin.goto(f"{site}/gatepass/inside/")
    expect(admin.locator("#live-indicator")).to_have_attribute("data-state", "open")
    expect(admin.locator("#inside-rows")).not_to_contain_text(name)

    guard = browser.new_context().new_page()
    log_in(guard, site, "guard@flowsuite.demo")
    guard.goto(f"{site}/gatepass/stations/")
    guard.get_by_role("link", name="Open the scanner").first.click()
    # A USB scanner is a keyboard: it types the QR's text into the focused field, then Enter.
    expect(guard.locator("#scan-input")).to_be_focused()
    guard.keyboard.type(token)
    guard.keyboard.press("Enter")
    panel = guard.locator("#scan-result")
    expect(panel).to_have_class("scan-result pulse is-accepted")
    expect(panel).to_contain_text("Entry recorded")
    expect(panel).to_contain_text(name)

    # No reload on the administrator's side: the live layer brings the driver in.
    expect(admin.locator("#inside-rows")).to_contain_text(name, timeout=10000)

    guard.keyboard.type(token[:-4] + "AAAA")
    guard.keyboard.press("Enter")
    expect(panel).to_have_class("scan-result pulse is-refused")
    expect(panel).to_contain_text("Forged or damaged badge")
