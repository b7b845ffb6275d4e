"""Alert notifications: queued with the alert (an outbox), delivered by the worker by e-mail
and webhook (generic JSON, Discord, Slack), retried with backoff, held through the owner's
quiet hours, and at most one per rule within the rule's minimum interval."""

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Alert, AlertRule, EnergyProfile, Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(seconds=30)
WEBHOOK_TIMEOUT = 5
COLOURS = {"info": 0x0EA5E9, "warning": 0xF59E0B, "critical": 0xDC2626}


def profile_of(user) -> EnergyProfile:
    try:
        return user.energy_profile
    except EnergyProfile.DoesNotExist:
        return EnergyProfile(user=user)


def queue(alert: Alert, event: str) -> list[Notification]:
    now = timezone.now()
    rule = alert.rule
    if event == "opened" and rule is not None and _notified_recently(rule, now):
        log.info("energy: alert %s not notified: rule %s notified recently", alert.pk, rule.pk)
        return []
    if event == "resolved" and not alert.notifications.exclude(status="skipped").exists():
        return []  # nobody was told it opened
    targets = []
    if profile_of(alert.owner).notify_email and alert.owner.email:
        targets.append((Notification.Channel.EMAIL, alert.owner.email))
    if rule is not None and rule.webhook_url:
        targets.append((Notification.Channel.WEBHOOK, rule.webhook_url))
    return [
        Notification.objects.create(
            alert=alert, event=event, channel=channel, target=target, next_attempt_at=now
        )
        for channel, target in targets
    ]


def _notified_recently(rule: AlertRule, now: datetime) -> bool:
    since = now - timedelta(minutes=rule.notify_interval)
    return Notification.objects.filter(
        alert__rule=rule, event="opened", created_at__gte=since
    ).exists()


# --- delivery (the worker) -------------------------------------------------------------


def deliver_due(now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Send the notifications that are due; returns how many were sent, retried, held."""
    now = now or timezone.now()
    done = {"sent": 0, "retry": 0, "held": 0, "failed": 0, "skipped": 0}
    due = (
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)
        .select_related("alert__owner", "alert__node", "alert__rule")
        .order_by("next_attempt_at")[:limit]
    )
    for notification in due:
        outcome = _deliver(notification, now)
        done[outcome] += 1
    return done


def _deliver(notification: Notification, now: datetime) -> str:
    alert = notification.alert
    profile = profile_of(alert.owner)
    quiet_end = quiet_hours_end(profile, now)
    if quiet_end is not None:
        notification.next_attempt_at = quiet_end
        notification.save(update_fields=["next_attempt_at"])
        return "held"
    if notification.event == "opened" and alert.status == Alert.Status.RESOLVED:
        return _finish(notification, Notification.Status.SKIPPED, "resolved before it was sent")
    if (
        notification.event == "resolved"
        and not alert.notifications.filter(
            event="opened", channel=notification.channel, status=Notification.Status.SENT
        ).exists()
    ):
        return _finish(notification, Notification.Status.SKIPPED, "its opening was not sent")
    try:
        with translation.override(alert.owner.language or None):
            if notification.channel == Notification.Channel.EMAIL:
                _send_email(notification)
            else:
                _send_webhook(notification)
    except Exception as error:  # any failure of the far end is retried, then given up
        notification.attempts += 1
        notification.last_error = f"{error.__class__.__name__}: {error}"[:300]
        if notification.attempts >= MAX_ATTEMPTS:
            return _finish(notification, Notification.Status.FAILED, notification.last_error)
        notification.next_attempt_at = now + RETRY_BASE * 2 ** (notification.attempts - 1)
        notification.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        log.warning("energy: notification %s failed, retrying: %s", notification.pk, error)
        return "retry"
    notification.attempts += 1
    notification.sent_at = now
    notification.save(update_fields=["attempts", "sent_at"])
    return _finish(notification, Notification.Status.SENT, "")


def _finish(notification: Notification, status: str, error: str) -> str:
    notification.status, notification.last_error = status, error[:300]
    notification.save(update_fields=["status", "last_error"])
    return {"sent": "sent", "skipped": "skipped", "failed": "failed"}[status]


def quiet_hours_end(profile: EnergyProfile, now: datetime) -> datetime | None:
    """When the owner's quiet hours end, if `now` is inside them; None otherwise."""
    start, end = profile.quiet_start, profile.quiet_end
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(profile.user.time_zone or settings.TIME_ZONE)
    local = now.astimezone(zone)
    clock = local.time()
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone)


def _subject(notification: Notification) -> str:
    alert = notification.alert
    if notification.event == "resolved":
        return _("[FlowSuite] Resolved: %(message)s") % {"message": alert.message}
    return _("[FlowSuite] Alert: %(message)s") % {"message": alert.message}


def _link(alert: Alert) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/energy/alerts/?alert={alert.pk}"


def _send_email(notification: Notification) -> None:
    alert = notification.alert
    lines = [
        alert.message,
        "",
        _("Opened: %(time)s") % {"time": _local(alert.opened_at, alert)},
    ]
    if alert.resolved_at:
        lines.append(_("Resolved: %(time)s") % {"time": _local(alert.resolved_at, alert)})
    if alert.node:
        lines.append(_("Node: %(node)s") % {"node": alert.node})
    lines += ["", _link(alert)]
    send_mail(
        _subject(notification),
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        [notification.target],
    )


def _local(moment: datetime, alert: Alert) -> str:
    zone = ZoneInfo(alert.owner.time_zone or settings.TIME_ZONE)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def webhook_body(notification: Notification) -> dict:
    alert = notification.alert
    rule = alert.rule
    kind = rule.webhook_format if rule else AlertRule.WebhookFormat.JSON
    text = _subject(notification)
    if kind == AlertRule.WebhookFormat.DISCORD:
        return {
            "username": "FlowSuite",
            "content": text,
            "embeds": [
                {
                    "title": alert.message,
                    "url": _link(alert),
                    "color": COLOURS.get(alert.severity, 0),
                    "timestamp": alert.opened_at.isoformat(),
                    "fields": [
                        {"name": key, "value": str(value), "inline": True}
                        for key, value in alert.values.items()
                        if not isinstance(value, dict)
                    ][:10],
                }
            ],
        }
    if kind == AlertRule.WebhookFormat.SLACK:
        return {"text": f"{text}\n<{_link(alert)}|FlowSuite>"}
    return {
        "event": notification.event,
        "alert": {
            "id": alert.pk,
            "status": alert.status,
            "severity": alert.severity,
            "message": alert.message,
            "source": alert.source,
            "rule": rule.name if rule else None,
            "node": alert.node.device_id if alert.node else None,
            "values": alert.values,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "url": _link(alert),
        },
    }


def post_json(url: str, body: dict, timeout: float = WEBHOOK_TIMEOUT) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "FlowSuite"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.status


def _send_webhook(notification: Notification) -> None:
    post_json(notification.target, webhook_body(notification))
