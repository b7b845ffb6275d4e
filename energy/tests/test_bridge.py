"""The MQTT bridge against a real Mosquitto broker."""

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connection
from django.utils import timezone

from conftest import client_for, make_user
from energy import ingest, nodes
from energy.bridge import Bridge, RefusalLog
from energy.models import LinkState, Node, PendingDevice, Reading
from flowsuite.asgi import application
from flowsuite.mqtt import Broker
from flowsuite.testing import TlsMosquitto

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, timeout=10.0, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OperationalError:  # SQLite's shared in-memory test database locks whole tables
            pass
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {message}")


class Meter:
    """A meter on the broker: publishes with QoS 1; optionally with a last will."""

    def __init__(self, url, device_id="esp32-a", will=False, ca_file=None):
        broker = Broker.from_url(url)
        self.device_id = device_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"meter-{device_id}")
        if broker.tls:
            self.client.tls_set(ca_certs=ca_file)
        if will:
            self.client.will_set(self.topic("status"), "offline", qos=1, retain=True)
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()

    def topic(self, kind):
        return f"flowsuite/energy/{self.device_id}/{kind}"

    def publish(self, payload, kind="telemetry", topic=None, retain=False):
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(topic or self.topic(kind), payload, qos=1, retain=retain)
        info.wait_for_publish(5)

    def vanish(self):
        """Drop the connection without DISCONNECT: the broker publishes the last will."""
        self.client.socket().close()
        self.client.loop_stop()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


_bridges = []


@pytest.fixture(autouse=True)
def _stop_bridges():
    yield
    while _bridges:
        _bridges.pop().disconnect()


def make_bridge(mosquitto, **options):
    """A bridge connected and subscribed; the test calls its flush()."""
    bridge = Bridge(Broker.from_url(mosquitto.url), client_id="test-bridge", **options)
    _bridges.append(bridge)
    bridge.connect()
    assert bridge.subscribed.wait(5)
    return bridge


def running_bridge(mosquitto, **options):
    """A bridge running its own loop in a thread, as `manage.py mqtt_bridge` does."""
    bridge = Bridge(Broker.from_url(mosquitto.url), client_id="test-bridge", **options)
    _bridges.append(bridge)
    thread = threading.Thread(target=bridge.run)
    thread.start()
    assert bridge.subscribed.wait(5)
    return bridge, thread


def flush_when(bridge, count):
    wait_until(lambda: bridge.waiting() >= count, message=f"{count} messages at the bridge")
    bridge.flush()


@pytest.fixture
def node(db):
    owner = make_user("owner@example.com")
    return nodes.node_create(owner=owner, device_id="esp32-a", name="Kitchen")[0]


def an_hour_ago(seconds=0):
    return (timezone.now() - timedelta(hours=1) + timedelta(seconds=seconds)).isoformat()


@pytest.mark.backend
async def test_telemetry_is_stored_and_pushed_live_to_the_owner_only(mosquitto):
    @database_sync_to_async
    def setup():
        owner = make_user("owner@example.com")
        stranger = make_user("stranger@example.com")
        node = nodes.node_create(owner=owner, device_id="esp32-a", name="Kitchen")[0]
        cookies = [
            f"sessionid={client_for(u).cookies['sessionid'].value}".encode()
            for u in (owner, stranger)
        ]
        return node, cookies

    node, (owner_cookie, stranger_cookie) = await setup()
    group = f"energy.node.{node.pk}"
    sockets = []
    for cookie in (owner_cookie, stranger_cookie):
        socket = WebsocketCommunicator(
            application, "/ws/live/", [(b"origin", b"http://localhost"), (b"cookie", cookie)]
        )
        assert (await socket.connect())[0]
        await socket.send_json_to({"action": "subscribe", "groups": [group]})
        sockets.append((socket, await socket.receive_json_from(timeout=5)))
    (owner_socket, owner_reply), (stranger_socket, stranger_reply) = sockets
    assert owner_reply["groups"] == [group]
    assert stranger_reply["refused"] == [group]

    bridge = make_bridge(mosquitto)
    meter = Meter(mosquitto.url)
    meter.publish({"voltage": 229.5, "current": 3.1, "power": 640.0, "energy": 12.25})
    wait_until(lambda: bridge.waiting() == 1)
    await database_sync_to_async(bridge.flush)()

    event = await owner_socket.receive_json_from(timeout=5)
    assert event["type"] == "reading"
    assert event["data"]["values"]["power"] == 640.0
    assert await stranger_socket.receive_nothing(timeout=0.3)
    reading = await database_sync_to_async(Reading.objects.get)(node=node)
    assert (reading.voltage, reading.energy) == (229.5, 12.25)
    meter.close()
    bridge.stop()
    for socket, _ in sockets:
        await socket.disconnect()


def test_the_older_seeds_topic_stores_kilowatts_as_power_of_the_configured_node(mosquitto, node):
    bridge = make_bridge(mosquitto, legacy_device_id="esp32-a")
    meter = Meter(mosquitto.url, device_id="legacy")
    meter.publish("1.5", topic="energy/consumption")
    flush_when(bridge, 1)
    assert list(Reading.objects.values_list("power", flat=True)) == [1500.0]
    meter.close()


def test_the_last_will_marks_the_node_offline_and_a_new_reading_brings_it_back(mosquitto, node):
    bridge = make_bridge(mosquitto)
    meter = Meter(mosquitto.url, will=True)
    meter.publish("online", kind="status", retain=True)
    flush_when(bridge, 1)
    node.refresh_from_db()
    assert (node.link_state, nodes.node_status(node)) == (LinkState.ONLINE, "silent")

    meter.vanish()
    flush_when(bridge, 1)
    node.refresh_from_db()
    assert (node.link_state, nodes.node_status(node)) == (LinkState.OFFLINE, "offline")

    again = Meter(mosquitto.url, device_id="esp32-a")
    again.publish({"power": 100.0})
    flush_when(bridge, 1)
    node.refresh_from_db()
    assert nodes.node_status(node) == "online"
    again.close()


def test_malformed_payloads_are_counted_and_the_bridge_keeps_going(mosquitto, node):
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    meter = Meter(mosquitto.url)
    bad = [
        "not json",
        "[1, 2]",
        json.dumps({"power": "lots"}),
        '{"power": NaN}',
        json.dumps({"voltage": 5000}),
        json.dumps({"power": 100, "ts": "yesterday"}),
        "x" * 20_000,
    ]
    for payload in bad:
        meter.publish(payload)
    meter.publish({"power": 250.0, "colour": "blue"})
    wait_until(lambda: Reading.objects.count() == 1, message="the good reading")
    wait_until(lambda: bridge.counters["received"] == 8)
    # counted by the writer once the batch is committed, a moment after the row shows
    wait_until(lambda: bridge.counters["rejected"] == 4, message="4 rejected readings")
    assert thread.is_alive()
    assert bridge.counters["malformed"] == 3  # not JSON, not an object, too large
    assert bridge.counters["rejected"] == 4  # wrong type, NaN, out of range, bad time
    assert bridge.counters["ignored_fields"] == 1
    assert Reading.objects.get().power == 250.0
    bridge.stop()
    thread.join(5)
    meter.close()


def test_an_unknown_device_is_listed_as_pending_and_stored_once_claimed(mosquitto, admin_user):
    bridge = make_bridge(mosquitto)
    meter = Meter(mosquitto.url, device_id="esp32-new")
    meter.publish({"power": 10.0})
    flush_when(bridge, 1)
    pending = PendingDevice.objects.get()
    assert (pending.device_id, pending.messages, pending.source) == ("esp32-new", 1, "mqtt")
    assert Reading.objects.count() == 0

    node, _key = nodes.claim_pending(pending, owner=admin_user, name="Boiler")
    assert not PendingDevice.objects.exists()
    meter.publish({"power": 20.0})
    flush_when(bridge, 1)
    assert list(Reading.objects.filter(node=node).values_list("power", flat=True)) == [20.0]
    meter.close()


def test_a_redelivered_reading_is_stored_once(mosquitto, node):
    bridge = make_bridge(mosquitto)
    meter = Meter(mosquitto.url)
    reading = {"power": 300.0, "energy": 5.0, "ts": an_hour_ago()}
    meter.publish(reading)
    flush_when(bridge, 1)
    meter.publish(reading)
    meter.publish(reading)
    flush_when(bridge, 2)
    assert Reading.objects.count() == 1
    assert bridge.counters["duplicates"] == 2
    meter.close()


def test_messages_published_while_the_bridge_restarts_are_all_stored(mosquitto, node):
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    meter = Meter(mosquitto.url)
    start = datetime.now(UTC) - timedelta(hours=2)

    def send(numbers):
        for n in numbers:
            ts = (start + timedelta(seconds=n)).isoformat()
            meter.publish({"power": float(n), "energy": n / 1000, "ts": ts})

    send(range(0, 100))
    wait_until(lambda: Reading.objects.count() == 100)
    bridge.stop()
    thread.join(5)
    assert not thread.is_alive()

    send(range(100, 400))  # nobody is listening: the broker keeps them for the session
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    send(range(400, 500))
    wait_until(lambda: Reading.objects.count() >= 500, timeout=15)
    bridge.stop()
    thread.join(5)
    assert Reading.objects.count() == 500
    assert sorted(Reading.objects.values_list("power", flat=True)) == [float(n) for n in range(500)]
    meter.close()


@pytest.fixture
def tls_mosquitto():
    broker = TlsMosquitto().start()
    yield broker
    broker.cleanup()


def test_a_tls_broker_is_trusted_through_its_ca_and_a_burst_is_stored_whole(tls_mosquitto, node):
    untrusting = Bridge(Broker.from_url(tls_mosquitto.url), client_id="no-ca")  # system CAs
    _bridges.append(untrusting)
    untrusting.connect()
    assert not untrusting.subscribed.wait(1.5)
    untrusting.disconnect()

    broker = Broker.from_url(tls_mosquitto.url, ca_file=tls_mosquitto.ca_file)
    bridge = Bridge(broker, client_id="test-bridge", flush_interval=0.02)
    _bridges.append(bridge)
    thread = threading.Thread(target=bridge.run)
    thread.start()
    assert bridge.subscribed.wait(5)
    meter = Meter(tls_mosquitto.url, ca_file=tls_mosquitto.ca_file)
    start = datetime.now(UTC) - timedelta(hours=2)
    sent = [  # back to back: the bridge reads many messages from each TLS record it gets
        meter.client.publish(
            meter.topic("telemetry"),
            json.dumps({"power": float(n), "ts": (start + timedelta(seconds=n)).isoformat()}),
            qos=1,
        )
        for n in range(2000)
    ]
    for info in sent:
        info.wait_for_publish(10)
    wait_until(lambda: Reading.objects.count() >= 2000, timeout=20)
    bridge.stop()
    thread.join(5)
    stored = sorted(Reading.objects.values_list("power", flat=True))
    assert stored == [float(n) for n in range(2000)]
    meter.close()


def test_the_bridge_flushes_what_it_holds_when_stopped(mosquitto, node):
    bridge, thread = running_bridge(mosquitto, flush_interval=30, batch_size=10_000)
    meter = Meter(mosquitto.url)
    for n in range(20):
        meter.publish({"power": float(n), "ts": an_hour_ago(n)})
    wait_until(lambda: bridge.waiting() == 20)
    assert Reading.objects.count() == 0
    bridge.stop()
    thread.join(5)
    assert Reading.objects.count() == 20
    assert Node.objects.get().last_reading_at is not None
    meter.close()


def test_bridges_in_a_shared_subscription_split_the_messages_and_store_each_once(mosquitto, node):
    first = Bridge(Broker.from_url(mosquitto.url), client_id="bridge-1", share_group="energy")
    second = Bridge(Broker.from_url(mosquitto.url), client_id="bridge-2", share_group="energy")
    threads = []
    for bridge in (first, second):
        _bridges.append(bridge)
        threads.append(threading.Thread(target=bridge.run))
        threads[-1].start()
        assert bridge.subscribed.wait(5)
    assert first.topics()[0] == "$share/energy/flowsuite/energy/+/telemetry"
    meter = Meter(mosquitto.url)
    for n in range(200):
        meter.publish({"power": float(n), "ts": an_hour_ago(n)})
    wait_until(lambda: Reading.objects.count() == 200, timeout=15)
    for bridge, thread in zip((first, second), threads, strict=True):
        bridge.stop()
        thread.join(5)
    assert first.counters["stored"] > 0 and second.counters["stored"] > 0
    assert first.counters["stored"] + second.counters["stored"] == 200
    meter.close()


def test_the_bridge_reconnects_when_the_broker_comes_back(mosquitto, node):
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    mosquitto.stop()
    wait_until(lambda: not bridge.subscribed.is_set(), message="the bridge to notice")
    mosquitto.start()
    assert bridge.subscribed.wait(15), "the bridge did not come back"
    meter = Meter(mosquitto.url)
    meter.publish({"power": 42.0})
    wait_until(lambda: Reading.objects.count() == 1)
    assert bridge.counters["disconnects"] >= 1
    bridge.stop()
    thread.join(5)
    meter.close()


@pytest.mark.backend
def test_a_batch_is_kept_when_the_database_drops_the_bridges_connection(mosquitto, node):
    if connection.vendor != "postgresql":
        pytest.skip("a server that ends a connection: PostgreSQL (make test's second stage)")
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    meter = Meter(mosquitto.url)
    meter.publish({"power": 1.0, "ts": an_hour_ago()})
    wait_until(lambda: Reading.objects.count() == 1)
    with connection.cursor() as cursor:  # as a restarted server would: every other session
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    meter.publish({"power": 2.0, "ts": an_hour_ago(seconds=1)})
    wait_until(lambda: Reading.objects.count() == 2, message="the batch, retried")
    bridge.stop()
    thread.join(5)
    assert sorted(Reading.objects.values_list("power", flat=True)) == [1.0, 2.0]
    meter.close()


def test_a_fault_no_check_foresaw_costs_its_message_only_counted_and_logged_once(
    mosquitto, node, monkeypatch, caplog
):
    checked = ingest.parse_values

    def with_a_bug(payload):  # a future bug: some reading makes the checks raise
        if payload.get("power") == 13.0:
            raise RuntimeError("a bug")
        return checked(payload)

    monkeypatch.setattr(ingest, "parse_values", with_a_bug)
    bridge, thread = running_bridge(mosquitto, flush_interval=0.05)
    meter = Meter(mosquitto.url)
    for n in range(10, 16):
        meter.publish({"power": float(n), "ts": an_hour_ago(n)})
    wait_until(lambda: bridge.counters["received"] == 6, message="every message")
    wait_until(lambda: Reading.objects.count() == 5, message="the sound readings")
    assert thread.is_alive()
    assert bridge.counters["internal"] == 1
    assert bridge.refusals.totals == {"internal error": 1}
    tracebacks = [r for r in caplog.records if r.exc_info and "internal error" in r.getMessage()]
    assert len(tracebacks) == 1
    bridge.stop()
    thread.join(5)
    assert sorted(Reading.objects.values_list("power", flat=True)) == [10, 11, 12, 14, 15]
    meter.close()


def test_refusals_are_logged_one_line_per_reason_per_interval_with_the_count(caplog):
    now = [0.0]
    refusals = RefusalLog(interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="energy.bridge"):
        for n in range(1000):
            now[0] = n * 0.1  # ten a second, for 100 s
            refusals.refused(f"voltage {1500 + n} is outside 0..1000 V", "from 'esp32-a'")
            refusals.refused("not JSON", "flowsuite/energy/esp32-a/telemetry")
            refusals.flush()
        refusals.flush(everything=True)
    lines = [record.getMessage() for record in caplog.records]
    # per reason: the first at once, the next 60 s later with the count, the rest at the end
    assert len(lines) == 6, lines
    assert "bridge: refused a message" in lines[1] and "not JSON" in lines[1]
    topic = "flowsuite/energy/esp32-a/telemetry"
    assert f"bridge: refused 600 more message(s) ({topic}): not JSON" in lines
    assert "bridge: refused 399 more message(s): not JSON" in lines
    assert refusals.totals == {"voltage 1500 is outside 0..1000 V": 1000, "not JSON": 1000}
