"""Small factories for the traffic tests: intersections, cameras with lines, interval reports."""

import uuid
from datetime import UTC, datetime, timedelta

from conftest import bearer_client, make_user
from traffic.cameras import camera_create
from traffic.models import CountLine, Intersection

CONFIG_URL = "/api/traffic/device/config/"
COUNTS_URL = "/api/traffic/device/counts/"
HEARTBEAT_URL = "/api/traffic/device/heartbeat/"
SNAPSHOT_URL = "/api/traffic/device/snapshot/"


def new_intersection(name="Main & 5th", **fields) -> Intersection:
    fields.setdefault("flowtrack_id", "FT-1001")
    return Intersection.objects.create(name=name, **fields)


def new_camera(intersection=None, name="North", lines=("Main St", "5th Ave"), **fields):
    """A camera with lines named `lines` (horizontal, 100 px apart) and its raw device key."""
    intersection = intersection or new_intersection()
    owner = make_user(f"owner-{uuid.uuid4().hex[:8]}@example.com")
    camera, raw_key = camera_create(owner=owner, intersection=intersection, name=name, **fields)
    for index, line in enumerate(lines):
        y = 100 + 100 * index
        CountLine.objects.create(
            camera=camera,
            name=line,
            x1=0,
            y1=y,
            x2=640,
            y2=y,
            in_label=f"{line} northbound",
            out_label=f"{line} southbound",
        )
    return camera, raw_key


def interval_start(minutes_ago=10, length=5) -> datetime:
    now = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return now.replace(minute=now.minute - now.minute % length, second=0, microsecond=0)


def report(camera, start=None, key=None, counts=None, length=5, **extra) -> dict:
    """An interval report as the edge posts it (JSON-ready)."""
    start = start or interval_start(length=length)
    lines = list(camera.lines.order_by("name"))
    if counts is None:
        counts = [
            {"line": lines[0].pk, "direction": "in", "class": "car", "count": 12},
            {"line": lines[0].pk, "direction": "out", "class": "truck", "count": 2},
        ]
    body = {
        "key": str(key or uuid.uuid4()),
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=length)).isoformat(),
        "config_version": camera.config_version,
        "counts": counts,
        "movements": [],
        "health": {"fps": 24.8, "frames": 7440, "dropped_frames": 0, "gaps_seconds": 0.0},
    }
    body.update(extra)
    return body


def as_fields(body: dict) -> dict:
    """A report as counts.record_report takes it (parsed times, a UUID key)."""
    fields = dict(body)
    fields["key"] = uuid.UUID(body["key"])
    fields["start"] = datetime.fromisoformat(body["start"])
    fields["end"] = datetime.fromisoformat(body["end"])
    return fields


def post_counts(raw_key, body):
    return bearer_client(raw_key).post(COUNTS_URL, body, format="json")
