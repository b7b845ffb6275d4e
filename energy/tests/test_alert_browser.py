"""A meter's reading crosses its owner's threshold while the owner has the alerts page open in
headless Chromium: the toast, the navbar's count and the alert show up without a reload, and
acknowledging it with a comment takes the count down again."""

import json
import re
import urllib.request

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

NODE_AND_RULE = """
from accounts.models import User
from energy import nodes
from energy.models import AlertRule
owner = User.objects.get(email="viewer@flowsuite.demo")
node, key = nodes.node_create(owner=owner, device_id="esp32-oven", name="Oven", expected_interval=1)
rule = AlertRule(owner=owner, node=node, name="Oven over 1 kW", kind="threshold",
                 magnitude="power", comparison="above", threshold=1000)
rule.full_clean()
rule.save()
print(key)
"""


def post_reading(site, key: str, **values) -> dict:
    request = urllib.request.Request(
        f"{site}/api/energy/ingest/",
        data=json.dumps(values).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_an_alert_opened_by_a_reading_shows_up_live_and_is_acknowledged(site, browser):
    from playwright.sync_api import expect

    key = site.manage("shell", "--no-imports", "-c", NODE_AND_RULE).strip().splitlines()[-1]
    page = browser.new_context().new_page()
    log_in(page, site)
    page.goto(f"{site}/energy/alerts/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "open")
    badge = page.locator("#alert-badge")
    expect(badge).to_be_hidden()
    expect(page.locator("#alert-list")).to_contain_text("None of your rules has fired yet")
    page.evaluate("window.stillTheSamePage = true")

    assert post_reading(site, key, power=2500.0)["accepted"] == 1

    message = "Power of Oven is 2500 W, above 1000 W"
    expect(page.locator("#toasts .toast")).to_contain_text(message, timeout=10000)
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")
    expect(page.locator("#alert-bell")).to_have_attribute("title", "1 open alert")
    card = page.locator(".alert-card", has_text=message)
    expect(card).to_have_attribute("data-status", "open", timeout=10000)
    expect(card).to_contain_text("2,500 W")
    assert page.evaluate("window.stillTheSamePage") is True

    card.get_by_placeholder("Comment (optional)").fill("Left the oven on; turned it off.")
    card.get_by_role("button", name="Acknowledge").click()

    expect(page.locator(".alert-card", has_text=message)).to_have_attribute(
        "data-status", "acknowledged"
    )
    expect(page.locator(".alert-card", has_text=message)).to_contain_text(
        "Left the oven on; turned it off."
    )
    expect(badge).to_be_hidden()
    expect(page.locator(".alert-counts")).to_contain_text(re.compile(r"Acknowledged\s*1"))
