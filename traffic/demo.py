"""Demo traffic (manage.py seed_demo): the intersection "Main St & 5th Ave" with two cameras that
look at real footage (traffic/clips: "North" a residential street, "South" a parking-lot aisle),
each with a frame of its clip as its snapshot and a counting line that counts on the clip, and a
few days of counts with a daily rhythm (rush hours), the oldest day reviewed and one batch
already delivered to FlowTrack, so the dashboards, charts and review pages have content from the
first `make run`. The camera keys are printed once: give one to `python -m edge traffic --key
...` with its clip as `--source` to feed the site live."""

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import cv2
from django.utils import timezone

from accounts.models import User

from . import counts, validation
from .cameras import camera_create
from .heartbeats import record_snapshot
from .models import Count, CountLine, Intersection, SyncBatch
from .selectors import zone_of

NAME = "Main St & 5th Ave"
DAYS = 3
INTERVAL = 15  # minutes: a few days of history stay quick to seed
CLIPS = Path(__file__).resolve().parent / "clips"


@dataclass(frozen=True)
class DemoCamera:
    name: str
    clip: str  # in traffic/clips
    size: tuple[int, int]  # the clip's frame
    snapshot_frame: int  # a decoded frame with vehicles in view
    # (name, x1, y1, x2, y2, in_label, out_label), the lines of the clip's ground_truth.json:
    # "in" is from the right of the line to its left, seen from (x1, y1) towards (x2, y2).
    lines: list[tuple]
    classes: list[tuple[str, float]]  # the seeded counts' classes, relative to cars
    busy: float  # the seeded counts' share of the busiest camera's


CAMERAS = [
    # Frame 536: the school bus on the line, the parked cars both sides.
    DemoCamera(
        name="North",
        clip="street_cvTrafficCam_traffic.mp4",
        size=(640, 360),
        snapshot_frame=536,
        lines=[("Street", 340, 100, 340, 235, "rightward, near lane", "leftward, far lane")],
        # pickups, the school bus, now and then a cyclist
        classes=[
            ("car", 1.0),
            ("truck", 0.3),
            ("bus", 0.03),
            ("motorbike", 0.03),
            ("bicycle", 0.05),
        ],
        busy=1.0,
    ),
    # Frame 207: two cars pass each other on the line.
    DemoCamera(
        name="South",
        clip="parkinglot_car-detection.mp4",
        size=(768, 432),
        snapshot_frame=207,
        lines=[("Parking aisle", 0, 216, 768, 216, "up", "down")],
        classes=[("car", 1.0), ("truck", 0.04), ("motorbike", 0.02)],
        busy=0.4,
    ),
]


def seed(log) -> None:
    if Intersection.objects.filter(name=NAME).exists():
        log("demo intersection exists: demo traffic data left as it is")
        return
    owner = User.objects.filter(email="admin@flowsuite.demo").first()
    if owner is None:
        log("no demo admin: no demo intersection")
        return
    intersection = Intersection.objects.create(
        name=NAME, location="Downtown", flowtrack_id="FT-DEMO-0001"
    )
    chance = random.Random(6)
    for spec in CAMERAS:
        camera, raw_key = camera_create(
            owner=owner,
            intersection=intersection,
            name=spec.name,
            source=f"traffic/clips/{spec.clip}",
            width=spec.size[0],
            height=spec.size[1],
            interval_minutes=INTERVAL,
        )
        for line_name, x1, y1, x2, y2, in_label, out_label in spec.lines:
            CountLine.objects.create(
                camera=camera,
                name=line_name,
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                in_label=in_label,
                out_label=out_label,
            )
        # Stored as the agent's upload is; before the counts, which set when it was last seen.
        record_snapshot(camera, clip_frame_jpeg(CLIPS / spec.clip, spec.snapshot_frame))
        reports = _seed_counts(camera, spec, chance)
        log(f"camera {spec.name}: {reports} intervals of counts; device key {raw_key} (shown once)")
    _review_first_day(intersection, owner, log)


def clip_frame_jpeg(path: Path, index: int) -> bytes:
    """Frame `index` of a video (counted in decoding order, as the clips' ground truth is) as a
    JPEG."""
    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(index):
            capture.grab()
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise FileNotFoundError(f"{path}: no frame {index}")
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes()


def _seed_counts(camera, spec: DemoCamera, chance: random.Random) -> int:
    zone = zone_of(camera.intersection)
    now = timezone.now()
    first_day = now.astimezone(zone).date() - timedelta(days=DAYS - 1)
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    lines = list(camera.lines.all())
    step = timedelta(minutes=INTERVAL)
    done = 0
    last = None
    while start + step <= now:
        hour = start.astimezone(zone).hour + start.astimezone(zone).minute / 60
        # Two rush hours on a night-time floor.
        rate = spec.busy * (
            2 + 30 * math.exp(-((hour - 8.5) ** 2) / 2) + 26 * math.exp(-((hour - 17.5) ** 2) / 3)
        )
        items = []
        for line in lines:
            for direction, share in (("in", 0.55), ("out", 0.45)):
                for vehicle_class, weight in spec.classes:
                    mean = rate * share * weight
                    # Spread at most the mean: no school bus at 3 a.m.
                    number = max(0, round(chance.gauss(mean, min(1.5, mean))))
                    if number:
                        items.append(
                            {
                                "line": line.pk,
                                "direction": direction,
                                "class": vehicle_class,
                                "count": number,
                            }
                        )
        fps = 24.8 if chance.random() > 0.03 else round(chance.uniform(8, 15), 1)
        counts.record_interval(
            camera,
            {
                "key": uuid.uuid4(),
                "start": start,
                "end": start + step,
                "config_version": camera.config_version,
                "counts": items,
                "movements": [],
                "health": {
                    "fps": fps,
                    "frames": int(fps * INTERVAL * 60),
                    "dropped_frames": 0,
                    "gaps_seconds": 0.0,
                },
            },
        )
        last, start, done = start + step, start + step, done + 1
    # No agent runs yet: the camera was last heard of at its last interval, not now.
    type(camera).objects.filter(pk=camera.pk).update(last_seen_at=last)
    return done


def _review_first_day(intersection, owner, log) -> None:
    zone = zone_of(intersection)
    day = timezone.now().astimezone(zone).date() - timedelta(days=DAYS - 1)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = start + timedelta(days=1)
    day_counts = Count.objects.filter(
        line__camera__intersection=intersection, start__gte=start, start__lt=end
    )
    validation.validate(day_counts, owner)
    busiest = day_counts.order_by("-count").first()
    if busiest is not None:
        validation.correct(busiest, busiest.count - 1, "a cyclist counted as a motorbike", owner)
    batch = validation.queue_batch(intersection, start, start + timedelta(hours=12), owner)
    # The demo has no FlowTrack: say the morning went out when it was queued.
    SyncBatch.objects.filter(pk=batch.pk).update(
        status=SyncBatch.Status.SENT, sent_at=timezone.now(), attempts=1
    )
    log(f"{day}: counts validated, the morning sent to FlowTrack (batch {batch.key})")
