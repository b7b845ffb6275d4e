"""The energy API: nodes, device-key ingest, readings, consumption, KPIs — and who sees what."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import api_token_create, device_key_create
from conftest import bearer_client, client_for, make_user
from energy import nodes
from energy.api import MAX_BATCH
from energy.models import Node, PendingDevice, Reading

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


@pytest.fixture
def alice():
    return make_user("alice@example.com")


@pytest.fixture
def bob():
    return make_user("bob@example.com")


def node_of(owner, device_id):
    return nodes.node_create(owner=owner, device_id=device_id, name=device_id.title())


def ago(**delta):
    return (timezone.now() - timedelta(**delta)).isoformat()


def test_a_node_created_by_api_returns_its_key_once_and_the_key_ingests(alice):
    client = client_for(alice)
    answer = client.post(
        "/api/energy/nodes/",
        {"device_id": "esp32-kitchen", "name": "Kitchen", "expected_interval": 10},
        content_type="application/json",
    )
    assert answer.status_code == 201
    key = answer.json()["device_key"]
    assert key.startswith("fsd_")
    assert "device_key" not in client.get(f"/api/energy/nodes/{answer.json()['id']}/").json()

    sent = bearer_client(key).post(
        "/api/energy/ingest/",
        {"readings": [{"power": 500, "energy": 1.0, "ts": ago(minutes=2)}, {"power": 510}]},
        format="json",
    )
    assert sent.status_code == 200
    assert sent.json() == {"accepted": 2, "duplicates": 0, "rejected": [], "ignored_fields": 0}
    assert Reading.objects.filter(node__device_id="esp32-kitchen").count() == 2


def test_ingest_answers_what_it_refused_and_a_retry_is_harmless(alice):
    node, key = node_of(alice, "esp32-a")
    client = bearer_client(key)
    body = {"readings": [{"power": 1, "ts": ago(minutes=1)}, {"voltage": 9999}]}
    first = client.post("/api/energy/ingest/", body, format="json").json()
    assert first["accepted"] == 1
    assert first["rejected"] == [
        {"index": 1, "device_id": "esp32-a", "reason": "voltage 9999 is outside 0..1000 V"}
    ]
    again = client.post("/api/energy/ingest/", body, format="json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    only_bad = client.post("/api/energy/ingest/", {"power": "x"}, format="json")
    assert only_bad.status_code == 422


def test_ingest_refuses_people_foreign_keys_and_oversized_batches(alice):
    node, key = node_of(alice, "esp32-a")
    token = api_token_create(user=alice, name="script")[1]
    assert bearer_client(token).post("/api/energy/ingest/", {"power": 1}).status_code == 403
    unbound_key = device_key_create(owner=alice, name="a camera")[1]
    assert bearer_client(unbound_key).post("/api/energy/ingest/", {"power": 1}).status_code == 403
    big = {"readings": [{"power": 1}] * (MAX_BATCH + 1)}
    answer = bearer_client(key).post("/api/energy/ingest/", big, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["readings"]
    assert not Reading.objects.exists()


def test_a_device_key_writes_only_to_its_own_node(alice, bob):
    alice_node, alice_key = node_of(alice, "esp32-a")
    bob_node, _ = node_of(bob, "esp32-b")
    bearer_client(alice_key).post(
        "/api/energy/ingest/", {"power": 7, "device_id": "esp32-b"}, format="json"
    )
    assert list(Reading.objects.values_list("node", flat=True)) == [alice_node.pk]


def test_a_second_user_reaches_none_of_the_first_users_nodes_or_readings(alice, bob):
    node, key = node_of(alice, "esp32-a")
    bearer_client(key).post("/api/energy/ingest/", {"power": 42, "energy": 3.0}, format="json")
    bob_client = client_for(bob)
    assert bob_client.get("/api/energy/nodes/").json()["count"] == 0
    for url in (
        f"/api/energy/nodes/{node.pk}/",
        f"/api/energy/nodes/{node.pk}/readings/",
        f"/api/energy/consumption/?node={node.pk}",
    ):
        assert bob_client.get(url).status_code == 404, url
    assert (
        bob_client.patch(
            f"/api/energy/nodes/{node.pk}/", {"name": "mine"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert bob_client.delete(f"/api/energy/nodes/{node.pk}/").status_code == 404
    assert bob_client.get("/api/energy/").json() == []
    assert bob_client.get("/api/energy/kpis/").json()["nodes"] == 0
    assert client_for(alice).get("/api/energy/").json()[0]["power"] == 42
    assert Node.objects.get().name == "Esp32-A"


def test_an_admin_sees_every_node_and_may_claim_pending_devices(alice, admin_user):
    node_of(alice, "esp32-a")
    PendingDevice.objects.create(device_id="esp32-new", source="mqtt", last_seen_at=timezone.now())
    admin = client_for(admin_user)
    assert admin.get("/api/energy/nodes/").json()["count"] == 1
    claimed = admin.post(
        f"/api/energy/pending/{PendingDevice.objects.get().pk}/claim/",
        {"owner": "alice@example.com", "name": "Boiler"},
        content_type="application/json",
    )
    assert claimed.status_code == 201
    assert claimed.json()["device_key"].startswith("fsd_")
    assert Node.objects.get(device_id="esp32-new").owner == alice
    assert client_for(alice).get("/api/energy/pending/").status_code == 403


def test_a_user_cannot_give_a_node_to_someone_else(alice, bob):
    answer = client_for(alice).post(
        "/api/energy/nodes/",
        {"device_id": "esp32-z", "name": "Z", "owner": "bob@example.com"},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "owner" in answer.json()["error"]["fields"]


def test_a_duplicate_or_malformed_device_id_gets_a_clear_message(alice):
    node_of(alice, "esp32-a")
    client = client_for(alice)
    for device_id, words in (("esp32-a", "already exists"), ("has space/slash", "no spaces")):
        answer = client.post(
            "/api/energy/nodes/",
            {"device_id": device_id, "name": "x"},
            content_type="application/json",
        )
        assert answer.status_code == 400
        assert words in answer.json()["error"]["fields"]["device_id"][0]


def test_readings_and_consumption_answer_in_iso_8601_with_zone(alice):
    node, key = node_of(alice, "esp32-a")
    readings = [
        {"power": 100.0 + n, "energy": 10 + n / 60, "ts": ago(minutes=60 - n)} for n in range(60)
    ]
    bearer_client(key).post("/api/energy/ingest/", {"readings": readings}, format="json")
    client = client_for(alice)
    series = client.get(f"/api/energy/nodes/{node.pk}/readings/?range=24h").json()
    assert series["resolution"] == "minute"
    assert len(series["points"]) == 60
    assert series["summary"]["power"]["max"] == 159.0
    assert series["points"][0]["t"].endswith("Z") or "+" in series["points"][0]["t"]
    raw = client.get(f"/api/energy/nodes/{node.pk}/readings/?range=1h&resolution=raw").json()
    assert raw["resolution"] == "raw"

    day = client.get("/api/energy/consumption/?period=hour&range=24h").json()
    assert day["total_kwh"] == pytest.approx(59 / 60)
    assert len(day["buckets"]) in (24, 25)
    bad = client.get("/api/energy/consumption/?period=week")
    assert bad.status_code == 400


def test_the_kpis_average_the_nodes_sending_data_and_say_how_many(alice):
    for device_id, volts in (("esp32-a", 220.0), ("esp32-b", 240.0), ("esp32-c", None)):
        _, key = node_of(alice, device_id)
        if volts:
            bearer_client(key).post(
                "/api/energy/ingest/", {"voltage": volts, "power": 100}, format="json"
            )
    kpis = client_for(alice).get("/api/energy/kpis/").json()
    assert kpis["averages"]["voltage"] == {"value": 230.0, "nodes": 2}
    assert (kpis["nodes"], kpis["online"]) == (3, 2)
    assert kpis["voltage_deviation_pct"] == pytest.approx(0.0)
    assert kpis["worst_voltage_deviation_pct"] == pytest.approx(10 / 230 * 100)
    assert sorted(kpis["statuses"].values()) == ["never", "online", "online"]


def test_the_older_seeds_endpoint_answers_without_the_slash(alice):
    _, key = node_of(alice, "esp32-a")
    bearer_client(key).post("/api/energy/ingest/", {"power": 1500}, format="json")
    answer = client_for(alice).get("/api/energy")
    assert answer.status_code == 200
    assert answer.json()[0]["consumption"] == 1.5


def test_the_energy_endpoints_are_in_the_openapi_schema(alice):
    schema = client_for(alice).get("/api/schema/?format=json").json()
    for path in (
        "/api/energy/",
        "/api/energy/ingest/",
        "/api/energy/nodes/",
        "/api/energy/nodes/{id}/readings/",
        "/api/energy/consumption/",
        "/api/energy/kpis/",
        "/api/energy/pending/{id}/claim/",
    ):
        assert path in schema["paths"], path


@pytest.mark.parametrize(
    "body, status, words",
    [
        ("[" * 3000 + "]" * 3000, 400, "nested too deep"),
        ('{"readings": [' + '{"a": ' * 1300 + "1" + "}" * 1300 + "]}", 400, "nested too deep"),
        (b'{"power": 5, "note": "\xff\xfe"}', 400, "not UTF-8"),
        ('{"power": 5', 400, "not JSON"),
        ('{"power": 1' + "0" * 400 + "}", 422, "power is far outside"),
        ('{"power": 1' + "0" * 5000 + "}", 400, "not JSON"),
        ('{"power": NaN}', 422, "power is not a finite number"),
        ('{"power": 5, "ts": 1e20}', 422, "ts is in the future"),
        ('{"power": 5, "ts": 1e18}', 422, "ts is in the future"),
        ('{"power": 5, "ts": 1' + "0" * 400 + "}", 422, "ts is in the future"),
        ('{"power": 5, "ts": -1' + "0" * 400 + "}", 422, "ts is not a valid time"),
        ('{"power": 5, "ts": 1e999}', 422, "ts is in the future"),
    ],
)
def test_a_hostile_body_is_refused_with_its_reason_and_stores_nothing(alice, body, status, words):
    node, key = node_of(alice, "esp32-a")
    answer = bearer_client(key).post("/api/energy/ingest/", body, content_type="application/json")
    assert answer.status_code == status
    if status == 400:
        assert words in answer.json()["error"]["message"]
    else:
        assert words in answer.json()["rejected"][0]["reason"]
    assert not Reading.objects.exists()


def test_a_body_past_the_size_limit_is_refused_unread(alice):
    node, key = node_of(alice, "esp32-a")
    body = '{"readings": [' + ", ".join(['{"power": 1}'] * 400_000) + "]}"
    answer = bearer_client(key).post("/api/energy/ingest/", body, content_type="application/json")
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]["message"]
    assert not Reading.objects.exists()
