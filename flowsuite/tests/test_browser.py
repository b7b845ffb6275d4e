"""End to end in headless Chromium (Debian's) against daphne: log in, switch the theme, and
watch the home page follow a broker going down, live."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from flowsuite.testing import free_port, wait_for_port

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def site(tmp_path, mosquitto):
    """daphne serving FlowSuite with demo users, a fresh SQLite database and a real broker."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        VAR_DIR=str(tmp_path),
        MQTT_URL=mosquitto.url,
        SYSTEM_STATUS_INTERVAL="0.5",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )

    def manage(*args):
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    manage("migrate", "--no-input")
    manage("seed_demo", "--force")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "flowsuite.asgi:application",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def log_in(page, site, email="viewer@flowsuite.demo"):
    page.goto(f"{site}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", settings.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/")


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
