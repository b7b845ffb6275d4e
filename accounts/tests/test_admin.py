import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import DeviceKey
from conftest import client_for


@pytest.mark.django_db
def test_a_device_key_added_in_the_admin_is_shown_once_and_works(operator):
    client = client_for(operator)
    response = client.post(
        reverse("admin:accounts_devicekey_add"),
        {"name": "pi-gate-1", "description": "north gate", "owner": operator.pk},
    )
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    [raw_key] = [m.rsplit(" ", 1)[-1] for m in messages if "not be shown again" in m]
    assert raw_key.startswith("fsd_")

    device = APIClient()
    device.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert device.get("/api/device/whoami/").json()["name"] == "pi-gate-1"
    changelist = reverse("admin:accounts_devicekey_changelist")
    assert raw_key in client.get(changelist).content.decode()  # the message, shown once
    listing = client.get(changelist).content.decode()
    assert "pi-gate-1" in listing and raw_key not in listing


@pytest.mark.django_db
def test_the_admin_revokes_keys_in_bulk(admin_user, operator):
    from accounts import services

    keys = [services.device_key_create(owner=operator, name=f"cam-{n}")[0] for n in range(2)]
    client_for(admin_user).post(
        reverse("admin:accounts_devicekey_changelist"),
        {"action": "revoke", "_selected_action": [k.pk for k in keys]},
    )
    assert DeviceKey.objects.active().count() == 0
