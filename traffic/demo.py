"""Demo traffic (manage.py seed_demo): the intersection "Main St & 5th Ave" with two cameras and
their counting lines, and a few days of counts with a daily rhythm (rush hours), the oldest day
reviewed and one batch already delivered to FlowTrack, so the dashboards, charts and review
pages have content from the first `make run`. The camera keys are printed once: give one to
`python -m edge traffic --key ...` to feed the site live."""

import math
import random
import uuid
from datetime import datetime, time, timedelta

from django.utils import timezone

from accounts.models import User

from . import counts, validation
from .cameras import camera_create
from .models import Count, CountLine, Intersection, SyncBatch
from .selectors import zone_of

NAME = "Main St & 5th Ave"
DAYS = 3
INTERVAL = 15  # minutes: a few days of history stay quick to seed
# Across the road of `python -m edge traffic-demo-clip` (a four-lane road from x 0 to 640,
# y 110 to 470; eastbound below y 290), so that the clip fed to a demo camera counts on them.
CAMERAS = [
    (
        "North",
        [
            ("Main St west", 200, 110, 200, 470, "eastbound", "westbound"),
            ("Main St east", 440, 470, 440, 110, "westbound", "eastbound"),
        ],
    ),
    (
        "South",
        [
            ("Main St centre", 320, 110, 320, 470, "eastbound", "westbound"),
            ("Eastbound lanes", 560, 290, 560, 470, "eastbound", "westbound"),
        ],
    ),
]
CLASSES = [("car", 1.0), ("motorbike", 0.12), ("truck", 0.08)]


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
    for name, lines in CAMERAS:
        camera, raw_key = camera_create(
            owner=owner, intersection=intersection, name=name, interval_minutes=INTERVAL
        )
        for line_name, x1, y1, x2, y2, in_label, out_label in lines:
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
        reports = _seed_counts(camera, chance)
        log(f"camera {name}: {reports} intervals of counts; device key {raw_key} (shown once)")
    _review_first_day(intersection, owner, log)


def _seed_counts(camera, chance: random.Random) -> int:
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
        rate = (
            2 + 30 * math.exp(-((hour - 8.5) ** 2) / 2) + 26 * math.exp(-((hour - 17.5) ** 2) / 3)
        )
        items = []
        for line in lines:
            for direction, share in (("in", 0.55), ("out", 0.45)):
                for vehicle_class, weight in CLASSES:
                    number = max(0, round(chance.gauss(rate * share * weight, 1.5)))
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
