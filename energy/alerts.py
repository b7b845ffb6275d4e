"""Alerts: opened by rules (or by other systems through POST /api/alert), acknowledged by
people, resolved when the condition clears. Opening or resolving one tells the owner's open
pages at once and queues its notifications and automations for the worker (energy.worker):
nothing slow runs inside the ingest or request path."""

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from flowsuite import live

from . import automations, notifications
from .magnitudes import BY_KEY
from .models import Alert, AlertRule, Comparison, Node

SEVERITY = {
    AlertRule.Kind.THRESHOLD: Alert.Severity.WARNING,
    AlertRule.Kind.OFFLINE: Alert.Severity.CRITICAL,
    AlertRule.Kind.BUDGET: Alert.Severity.INFO,
}
TOAST_LEVEL = {"info": "info", "warning": "warning", "critical": "danger"}


def describe(rule: AlertRule, node: Node, values: dict) -> str:
    """The alert's message, in the owner's language."""
    if rule.kind == AlertRule.Kind.OFFLINE:
        return _("%(node)s stopped reporting (%(minutes)d min without data)") % {
            "node": node.name,
            "minutes": round(values["silent_seconds"] / 60),
        }
    if rule.kind == AlertRule.Kind.BUDGET:
        return _("%(node)s used %(kwh).1f kWh, over its budget of %(budget).1f kWh") % {
            "node": node.name,
            "kwh": values["kwh"],
            "budget": values["budget_kwh"],
        }
    magnitude = BY_KEY[rule.magnitude]
    value = f"{values[rule.magnitude]:.{magnitude.decimals}f} {magnitude.unit}".strip()
    if rule.comparison == Comparison.OUTSIDE:
        limit = f"{rule.threshold:g}–{rule.threshold_high:g} {magnitude.unit}".strip()
        template = _("%(magnitude)s of %(node)s is %(value)s, outside %(limit)s")
    else:
        limit = f"{rule.threshold:g} {magnitude.unit}".strip()
        template = (
            _("%(magnitude)s of %(node)s is %(value)s, above %(limit)s")
            if rule.comparison == Comparison.ABOVE
            else _("%(magnitude)s of %(node)s is %(value)s, below %(limit)s")
        )
    return template % {
        "magnitude": magnitude.label,
        "node": node.name,
        "value": value,
        "limit": limit,
    }


def open_for_rule(rule: AlertRule, node_id: int, at: datetime, values: dict) -> Alert | None:
    """Open the rule's alert for a node, unless one is open already (at most one)."""
    if Alert.objects.filter(rule=rule, node_id=node_id, resolved_at__isnull=True).exists():
        return None
    node = Node.objects.select_related("owner").get(pk=node_id)
    with translation.override(node.owner.language or None):
        message = describe(rule, node, values)
    alert = Alert.objects.create(
        owner_id=rule.owner_id,
        rule=rule,
        node=node,
        severity=SEVERITY[rule.kind],
        message=message[:300],
        values=values,
        opened_at=at,
    )
    _announce(alert, "opened")
    return alert


def resolve(rule: AlertRule, node_id: int, at: datetime, values: dict) -> Alert | None:
    alert = Alert.objects.filter(rule=rule, node_id=node_id, resolved_at__isnull=True).first()
    if alert is None:
        return None
    alert.status, alert.resolved_at = Alert.Status.RESOLVED, at
    alert.values = {**alert.values, "cleared": values}
    alert.save(update_fields=["status", "resolved_at", "values"])
    _announce(alert, "resolved")
    return alert


@transaction.atomic
def raise_external(
    *,
    owner: User,
    message: str,
    source: str,
    severity: str = Alert.Severity.WARNING,
    node: Node | None = None,
    values: dict | None = None,
) -> Alert:
    """An alert raised by another system (POST /api/alert)."""
    alert = Alert.objects.create(
        owner=owner,
        node=node,
        source=source[:100],
        severity=severity,
        message=message[:300],
        values=values or {},
        opened_at=timezone.now(),
    )
    _announce(alert, "opened")
    return alert


@transaction.atomic
def acknowledge(alert: Alert, user: User, comment: str = "") -> Alert:
    if alert.status != Alert.Status.OPEN:
        return alert
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.acknowledged_at, alert.acknowledged_by, alert.comment = timezone.now(), user, comment
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "comment"])
    _announce(alert, "acknowledged")
    return alert


@transaction.atomic
def close(alert: Alert, user: User, comment: str = "") -> Alert:
    """Resolve by hand (an external alert, or one whose rule was removed)."""
    if alert.status == Alert.Status.RESOLVED:
        return alert
    alert.status, alert.resolved_at = Alert.Status.RESOLVED, timezone.now()
    if comment:
        alert.comment = comment
    alert.save(update_fields=["status", "resolved_at", "comment"])
    _announce(alert, "resolved")
    return alert


def open_count(owner_id: int) -> int:
    return Alert.objects.filter(owner_id=owner_id, status=Alert.Status.OPEN).count()


def _announce(alert: Alert, event: str) -> None:
    group = f"user.{alert.owner_id}"
    data = {
        "id": alert.pk,
        "event": event,
        "status": alert.status,
        "severity": alert.severity,
        "message": alert.message,
        "node": alert.node_id,
        "url": reverse("energy:alerts"),
        "open": open_count(alert.owner_id),
    }
    events = [(group, "alert", data)]
    if event == "opened":
        toast = {"message": alert.message, "level": TOAST_LEVEL[alert.severity]}
        events.append((group, "notify", toast))
    live.publish_many(events)
    if event in ("opened", "resolved"):
        notifications.queue(alert, event)
        automations.queue(alert, event)
