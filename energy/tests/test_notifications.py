"""Notifications (e-mail and webhooks, a local receiver) and automations (a real Mosquitto),
both delivered by the worker outside the ingest path."""

import json
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from conftest import make_user
from energy import automations, nodes, notifications, worker
from energy.ingest import ingest
from energy.models import (
    Alert,
    AlertRule,
    Automation,
    AutomationRun,
    EnergyProfile,
    Notification,
)
from flowsuite.mqtt import Broker

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint recording what is POSTed; fails the first `failures` calls."""

    def __init__(self, failures=0):
        self.bodies = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.failures:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.bodies.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def owner():
    return make_user("owner@example.com")


@pytest.fixture
def node(owner):
    return nodes.node_create(owner=owner, device_id="esp32-a", name="Oven")[0]


def power_rule(owner, node, **fields):
    rule = AlertRule(
        owner=owner,
        node=node,
        name="Oven on",
        kind="threshold",
        magnitude="power",
        comparison="above",
        threshold=1000,
        **fields,
    )
    rule.full_clean()
    rule.save()
    return rule


def reading(power, at=None):
    at = at or timezone.now()
    ingest([("esp32-a", {"power": power, "ts": at.isoformat()})], received_at=at)


def test_an_alert_is_mailed_and_posted_once(owner, node, receiver):
    power_rule(owner, node, webhook_url=receiver.url)
    reading(2500)
    assert mail.outbox == [] and receiver.bodies == []  # nothing sent in the ingest path
    assert notifications.deliver_due() == {
        "sent": 2,
        "retry": 0,
        "held": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert notifications.deliver_due()["sent"] == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.com"]
    assert message.subject == "[FlowSuite] Alert: Power of Oven is 2500 W, above 1000 W"
    assert "/energy/alerts/?alert=" in message.body
    [body] = receiver.bodies
    assert body["event"] == "opened"
    assert body["alert"]["node"] == "esp32-a"
    assert body["alert"]["values"]["power"] == 2500


def test_a_failing_receiver_is_tried_again_later(owner, node):
    failing = Receiver(failures=1)
    try:
        power_rule(owner, node, webhook_url=failing.url)
        EnergyProfile.objects.create(user=owner, notify_email=False)
        reading(2500)
        assert notifications.deliver_due()["retry"] == 1
        assert failing.bodies == []
        hook = Notification.objects.get()
        assert (hook.status, hook.attempts) == ("pending", 1)
        assert "500" in hook.last_error
        assert notifications.deliver_due()["sent"] == 0  # not before its time
        assert notifications.deliver_due(hook.next_attempt_at)["sent"] == 1
        assert len(failing.bodies) == 1
        hook.refresh_from_db()
        assert (hook.status, hook.attempts) == ("sent", 2)
    finally:
        failing.close()


def test_discord_and_slack_get_their_own_shapes(owner, node, receiver):
    power_rule(owner, node, webhook_url=receiver.url, webhook_format="discord")
    EnergyProfile.objects.create(user=owner, notify_email=False)
    reading(2500)
    notifications.deliver_due()
    [body] = receiver.bodies
    assert body["content"].startswith("[FlowSuite] Alert:")
    assert body["embeds"][0]["title"] == "Power of Oven is 2500 W, above 1000 W"
    AlertRule.objects.update(webhook_format="slack")
    assert notifications.webhook_body(Notification.objects.get())["text"].startswith(
        "[FlowSuite] Alert:"
    )


def tomorrow_at(hour, minute=0):
    day = (timezone.now() + timedelta(days=1)).date()
    return datetime.combine(day, time(hour, minute), UTC)


def test_quiet_hours_hold_notifications_until_they_end(owner, node):
    owner.time_zone = "America/Bogota"  # UTC-5 all year
    owner.save()
    EnergyProfile.objects.create(user=owner, quiet_start=time(22), quiet_end=time(7))
    power_rule(owner, node)
    reading(2500)
    night = tomorrow_at(4, 30)  # 23:30 in Bogotá
    assert notifications.deliver_due(night)["held"] == 1
    assert mail.outbox == []
    held = Notification.objects.get()
    assert held.next_attempt_at == tomorrow_at(12)  # 07:00 in Bogotá
    assert notifications.deliver_due(tomorrow_at(11, 59))["sent"] == 0
    assert notifications.deliver_due(tomorrow_at(12))["sent"] == 1
    assert len(mail.outbox) == 1


def test_an_alert_resolved_during_quiet_hours_is_not_sent_afterwards(owner, node):
    owner.time_zone = "UTC"
    owner.save()
    EnergyProfile.objects.create(user=owner, quiet_start=time(22), quiet_end=time(7))
    power_rule(owner, node)
    reading(2500)
    notifications.deliver_due(tomorrow_at(23))
    reading(100)
    assert notifications.deliver_due(tomorrow_at(23) + timedelta(hours=8))["skipped"] == 2
    assert mail.outbox == []
    assert set(Notification.objects.values_list("event", "status")) == {
        ("opened", "skipped"),
        ("resolved", "skipped"),
    }


def test_a_rule_notifies_at_most_once_within_its_minimum_interval(owner, node):
    power_rule(owner, node, notify_interval=30)
    reading(2500)
    notifications.deliver_due()
    reading(100)
    notifications.deliver_due()
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[FlowSuite] Alert",
        "[FlowSuite] Resolved",
    ]
    reading(2600)  # the oven again, minutes later: a new alert, not a new e-mail
    notifications.deliver_due()
    assert Alert.objects.filter(status="open").count() == 1
    assert len(mail.outbox) == 2


@pytest.fixture
def subscriber(mosquitto):
    received = []
    broker = Broker.from_url(mosquitto.url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: received.append(
        (message.topic, message.payload.decode())
    )
    client.connect(broker.host, broker.port)
    client.subscribe("flowsuite/energy/#", qos=1)
    client.loop_start()
    assert subscribed.wait(5)
    yield received
    client.disconnect()
    client.loop_stop()


def wait_for(items, count=1, timeout=5.0):
    deadline = timezone.now() + timedelta(seconds=timeout)
    while len(items) < count and timezone.now() < deadline:
        threading.Event().wait(0.02)
    return items


def test_an_automation_publishes_to_the_nodes_topic_when_the_alert_opens(
    owner, node, mosquitto, subscriber
):
    rule = power_rule(owner, node)
    automation = Automation(
        owner=owner,
        name="Cut the oven",
        trigger="opened",
        rule=rule,
        action="mqtt",
        payload='{"relay": "off", "power": {{value}}}',
    )
    automation.full_clean()
    automation.save()
    with override_settings(MQTT_URL=mosquitto.url):
        reading(2500)
        assert wait_for(subscriber, timeout=0.3) == []  # not from the ingest path
        assert worker.tick()["automations"] == {"ok": 1, "failed": 0}
        assert wait_for(subscriber) == [
            ("flowsuite/energy/esp32-a/command", '{"relay": "off", "power": 2500.0}')
        ]
    run = AutomationRun.objects.get()
    assert (run.outcome, run.trigger) == ("ok", "opened")
    assert "flowsuite/energy/esp32-a/command" in run.detail


def test_a_failed_automation_is_logged_with_its_reason(owner, node):
    rule = power_rule(owner, node)
    Automation.objects.create(owner=owner, name="x", trigger="opened", rule=rule, action="mqtt")
    with override_settings(MQTT_URL=""):
        reading(2500)
        assert automations.run_pending() == {"ok": 0, "failed": 1}
    assert "no MQTT broker" in AutomationRun.objects.get().detail


def test_an_automation_cannot_command_another_users_node(owner, node):
    stranger = make_user("stranger@example.com")
    theirs = Automation(
        owner=stranger, name="x", trigger="schedule", at_time=time(8), action="mqtt", node=node
    )
    with pytest.raises(ValidationError) as refused:
        theirs.full_clean()
    assert "node" in refused.value.message_dict
    mine = nodes.node_create(owner=stranger, device_id="esp32-s", name="S")[0]
    sneaky = Automation(
        owner=stranger,
        name="x",
        trigger="opened",
        action="mqtt",
        node=mine,
        topic="flowsuite/energy/esp32-a/command",
    )
    with pytest.raises(ValidationError) as refused:
        sneaky.full_clean()
    assert "topic" in refused.value.message_dict
    wildcard = Automation(
        owner=stranger, name="x", trigger="opened", action="mqtt", topic="flowsuite/energy/#"
    )
    with pytest.raises(ValidationError):
        wildcard.full_clean()


def test_a_scheduled_automation_runs_once_at_its_time(owner, node, receiver):
    owner.time_zone = "UTC"
    owner.save()
    automation = Automation(
        owner=owner,
        name="Morning report",
        trigger="schedule",
        at_time=time(8, 0),
        weekdays="0,1,2,3,4,5,6",
        action="webhook",
        webhook_url=receiver.url,
    )
    automation.full_clean()
    automation.save()
    morning = datetime(2026, 3, 10, 7, 59, tzinfo=UTC)
    assert automations.queue_scheduled(morning) == 0
    assert automations.queue_scheduled(morning + timedelta(minutes=1)) == 1
    assert automations.queue_scheduled(morning + timedelta(minutes=2)) == 0
    assert automations.run_pending() == {"ok": 1, "failed": 0}
    assert receiver.bodies[0]["automation"] == "Morning report"
    assert automations.queue_scheduled(morning + timedelta(days=1, minutes=1)) == 1
