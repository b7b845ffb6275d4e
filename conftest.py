"""Fixtures every app's tests share: persona users and real services."""

import pytest
from django.test import Client

from accounts import roles, services
from flowsuite.testing import Mosquitto, Redis

PASSWORD = "correct-horse-battery"


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
