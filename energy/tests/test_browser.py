"""A meter posts readings to the ingest API while its owner watches the node's dashboard in
headless Chromium: the figures change without a reload."""

import json
import re
import time
import urllib.request

import pytest

from conftest import log_in

pytestmark = pytest.mark.browser

NEW_NODE = """
from accounts.models import User
from energy import nodes
owner = User.objects.get(email="viewer@flowsuite.demo")
node, key = nodes.node_create(owner=owner, device_id="esp32-live", name="Live", expected_interval=1)
print(node.pk, key)
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


def test_a_reading_sent_to_the_ingest_api_shows_up_live_on_the_node_dashboard(site, browser):
    from playwright.sync_api import expect

    pk, key = site.manage("shell", "--no-imports", "-c", NEW_NODE).strip().splitlines()[-1].split()
    page = browser.new_context().new_page()
    log_in(page, site)
    page.goto(f"{site}/energy/nodes/{pk}/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "open")
    expect(page.locator("#chart-power + [data-note]")).to_have_text("No data in this range.")
    power = page.locator("#current-power")
    expect(power).to_have_text("—")
    expect(page.locator("#node-status")).to_contain_text("Never reported")
    page.evaluate("window.stillTheSamePage = true")

    assert post_reading(site, key, power=1234.5, voltage=231.2)["accepted"] == 1

    expect(power).to_have_text(re.compile(r"^1\.23\s*kW$"), timeout=10000)
    expect(page.locator("#current-voltage")).to_have_text(re.compile(r"^231\.2\s*V$"))
    expect(page.locator("#node-status")).to_contain_text("Online", timeout=10000)

    time.sleep(1.1)  # a node's live events go out at most once a second
    assert post_reading(site, key, power=80.0)["accepted"] == 1

    expect(power).to_have_text(re.compile(r"^80\s*W$"), timeout=10000)
    expect(page.locator("#max-power")).to_have_text(re.compile(r"^1\.23\s*kW$"))
    expect(page.locator("#min-power")).to_have_text(re.compile(r"^80\s*W$"))
    expect(page.locator("#chart-power + [data-note]")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage") is True
