"""Automations: when an alert opens or resolves, or on a schedule, publish an MQTT message to
one of the owner's nodes or call a webhook. Runs are queued (an AutomationRun each) and done
by the worker; each records its outcome."""

import json
import logging
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from flowsuite.mqtt import configured_broker, make_client

from .models import Alert, Automation, AutomationRun, Node

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
NODE_TOPIC = "flowsuite/energy/{device_id}/"


def render(template: str, context: dict) -> str:
    return PLACEHOLDER.sub(lambda match: str(context.get(match.group(1), "")), template)


def validate(automation: Automation) -> None:
    """What a user may automate: only their own nodes, and only their nodes' topics."""
    errors = {}
    if automation.rule_id and automation.rule.owner_id != automation.owner_id:
        errors["rule"] = _("Choose one of your own rules.")
    if automation.node_id and automation.node.owner_id != automation.owner_id:
        errors["node"] = _("Choose one of your own nodes.")
    if automation.trigger == Automation.Trigger.SCHEDULE and automation.at_time is None:
        errors["at_time"] = _("A scheduled automation needs a time.")
    if automation.action == Automation.Action.WEBHOOK and not automation.webhook_url:
        errors["webhook_url"] = _("Give the URL to call.")
    if automation.action == Automation.Action.MQTT:
        if automation.trigger == Automation.Trigger.SCHEDULE and not automation.node_id:
            errors["node"] = _("A scheduled message needs the node it commands.")
        if not _own_topic(automation.topic, automation.node):
            errors["topic"] = _(
                "The topic must be under flowsuite/energy/{{device_id}}/ (the node's own topics)."
            )
        try:
            json.loads(render(automation.payload, _sample_context()))
        except ValueError:
            if automation.payload.strip().startswith(("{", "[")):
                errors["payload"] = _("The payload is not valid JSON.")
    if errors:
        raise ValidationError(errors)


def _own_topic(template: str, node: Node | None) -> bool:
    if template.startswith("flowsuite/energy/{{device_id}}/"):
        return "#" not in template and "+" not in template
    return node is not None and template.startswith(NODE_TOPIC.format(device_id=node.device_id))


def _sample_context() -> dict:
    return {"device_id": "x", "node": "x", "rule": "x", "value": 0, "event": "opened"}


def queue(alert: Alert, event: str) -> list[AutomationRun]:
    automations = Automation.objects.filter(owner_id=alert.owner_id, enabled=True, trigger=event)
    runs = []
    now = timezone.now()
    for automation in automations:
        if automation.rule_id and automation.rule_id != alert.rule_id:
            continue
        node_id = automation.node_id or alert.node_id
        runs.append(
            AutomationRun.objects.create(
                automation=automation, alert=alert, node_id=node_id, trigger=event, queued_at=now
            )
        )
    return runs


def queue_scheduled(now: datetime | None = None) -> int:
    """Queue the scheduled automations whose time has come today (in the owner's zone)."""
    now = now or timezone.now()
    queued = 0
    scheduled = Automation.objects.filter(
        enabled=True, trigger=Automation.Trigger.SCHEDULE
    ).select_related("owner")
    for automation in scheduled:
        zone = ZoneInfo(automation.owner.time_zone or settings.TIME_ZONE)
        local = now.astimezone(zone)
        due = datetime.combine(local.date(), automation.at_time, zone)
        weekdays = {int(day) for day in automation.weekdays.split(",") if day.strip().isdigit()}
        if local.weekday() not in weekdays or now < due:
            continue
        if automation.last_run_at and automation.last_run_at >= due:
            continue
        if now - due > timedelta(hours=1):
            continue  # the worker was down at that time: not hours late
        AutomationRun.objects.create(
            automation=automation, node=automation.node, trigger="schedule", queued_at=now
        )
        automation.last_run_at = now
        automation.save(update_fields=["last_run_at"])
        queued += 1
    return queued


def run_pending(limit: int = 50) -> dict[str, int]:
    done = {"ok": 0, "failed": 0}
    pending = (
        AutomationRun.objects.filter(outcome=AutomationRun.Outcome.PENDING)
        .select_related("automation__owner", "alert__rule", "node")
        .order_by("queued_at")[:limit]
    )
    for run in pending:
        try:
            detail = _execute(run)
            run.outcome = AutomationRun.Outcome.OK
        except Exception as error:  # the outcome is recorded, the worker goes on
            detail = f"{error.__class__.__name__}: {error}"
            run.outcome = AutomationRun.Outcome.FAILED
            log.warning("energy: automation %s failed: %s", run.automation_id, error)
        run.detail, run.ran_at = detail[:2000], timezone.now()
        run.save(update_fields=["outcome", "detail", "ran_at"])
        if run.trigger != "schedule":  # a schedule's last run is its due time (queue_scheduled)
            Automation.objects.filter(pk=run.automation_id).update(last_run_at=run.ran_at)
        done[run.outcome] += 1
    return done


def _context(run: AutomationRun) -> dict:
    alert = run.alert
    value = None
    if alert and alert.rule and alert.rule.magnitude:
        value = alert.values.get(alert.rule.magnitude)
    return {
        "device_id": run.node.device_id if run.node else "",
        "node": run.node.name if run.node else "",
        "rule": alert.rule.name if alert and alert.rule else "",
        "value": "" if value is None else value,
        "event": run.trigger,
        "message": alert.message if alert else "",
    }


def _execute(run: AutomationRun) -> str:
    automation = run.automation
    context = _context(run)
    if automation.action == Automation.Action.WEBHOOK:
        from .notifications import post_json

        body = {"automation": automation.name, "trigger": run.trigger, **context}
        status = post_json(automation.webhook_url, body)
        return f"POST {automation.webhook_url} → {status}"
    node = run.node
    if node is None or node.owner_id != automation.owner_id:
        raise PermissionError("the target is not one of the owner's nodes")
    topic = render(automation.topic, context)
    if not topic.startswith(NODE_TOPIC.format(device_id=node.device_id)):
        raise PermissionError(f"{topic} is not a topic of {node.device_id}")
    payload = render(automation.payload, context)
    publish(topic, payload)
    return f"published to {topic}: {payload}"


def publish(topic: str, payload: str, timeout: float = 5.0) -> None:
    """Publish one message with QoS 1 and wait for the broker to take it."""
    broker = configured_broker()
    if broker is None:
        raise ConnectionError("no MQTT broker is configured (MQTT_URL)")
    client = make_client(broker, purpose="automation")
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(broker.host, broker.port, keepalive=10)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise ConnectionError("the broker did not answer")
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise ConnectionError("the broker did not acknowledge the message")
    finally:
        client.disconnect()
        client.loop_stop()
