"""Demo cameras (manage.py seed_demo): "Gate" and "Yard", with a few days of motion events
whose snapshots are drawn here (a scene, a moving truck or person, sensor noise), so that the
gallery has content from the first `make run`. Their device keys are printed once: give one
to `python -m edge motion --key ...` to feed the site from a video file."""

import functools
import io
import random
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User

from . import events
from .cameras import camera_create
from .models import Camera

WIDTH, HEIGHT = 640, 360
DAYS = 4
EVENTS_PER_DAY = 5
CAMERAS = [
    ("Gate", "North gate, facing the road", "gate"),
    ("Yard", "Loading yard", "yard"),
]


def seed(log) -> None:
    if Camera.objects.filter(name__in=[name for name, _, _ in CAMERAS]).exists():
        log("demo cameras exist: demo surveillance data left as it is")
        return
    owner = User.objects.filter(email="admin@flowsuite.demo").first()
    if owner is None:
        log("no demo admin: no demo cameras")
        return
    chance = random.Random(5)
    for name, location, scene in CAMERAS:
        camera, raw_key = camera_create(owner=owner, name=name, location=location)
        count = _seed_events(camera, scene, chance)
        log(f"camera {name}: {count} motion events; device key {raw_key} (shown once)")


def _seed_events(camera: Camera, scene: str, chance: random.Random) -> int:
    background = _background(scene, chance)
    zone = ZoneInfo(camera.time_zone or settings.TIME_ZONE)
    now = timezone.now()
    today = now.astimezone(zone).date()
    count = 0
    last = None
    for days_back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=days_back)
        for _ in range(EVENTS_PER_DAY):
            clock = time(chance.randint(6, 21), chance.randint(0, 59), chance.randint(0, 59))
            started = datetime.combine(day, clock, zone)
            if started > now - timedelta(minutes=5):
                continue
            fields, pictures = _event(background, scene, started, chance, camera.name)
            events.record_event(camera, fields, pictures)
            last = max(last or started, started)
            count += 1
    # No agent runs yet: the camera was last heard of at its last event, not now.
    Camera.objects.filter(pk=camera.pk).update(last_seen_at=last)
    return count


def _event(background: np.ndarray, scene: str, started: datetime, chance, name: str):
    truck = scene == "gate" and chance.random() < 0.5
    width, height = (190, 110) if truck else (34, 90)
    y = HEIGHT - height - chance.randint(20, 60)
    x = chance.randint(0, WIDTH - width - 120)
    colour = tuple(chance.randint(40, 220) for _ in range(3))
    pictures, boxes = [], []
    # Dusk and dawn are darker: the pictures say what time it was.
    light = 1.0 if 8 <= started.hour < 18 else 0.6
    base = (background * light).astype(np.int16)
    for step in range(chance.randint(1, 3)):
        left = x + step * 45
        frame = _frame(base, (left, y, width, height), colour, truck, chance)
        _stamp(frame, f"{name}  {started + timedelta(seconds=step):%Y-%m-%d %H:%M:%S}")
        pictures.append(_jpeg(frame))
        boxes.append([left, y, width, height])
    fields = {
        "event_id": uuid.uuid4(),
        "started_at": started,
        "ended_at": started + timedelta(seconds=len(pictures) + chance.randint(1, 6)),
        "score": round(width * height / (WIDTH * HEIGHT) * chance.uniform(0.8, 1.2), 4),
        "boxes": [boxes[0]],
        "frame_width": WIDTH,
        "frame_height": HEIGHT,
    }
    return fields, pictures


def _background(scene: str, chance) -> np.ndarray:
    """A static scene: sky, ground, and the scene's furniture, with some texture."""
    rows = np.linspace(0, 1, HEIGHT)[:, None, None]
    sky = np.array([150, 185, 225]) * (1 - rows * 0.4)
    ground = np.array([95, 95, 90]) if scene == "gate" else np.array([120, 105, 80])
    horizon = int(HEIGHT * 0.45)
    image = np.where(np.arange(HEIGHT)[:, None, None] < horizon, sky, ground)
    image = np.broadcast_to(image, (HEIGHT, WIDTH, 3)).copy()
    texture = np.random.default_rng(chance.randint(0, 1000)).normal(0, 6, image.shape)
    picture = Image.fromarray(np.clip(image + texture, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    if scene == "gate":
        draw.rectangle([0, horizon - 40, WIDTH, horizon], fill=(70, 110, 70))  # hedge
        for left in range(380, 640, 18):  # the gate's bars
            draw.rectangle([left, horizon - 70, left + 4, horizon + 30], fill=(60, 60, 65))
        draw.rectangle([380, horizon - 70, 640, horizon - 62], fill=(60, 60, 65))
        draw.line([0, HEIGHT - 40, WIDTH, HEIGHT - 70], fill=(220, 220, 210), width=3)
    else:
        for index, left in enumerate(range(20, 600, 150)):
            tone = [(170, 60, 40), (40, 90, 150), (60, 120, 70), (160, 130, 40)][index % 4]
            draw.rectangle([left, horizon - 60, left + 130, horizon + 20], fill=tone)
        draw.rectangle([600, 40, 606, horizon + 40], fill=(80, 80, 80))  # a light pole
    return np.asarray(picture, dtype=np.float32)


def _frame(background, box, colour, truck: bool, chance) -> Image.Image:
    # Sensor noise: a window of one pre-drawn noise field (drawing it per frame was most of
    # the seeding time).
    dy, dx = chance.randint(0, NOISE_MARGIN), chance.randint(0, NOISE_MARGIN)
    grain = _noise()[dy : dy + HEIGHT, dx : dx + WIDTH]
    picture = Image.fromarray(np.clip(background + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    x, y, width, height = box
    if truck:
        draw.rectangle([x, y, x + width - 50, y + height - 20], fill=colour)  # box
        draw.rectangle([x + width - 48, y + 30, x + width, y + height - 20], fill=(200, 200, 205))
        for wheel in (x + 25, x + width - 30):
            draw.ellipse(
                [wheel - 14, y + height - 30, wheel + 14, y + height - 2], fill=(20, 20, 20)
            )
    else:
        draw.ellipse([x + 9, y, x + 25, y + 16], fill=(225, 190, 160))  # head
        draw.rectangle([x + 4, y + 17, x + 30, y + 55], fill=colour)  # body
        draw.rectangle([x + 7, y + 56, x + 27, y + height], fill=(40, 40, 60))  # legs
    return picture


NOISE_MARGIN = 32


@functools.cache
def _noise() -> np.ndarray:
    shape = (HEIGHT + NOISE_MARGIN, WIDTH + NOISE_MARGIN, 3)
    return np.random.default_rng(5).integers(-5, 6, size=shape, dtype=np.int16)


def _stamp(picture: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(picture)
    draw.rectangle([6, 6, 14 + 6 * len(text), 22], fill=(0, 0, 0))
    draw.text((10, 8), text, fill=(255, 255, 255))


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
