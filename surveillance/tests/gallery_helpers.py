"""Factories for the gallery tests: cameras and events made straight with the models, with
small pictures drawn by Pillow."""

import io
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from surveillance.models import Camera, MotionEvent, Snapshot


def jpeg(width=160, height=120, colour=(40, 60, 90), spot=None) -> bytes:
    """A JPEG of one colour, with a bright rectangle `spot` = (x, y, w, h) if given."""
    picture = Image.new("RGB", (width, height), colour)
    if spot:
        x, y, w, h = spot
        ImageDraw.Draw(picture).rectangle([x, y, x + w, y + h], fill=(250, 220, 90))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def make_camera(name="Gate", **fields) -> Camera:
    return Camera.objects.create(name=name, **fields)


def make_event(camera, started_at, *, score=0.05, boxes=None, snapshots=1, size=(160, 120)):
    boxes = [[40, 30, 32, 24]] if boxes is None else boxes
    event = MotionEvent.objects.create(
        camera=camera,
        event_id=uuid.uuid4(),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=3),
        score=score,
        boxes=boxes,
        frame_width=size[0],
        frame_height=size[1],
    )
    for position in range(snapshots):
        data = jpeg(*size, spot=boxes[0] if boxes and position == 0 else None)
        snapshot = Snapshot(
            event=event,
            position=position,
            content_type="image/jpeg",
            width=size[0],
            height=size[1],
            size=len(data),
        )
        snapshot.image.save("snapshot.jpg", ContentFile(data), save=False)
        snapshot.thumbnail.save("thumb.jpg", ContentFile(jpeg(80, 60)), save=False)
        snapshot.save()
    return event
