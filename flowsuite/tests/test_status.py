import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from conftest import client_for


def check_services() -> str:
    from io import StringIO

    out = StringIO()
    call_command("check_services", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_check_services_passes_with_a_running_broker(settings, mosquitto):
    settings.MQTT_URL = mosquitto.url
    lines = check_services().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["database", "ok"],
        ["channel_layer", "ok"],
        ["mqtt", "ok"],
    ]


@pytest.mark.django_db
def test_check_services_fails_with_a_stopped_broker(settings, mosquitto, capsys):
    settings.MQTT_URL = mosquitto.url
    mosquitto.stop()
    with pytest.raises(CommandError) as failure:
        check_services()
    assert failure.value.returncode == 1
    assert "down: mqtt" in str(failure.value)


@pytest.mark.django_db
def test_check_services_without_a_broker_reports_demo_mode(settings):
    settings.MQTT_URL = ""
    assert "not_configured" in check_services()


@pytest.mark.django_db
def test_healthz_is_public_and_reports_each_service(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [c["service"] for c in body["checks"]] == ["database", "channel_layer", "mqtt"]
    assert all(set(c) == {"service", "ok", "state"} for c in body["checks"])  # no hosts, paths


@pytest.mark.django_db
def test_the_home_page_shows_a_broker_that_is_down(settings, viewer, mosquitto):
    settings.MQTT_URL = mosquitto.url
    client = client_for(viewer)
    assert 'data-service="mqtt" data-state="ok"' in client.get(reverse("home")).content.decode()
    mosquitto.stop()
    assert 'data-service="mqtt" data-state="down"' in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_the_home_page_needs_a_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
