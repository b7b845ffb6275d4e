"""Webhook notices of motion events: queued with the event (Delivery rows, an outbox), sent
outside the request path, retried with exponential backoff, given up after MAX_ATTEMPTS.

Who sends them: `deliver_due()` runs in the energy worker's tick (so inside `mqtt_bridge`,
`energy_watchdog` and `make run`'s demo feed) and in `manage.py surveillance_notify` (a loop,
or `--once`) for set-ups that run none of those. Several of them at once never send a notice
twice: each claims a delivery before sending it.

Two shapes:
- Discord (or any Discord-compatible receiver): multipart/form-data with `payload_json` (a
  message with an embed showing the attached picture) and the best snapshot as `files[0]`;
- JSON: the event's fields and absolute links to its pictures (built from SITE_URL; they
  need a logged-in person with camera rights).
"""

import json
import logging
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Camera, Delivery, MotionEvent, Snapshot, Webhook

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(seconds=30)  # 30 s, 1, 2, 4, 8 min: about a quarter of an hour
CLAIM_FOR = timedelta(minutes=2)  # longer than a send can take
TIMEOUT = 10
COLOUR = 0xDC2626


# --- queueing (inside the event's transaction) ------------------------------------------


def queue(event: MotionEvent) -> list[Delivery]:
    """The deliveries of a new event: none if the camera's notices are off, it has no
    webhook, or the event started in its quiet hours."""
    camera = event.camera
    if not camera.notify or in_quiet_hours(camera, event.started_at):
        return []
    targets = [(Webhook.DISCORD, camera.discord_webhook_url), (Webhook.JSON, camera.webhook_url)]
    return [
        Delivery.objects.create(event=event, kind=kind, url=url) for kind, url in targets if url
    ]


def in_quiet_hours(camera: Camera, moment: datetime) -> bool:
    """Whether `moment` falls in the camera's quiet hours (its own time zone; a window such as
    22:00-06:00 crosses midnight)."""
    start, end = camera.quiet_start, camera.quiet_end
    if start is None or end is None or start == end:
        return False
    clock = moment.astimezone(_zone(camera)).time()
    return start <= clock < end if start < end else clock >= start or clock < end


def _zone(camera: Camera) -> ZoneInfo:
    try:
        return ZoneInfo(camera.time_zone or settings.TIME_ZONE)
    except (ValueError, KeyError):  # a zone name this system does not know
        return ZoneInfo(settings.TIME_ZONE)


# --- delivery (outside the request path) ------------------------------------------------


def deliver_due(now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Send the deliveries that are due; returns how many were sent, retried or given up."""
    now = now or timezone.now()
    done = {"sent": 0, "retry": 0, "failed": 0}
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")[:limit]
    for delivery in list(due):
        if _claim(delivery, now):
            done[_deliver(delivery, now)] += 1
    return done


def _claim(delivery: Delivery, now: datetime) -> bool:
    # Whoever moves next_attempt_at first sends it; another runner's update then matches no row.
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, next_attempt_at=delivery.next_attempt_at
    ).update(next_attempt_at=now + CLAIM_FOR)
    return claimed == 1


def _deliver(delivery: Delivery, now: datetime) -> str:
    delivery.attempts += 1
    try:
        with translation.override(settings.LANGUAGE_CODE):
            send(delivery)
    except Exception as error:  # whatever the far end did, retry it, then give up
        delivery.last_error = _describe(error)[:300]
        retry_in = RETRY_BASE * 2 ** (delivery.attempts - 1)
        if _is_permanent(error) or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = Delivery.Status.FAILED
            log.warning("surveillance: delivery %s failed: %s", delivery.pk, delivery.last_error)
        else:
            delivery.next_attempt_at = now + max(retry_in, _retry_after(error))
        delivery.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return "failed" if delivery.status == Delivery.Status.FAILED else "retry"
    delivery.status, delivery.sent_at, delivery.last_error = Delivery.Status.SENT, now, ""
    delivery.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    return "sent"


def _is_permanent(error: Exception) -> bool:
    # A receiver that says the request itself is wrong (a deleted Discord webhook: 404) will
    # say so again; timeouts, rate limits and server errors may pass.
    return (
        isinstance(error, urllib.error.HTTPError)
        and error.code < 500
        and error.code
        not in (
            408,
            429,
        )
    )


def _retry_after(error: Exception) -> timedelta:
    if isinstance(error, urllib.error.HTTPError) and error.code == 429:
        try:
            return timedelta(seconds=float(error.headers.get("Retry-After", 0)))
        except ValueError:
            pass
    return timedelta(0)


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    return f"{error.__class__.__name__}: {error}"


def send(delivery: Delivery) -> None:
    """POST one delivery now; raises on any failure (a status other than 2xx included)."""
    event = delivery.event
    if delivery.kind == Webhook.DISCORD:
        fields, files = discord_payload(event)
        body, content_type = _multipart(fields, files)
    else:
        body, content_type = json.dumps(json_payload(event)).encode(), "application/json"
    request = urllib.request.Request(
        delivery.url,
        data=body,
        headers={"Content-Type": content_type, "User-Agent": "FlowSuite"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT):
        pass


# --- payloads ---------------------------------------------------------------------------


def discord_payload(event: MotionEvent) -> tuple[dict, list[tuple[str, str, str, bytes]]]:
    """Discord's webhook form: (fields, files) with `payload_json` and the best snapshot as
    `files[0]` (name, file name, content type, bytes), shown in the embed."""
    camera = event.camera
    title = _("Motion at %(camera)s") % {"camera": camera.name}
    embed = {
        "title": title,
        "url": event_link(event),
        "color": COLOUR,
        "timestamp": event.started_at.isoformat(),
        "fields": [
            {"name": _("Camera"), "value": camera.name, "inline": True},
            {"name": _("Time"), "value": _local_time(event), "inline": True},
            {"name": _("Score"), "value": f"{event.score:.1%}", "inline": True},
        ],
    }
    if camera.location:
        embed["fields"].insert(1, {"name": _("Location"), "value": camera.location})
    files = []
    snapshot = event.snapshots.order_by("position").first()
    if snapshot is not None:
        name = f"motion-{event.pk}.{snapshot.image.name.rsplit('.', 1)[-1]}"
        with snapshot.image.open("rb") as image:
            files.append(("files[0]", name, snapshot.content_type, image.read()))
        embed["image"] = {"url": f"attachment://{name}"}
    payload = {
        "username": "FlowSuite",
        "content": f"{title} ({_local_time(event)})",
        "embeds": [embed],
        "attachments": [{"id": 0, "filename": files[0][1]}] if files else [],
        "allowed_mentions": {"parse": []},
    }
    return {"payload_json": json.dumps(payload)}, files


def json_payload(event: MotionEvent) -> dict:
    camera = event.camera
    return {
        "type": "motion",
        "id": event.pk,
        "event_id": str(event.event_id),
        "camera": {"id": camera.pk, "name": camera.name, "location": camera.location},
        "started_at": event.started_at.isoformat(),
        "ended_at": event.ended_at.isoformat(),
        "score": event.score,
        "boxes": event.boxes,
        "frame_width": event.frame_width,
        "frame_height": event.frame_height,
        "snapshots": [
            {
                "image_url": absolute(snapshot_url("image", snapshot)),
                "thumbnail_url": absolute(snapshot_url("thumbnail", snapshot)),
                "content_type": snapshot.content_type,
                "width": snapshot.width,
                "height": snapshot.height,
            }
            for snapshot in event.snapshots.order_by("position")
        ],
        "url": event_link(event),
    }


def snapshot_url(kind: str, snapshot: Snapshot) -> str | None:
    """The site path of a snapshot's image or thumbnail (`surveillance:image` and
    `surveillance:thumbnail`, served to people with camera rights), or None before those
    views exist."""
    try:
        return reverse(f"surveillance:{kind}", args=[snapshot.pk])
    except NoReverseMatch:
        return None


def event_link(event: MotionEvent) -> str:
    """The gallery of the event's day (in the camera's time zone) and camera."""
    day = event.started_at.astimezone(_zone(event.camera)).date()
    try:
        path = f"{reverse('surveillance:gallery')}?date={day}&camera={event.camera_id}"
    except NoReverseMatch:  # before the pages exist
        path = reverse("surveillance:home")
    return absolute(path)


def absolute(path: str | None) -> str | None:
    return f"{settings.SITE_URL.rstrip('/')}{path}" if path else None


def _local_time(event: MotionEvent) -> str:
    return event.started_at.astimezone(_zone(event.camera)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _multipart(fields: dict, files: list) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: application/json\r\n\r\n".encode()
            + value.encode()
            + b"\r\n"
        )
    for name, filename, content_type, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
