"""The energy admin: every list and form opens, and a node added there gets its key."""

import pytest
from django.contrib.messages import get_messages

from conftest import client_for
from energy import demo
from energy.models import Node

pytestmark = pytest.mark.django_db

MODELS = [
    "node",
    "pendingdevice",
    "alertrule",
    "alert",
    "automation",
    "recommendation",
    "energyprofile",
]


def test_every_energy_admin_page_opens_with_demo_data(admin_user):
    from conftest import make_user

    make_user("operator@flowsuite.demo")
    demo.seed(lambda line: None)
    client = client_for(admin_user)
    for model in MODELS:
        assert client.get(f"/admin/energy/{model}/").status_code == 200, model
        first = client.get(f"/admin/energy/{model}/add/")
        assert first.status_code in (200, 403), model
    node = Node.objects.first()
    assert client.get(f"/admin/energy/node/{node.pk}/change/").status_code == 200


def test_a_node_added_in_the_admin_gets_a_device_key_shown_once(admin_user):
    answer = client_for(admin_user).post(
        "/admin/energy/node/add/",
        {
            "owner": admin_user.pk,
            "device_id": "esp32-adm",
            "name": "Boiler",
            "expected_interval": 30,
        },
        follow=True,
    )
    assert answer.status_code == 200
    node = Node.objects.get(device_id="esp32-adm")
    assert node.device_key is not None
    shown = [str(m) for m in get_messages(answer.wsgi_request)] or [answer.content.decode()]
    assert any("fsd_" in text for text in shown)
