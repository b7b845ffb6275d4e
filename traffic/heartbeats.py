"""A traffic camera's heartbeats and snapshots: it is online, how its agent is doing, what its
view looks like (analysts draw counting lines on the snapshot).

Both publish to `traffic.intersection.<id>` after commit:
    "status":   {"camera": 2, "online": true, "last_seen_at": "<ISO 8601>",
                 "health": {"fps": 24.8, "outbox_pending": 0, ...}}
    "snapshot": {"camera": 2, "snapshot_at": "<ISO 8601>",
                 "url": "/api/traffic/cameras/2/snapshot/?v=..."}
The annotated snapshot (what the counter sees, for the line editor) is published to no one.
"""

import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from flowsuite import live

from .live import intersection_group
from .models import TrafficCamera

MAX_SNAPSHOT_BYTES = 1024 * 1024
MAX_SNAPSHOT_PIXELS = 4096 * 4096


class SnapshotRejected(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@transaction.atomic
def record_heartbeat(camera: TrafficCamera, health: dict) -> dict:
    """Store the agent's health and last-seen time; return the answer for the agent (the
    camera's config version: a different one means "fetch the configuration again")."""
    now = timezone.now()
    fresh = (
        TrafficCamera.objects.select_for_update().only("health", "config_version").get(pk=camera.pk)
    )
    # The interval fields (frames, gaps) come with the counts: keep them beside the heartbeat's.
    merged = {**(fresh.health or {}), **health, "heartbeat_at": now.isoformat()}
    TrafficCamera.objects.filter(pk=camera.pk).update(last_seen_at=now, health=merged)
    camera.last_seen_at, camera.health = now, merged
    live.publish(
        intersection_group(camera.intersection_id),
        "status",
        {"camera": camera.pk, "online": True, "last_seen_at": now, "health": merged},
    )
    return {"config_version": fresh.config_version}


def check_snapshot(data: bytes) -> tuple[int, int]:
    """The size of a JPEG, checked by decoding it; raises SnapshotRejected."""
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotRejected(_("A snapshot may be at most 1 MB."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise SnapshotRejected(_("A snapshot is a JPEG picture."))
            if image.width * image.height > MAX_SNAPSHOT_PIXELS:
                raise SnapshotRejected(_("The snapshot has too many pixels."))
            image.load()
            return image.width, image.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise SnapshotRejected(_("Not a whole JPEG picture.")) from None


def record_snapshot(camera: TrafficCamera, data: bytes, *, annotated: bool = False) -> None:
    """Keep the camera's newest view (the previous picture is removed). `annotated`: the
    counter's own view instead (its processing frame with its lines, tracks and counts drawn),
    kept beside the plain one, which stays the picture the pages show and lines are drawn on."""
    check_snapshot(data)
    field = "annotated_snapshot" if annotated else "snapshot"
    picture = getattr(camera, field)
    old = picture.name if picture else ""
    now = timezone.now()
    with transaction.atomic():
        name = f"camera-{camera.pk}-annotated.jpg" if annotated else f"camera-{camera.pk}.jpg"
        picture.save(name, ContentFile(data), save=False)
        setattr(camera, f"{field}_at", now)
        camera.last_seen_at = now
        TrafficCamera.objects.filter(pk=camera.pk).update(
            **{field: picture.name, f"{field}_at": now, "last_seen_at": now}
        )
        if not annotated:
            live.publish(
                intersection_group(camera.intersection_id),
                "snapshot",
                {"camera": camera.pk, "snapshot_at": now, "url": snapshot_url(camera)},
            )
    if old and old != picture.name:
        picture.storage.delete(old)


def snapshot_url(camera: TrafficCamera) -> str | None:
    """Where people with traffic rights see the camera's latest snapshot (None: no snapshot)."""
    if not camera.snapshot:
        return None
    version = int(camera.snapshot_at.timestamp()) if camera.snapshot_at else 0
    return f"{reverse('api:traffic-camera-snapshot', args=[camera.pk])}?v={version}"


def annotated_snapshot_url(camera: TrafficCamera, *, page: bool = False) -> str | None:
    """Where the same people see what the counter saw last (None: it sent nothing yet); on
    the API, or with `page` beside the page's snapshot URL."""
    if not camera.annotated_snapshot:
        return None
    name = "traffic:annotated_snapshot" if page else "api:traffic-camera-annotated-snapshot"
    at = camera.annotated_snapshot_at
    version = int(at.timestamp()) if at else 0
    return f"{reverse(name, args=[camera.pk])}?v={version}"


def picture_response(picture, max_age: int) -> FileResponse:
    """A camera's stored picture (its snapshot, or what its counter sees) as a JPEG answer;
    404 when there is none, or its file is gone. The pages and the API both answer with it."""
    if not picture:
        raise Http404
    try:
        handle = picture.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = f"private, max-age={max_age}"
    return response
