"""Recording a camera's motion events: the one place they are written.

`record_event(camera, fields, files)` checks the snapshots by decoding them, stores the event,
its snapshots and thumbnails in one transaction (files saved in it are removed again if it
fails), marks the camera seen, queues its webhook deliveries (notifications.queue: none when
the camera's notices are off or the event is in its quiet hours) and, after commit, publishes
to the live group `surveillance.events` (subscribers need `surveillance.view_motionevent`):

    {"type": "event", "data": {
        "id": 12, "event_id": "<uuid>",
        "camera": {"id": 1, "name": "Gate", "location": "North fence"},
        "started_at": "<ISO 8601>", "ended_at": "<ISO 8601>",
        "score": 0.042,                       # changed-area fraction, 0..1
        "boxes": [[x, y, w, h], ...], "frame_width": 640, "frame_height": 480,
        "snapshots": 2,                       # how many pictures the event has
        "image_url": "/surveillance/...",     # surveillance:image of the best snapshot
        "thumbnail_url": "/surveillance/...", # surveillance:thumbnail (null before the view exists)
    }}

The pages turn it into a toast ("Motion at Gate", translated in the browser) and add it to
today's gallery. An event is identified by (camera, event_id): posting it again returns the
stored one and stores nothing, also when two posts race (the unique constraint decides).
"""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from flowsuite import live

from . import notifications
from .live import EVENTS_GROUP
from .models import Camera, MotionEvent, Snapshot
from .uploads import CheckedImage, ImageRejected, check_image

FIELDS = ("started_at", "ended_at", "score", "boxes", "frame_width", "frame_height")


def record_event(camera: Camera, fields: dict, files: list) -> tuple[MotionEvent, bool]:
    """Store a camera's event with its snapshots (file objects or bytes, the best first);
    returns (event, created). `fields`: event_id, started_at, ended_at, score, boxes,
    frame_width, frame_height (already validated). Raises ImageRejected for a bad upload."""
    event_id = fields["event_id"]
    existing = _stored(camera, event_id)
    if existing is not None:
        return existing, False
    images = _check_all(files)
    saved: list[str] = []
    try:
        with transaction.atomic():
            event = MotionEvent.objects.create(
                camera=camera, event_id=event_id, **{name: fields[name] for name in FIELDS}
            )
            snapshots = [
                _store(event, position, image, saved) for position, image in enumerate(images)
            ]
            camera.last_seen_at = timezone.now()
            Camera.objects.filter(pk=camera.pk).update(last_seen_at=camera.last_seen_at)
            notifications.queue(event)
            live.publish(EVENTS_GROUP, "event", live_payload(event, snapshots))
    except IntegrityError:
        _remove(saved)
        # Another post of the same event won the race: its row is the event.
        existing = _stored(camera, event_id)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        _remove(saved)
        raise
    return event, True


def _stored(camera: Camera, event_id) -> MotionEvent | None:
    return MotionEvent.objects.filter(camera=camera, event_id=event_id).first()


def _check_all(files: list) -> list[CheckedImage]:
    if not files:
        raise ImageRejected("no_snapshot", _("Send at least one snapshot."))
    if len(files) > settings.SURVEILLANCE_MAX_SNAPSHOTS:
        raise ImageRejected(
            "too_many_snapshots",
            _("At most %(count)d snapshots per event.")
            % {"count": settings.SURVEILLANCE_MAX_SNAPSHOTS},
        )
    return [check_image(upload) for upload in files]


def _store(event: MotionEvent, position: int, image: CheckedImage, saved: list) -> Snapshot:
    snapshot = Snapshot(
        event=event,
        position=position,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size=image.size,
    )
    # The name only gives the extension: the stored name is a fresh random one.
    snapshot.image.save(f"snapshot.{image.extension}", ContentFile(image.data), save=False)
    saved.append(snapshot.image.name)
    snapshot.thumbnail.save("thumbnail.jpg", ContentFile(image.thumbnail), save=False)
    saved.append(snapshot.thumbnail.name)
    snapshot.save()
    return snapshot


def _remove(names: list[str]) -> None:
    storage = Snapshot._meta.get_field("image").storage
    for name in names:
        storage.delete(name)


def live_payload(event: MotionEvent, snapshots: list[Snapshot]) -> dict:
    camera = event.camera
    best = snapshots[0] if snapshots else None
    return {
        "id": event.pk,
        "event_id": str(event.event_id),
        "camera": {"id": camera.pk, "name": camera.name, "location": camera.location},
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "score": event.score,
        "boxes": event.boxes,
        "frame_width": event.frame_width,
        "frame_height": event.frame_height,
        "snapshots": len(snapshots),
        "image_url": notifications.snapshot_url("image", best) if best else None,
        "thumbnail_url": notifications.snapshot_url("thumbnail", best) if best else None,
    }
