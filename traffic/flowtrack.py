"""Delivering FlowTrack batches (the SyncBatch outbox) to the central FlowTrack system.

Who sends them: `deliver_due()` runs in the energy worker's tick (inside `mqtt_bridge`,
`energy_watchdog` and `make run`'s demo feed) and in `manage.py flowtrack_sync` (a loop, or
`--once`). Several senders at once never send a batch twice: each claims a batch (moves its
`next_attempt_at`) before sending it, and a batch is marked sent as soon as FlowTrack answered
2xx. Should a sender die between the 2xx and that mark, the batch goes again with the same
`Idempotency-Key` (its key), which FlowTrack uses to store it once.

How: REST when FLOWTRACK_URL is set — `POST` the batch's JSON (validation.batch_payload) with
`Authorization: Bearer FLOWTRACK_TOKEN` and `Idempotency-Key: <batch key>`; and/or MQTT when
FLOWTRACK_MQTT_TOPIC is set — publish the same JSON at QoS 1 to MQTT_URL's broker and wait for
its PUBACK. Failures are retried with exponential backoff (30 s doubling, at most an hour
apart) for as long as FlowTrack is away; a batch FlowTrack refuses as malformed (400, 413,
422) is marked failed, and an operator may queue it again (`retry`). With neither setting,
batches simply wait.
"""

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .models import SyncBatch
from .selectors import flowtrack_configured

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
CLAIM_FOR = timedelta(minutes=2)  # longer than a send can take
TIMEOUT = 10
PERMANENT = {400, 413, 422}  # FlowTrack says the batch itself is wrong: sending it again won't help


class MqttFailed(Exception):
    pass


def deliver_due(now: datetime | None = None, limit: int = 20) -> dict[str, int]:
    """Send the batches that are due; returns how many were sent, are to retry, failed."""
    done = {"sent": 0, "retry": 0, "failed": 0}
    if not flowtrack_configured():
        return done
    now = now or timezone.now()
    due = SyncBatch.objects.filter(
        status=SyncBatch.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")[:limit]
    for batch in list(due):
        if not _claim(batch, now):
            continue
        outcome = _deliver(batch, now)
        done[outcome] += 1
        if outcome == "retry":
            break  # FlowTrack is away: the others wait for the next pass
    return done


def _claim(batch: SyncBatch, now: datetime) -> bool:
    # Whoever moves next_attempt_at first sends it; another sender's update then matches no row.
    claimed = SyncBatch.objects.filter(
        pk=batch.pk, status=SyncBatch.Status.PENDING, next_attempt_at=batch.next_attempt_at
    ).update(next_attempt_at=now + CLAIM_FOR)
    return claimed == 1


def _deliver(batch: SyncBatch, now: datetime) -> str:
    batch.attempts += 1
    try:
        send(batch)
    except Exception as error:  # whatever the far end did, retry it (or give up if refused)
        batch.last_error = describe(error)[:300]
        if is_permanent(error):
            batch.status = SyncBatch.Status.FAILED
            log.warning("flowtrack: batch %s refused: %s", batch.key, batch.last_error)
        else:
            batch.next_attempt_at = now + retry_delay(batch.attempts)
        batch.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return "failed" if batch.status == SyncBatch.Status.FAILED else "retry"
    batch.status, batch.sent_at, batch.last_error = SyncBatch.Status.SENT, timezone.now(), ""
    batch.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    log.info("flowtrack: batch %s sent (attempt %d)", batch.key, batch.attempts)
    return "sent"


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, then twice as long each time, at most an hour."""
    return min(RETRY_BASE * 2 ** min(attempts - 1, 20), RETRY_MAX)


def is_permanent(error: Exception) -> bool:
    return isinstance(error, urllib.error.HTTPError) and error.code in PERMANENT


def describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    return f"{error.__class__.__name__}: {error}"


def retry(batch: SyncBatch) -> bool:
    """Queue a failed batch again (an operator's action); False if it was not failed."""
    return bool(
        SyncBatch.objects.filter(pk=batch.pk, status=SyncBatch.Status.FAILED).update(
            status=SyncBatch.Status.PENDING, next_attempt_at=timezone.now(), last_error=""
        )
    )


# --- the transports -------------------------------------------------------------------------


def body_of(batch: SyncBatch) -> bytes:
    return json.dumps(batch.payload, cls=DjangoJSONEncoder).encode()


def send(batch: SyncBatch) -> None:
    """Deliver one batch now by REST and/or MQTT; raises on any failure (non-2xx included)."""
    if settings.FLOWTRACK_URL:
        post(batch)
    if settings.FLOWTRACK_MQTT_TOPIC:
        publish(batch)


def post(batch: SyncBatch) -> int:
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(batch.key),
        "User-Agent": "FlowSuite",
    }
    if settings.FLOWTRACK_TOKEN:
        headers["Authorization"] = f"Bearer {settings.FLOWTRACK_TOKEN}"
    request = urllib.request.Request(
        settings.FLOWTRACK_URL, data=body_of(batch), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        return answer.status


def publish(batch: SyncBatch) -> None:
    """Publish at QoS 1 and wait for the broker's PUBACK."""
    from flowsuite import mqtt

    broker = mqtt.configured_broker()
    if broker is None:
        raise MqttFailed("FLOWTRACK_MQTT_TOPIC is set but MQTT_URL is not")
    client = mqtt.make_client(broker, purpose="flowtrack")
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    try:
        info = client.publish(settings.FLOWTRACK_MQTT_TOPIC, body_of(batch), qos=1)
        info.wait_for_publish(timeout=TIMEOUT)
        if not info.is_published():
            raise MqttFailed(f"no PUBACK from {broker} within {TIMEOUT} s")
    finally:
        client.disconnect()
        client.loop_stop()
