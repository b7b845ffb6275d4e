"""Small factories for the camera side of the tests: pictures, cameras, event uploads."""

import io
import uuid
from datetime import UTC, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from conftest import bearer_client, make_user
from surveillance.cameras import camera_create

EVENTS_URL = "/api/surveillance/device/events/"
HEARTBEAT_URL = "/api/surveillance/device/heartbeat/"
FRAMES_URL = "/api/surveillance/device/frames/"


def picture(width=64, height=48, fmt="JPEG", colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def upload_file(data: bytes, name="snapshot.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def new_camera(name="Gate", owner=None, **fields):
    """A camera and its raw device key."""
    owner = owner or make_user(f"owner-{uuid.uuid4().hex[:8]}@example.com")
    return camera_create(owner=owner, name=name, **fields)


def event_form(*snapshots, event_id=None, started_at=None, **overrides) -> dict:
    started_at = started_at or datetime.now(UTC) - timedelta(minutes=1)
    form = {
        "event_id": str(event_id or uuid.uuid4()),
        "started_at": started_at.isoformat(),
        "ended_at": (started_at + timedelta(seconds=4)).isoformat(),
        "score": "0.042",
        "boxes": "[[10, 12, 20, 18]]",
        "frame_width": "64",
        "frame_height": "48",
        "snapshots": list(snapshots) or [upload_file(picture())],
    }
    form.update(overrides)
    return form


def post_event(raw_key: str | None, form: dict):
    client = bearer_client(raw_key) if raw_key else bearer_client("")
    if raw_key is None:
        client.credentials()
    return client.post(EVENTS_URL, form, format="multipart")


def event_fields(event_id=None, started_at=None, **overrides) -> dict:
    """Validated fields for events.record_event."""
    started_at = started_at or datetime.now(UTC) - timedelta(minutes=1)
    fields = {
        "event_id": event_id or uuid.uuid4(),
        "started_at": started_at,
        "ended_at": started_at + timedelta(seconds=4),
        "score": 0.042,
        "boxes": [[10, 12, 20, 18]],
        "frame_width": 64,
        "frame_height": 48,
    }
    fields.update(overrides)
    return fields
