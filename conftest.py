"""Fixtures every app's tests share: persona users, real services, a served site and a
browser."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts import roles, services
from flowsuite.testing import Mosquitto, Redis, daphne_command, free_port, wait_for_port

PASSWORD = "correct-horse-battery"


def pytest_sessionfinish(session):
    """Remove the SQLite test database's WAL files, which Django's teardown leaves behind."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and database.get("TEST", {}).get("NAME"):
        for suffix in ("-wal", "-shm"):
            Path(database["TEST"]["NAME"] + suffix).unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rolled-back databases reuse primary keys."""
    from django.core.cache import cache

    from energy import live, rules

    cache.clear()
    rules.forget_rules()
    live.forget_throttle()
    yield


def make_user(email: str, role: str = roles.VIEWER, **fields):
    return services.user_create(email=email, password=PASSWORD, role=role, **fields)


# Persona users: an admin, an operator, a guard, a viewer, and an outsider (a viewer who owns
# nothing), reused across apps.
@pytest.fixture
def admin_user(db):
    return make_user("ada@example.com", roles.ADMIN, display_name="Ada Admin")


@pytest.fixture
def operator(db):
    return make_user("olga@example.com", roles.OPERATOR, display_name="Olga Operator")


@pytest.fixture
def guard(db):
    return make_user("gus@example.com", roles.GUARD, display_name="Gus Guard")


@pytest.fixture
def viewer(db):
    return make_user("vera@example.com", roles.VIEWER, display_name="Vera Viewer")


@pytest.fixture
def outsider(db):
    return make_user("otto@example.com", roles.VIEWER, display_name="Otto Outsider")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def session_cookie(user) -> bytes:
    """The Cookie header of a browser logged in as `user`."""
    return f"sessionid={client_for(user).cookies['sessionid'].value}".encode()


async def new_user_cookie(email: str, role: str = roles.VIEWER) -> bytes:
    """session_cookie() of a new user, from an async test."""
    from channels.db import database_sync_to_async

    return await database_sync_to_async(lambda: session_cookie(make_user(email, role)))()


async def open_live_page(cookie: bytes, *groups: str):
    """A page's websocket on the live layer, subscribed to `groups`: (page, the reply)."""
    from channels.testing import WebsocketCommunicator

    from flowsuite.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    page = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    assert (await page.connect())[0]
    await page.send_json_to({"action": "subscribe", "groups": list(groups)})
    return page, await page.receive_json_from(timeout=5)


def _new_channel_layers() -> None:
    from channels.layers import channel_layers

    channel_layers.backends.clear()


MEMORY_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def memory_layer(settings):
    """The in-memory channel layer, new for this test."""
    settings.CHANNEL_LAYERS = MEMORY_LAYERS
    _new_channel_layers()
    yield
    _new_channel_layers()


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request, settings):
    """The test runs twice: on the in-memory channel layer and on a real Redis."""
    from flowsuite.testing import redis_channel_layers

    if request.param == "redis":
        settings.CHANNEL_LAYERS = redis_channel_layers(request.getfixturevalue("redis_server").url)
    else:
        settings.CHANNEL_LAYERS = MEMORY_LAYERS
    _new_channel_layers()
    yield request.param
    _new_channel_layers()


def bearer_client(raw_key: str):
    """An API client sending a personal token or a device key."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def mosquitto():
    """A real Mosquitto broker of this test's own; `mosquitto.stop()` takes it away."""
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture(scope="session")
def redis_server():
    server = Redis().start()
    yield server
    server.cleanup()


# --- Browser tests (run in their own pytest process: make test does) -------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Site(str):
    """The served site's base URL, with `manage(*args)` to run commands against its data."""

    def __new__(cls, url, manage):
        site = super().__new__(cls, url)
        site.manage = manage
        return site


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

    def manage(*args) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    manage("migrate", "--no-input")
    manage("seed_demo", "--force")
    port = free_port()
    server = subprocess.Popen(
        daphne_command(port),
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=30)
    yield Site(f"http://127.0.0.1:{port}", manage)
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
