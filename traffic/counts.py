"""Recording a camera's interval reports: the one place counts and movements are written from
the edge.

`record_interval(camera, report)` stores one report by its key (the edge's idempotency key): a
re-sent report is recognised and stored once, also when two posts race (the unique constraint
on (camera, key) decides). Counts are upserted per (line, direction, class, start) as pending:
a later report of the same bucket replaces a pending count, never one an analyst already
reviewed (validated, corrected, rejected), nor one in a FlowTrack batch — those are reported
in `kept`. After commit it publishes "counts" to `traffic.intersection.<id>` with the interval
as selectors.interval_payload shows it:

    {"type": "counts", "data": {"intersection": 1, "camera": 2, "camera_name": "North",
        "start": "<ISO 8601>", "end": "<ISO 8601>", "total": 14, "bicycles": 0,
        "counts": [{"line": 3, "line_name": "Main St", "direction": "in", "class": "car",
                    "count": 12}, ...]}}
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from flowsuite import live

from .live import intersection_group
from .models import Count, CountStatus, Movement, TrafficCamera, Upload
from .selectors import interval_payload

HEALTH_FIELDS = ("fps", "frames", "dropped_frames", "gaps_seconds", "partial")


class UnknownLines(Exception):
    """Every line of the report is unknown to the camera (its config changed meanwhile)."""

    def __init__(self, lines):
        super().__init__(f"unknown lines: {lines}")
        self.lines = lines


@dataclass
class Recorded:
    upload: Upload
    created: bool
    stored: int = 0
    kept: list[dict] = field(default_factory=list)  # buckets already reviewed: not overwritten
    skipped_lines: list = field(default_factory=list)


def record_interval(camera: TrafficCamera, report: dict) -> tuple[Upload, bool]:
    """Store one interval report of `camera`; returns (upload, created). See record_report."""
    result = record_report(camera, report)
    return result.upload, result.created


def record_report(camera: TrafficCamera, report: dict) -> Recorded:
    """Store one interval report (already validated): `key` (UUID), `start`, `end` (aware
    datetimes), `counts` [{"line": id, "direction", "class", "count"}], optional `movements`
    [{"from_line", "to_line", "class", "count"}], `health` {fps, frames, dropped_frames,
    gaps_seconds} and `config_version`.

    Counts of unknown lines are skipped (reported in `skipped_lines`); raises UnknownLines
    when the report names lines and none is the camera's."""
    try:
        return _record(camera, report)
    except IntegrityError:
        # Another report of the same buckets committed while this one wrote: their rows
        # exist now, so a second try updates them.
        return _record(camera, report)


def _record(camera: TrafficCamera, report: dict) -> Recorded:
    existing = _stored(camera, report["key"])
    if existing is not None:
        return Recorded(existing, created=False)
    lines = {line.pk: line for line in camera.lines.all()}
    named = {item["line"] for item in report.get("counts", [])}
    named |= {m[end] for m in report.get("movements", []) for end in ("from_line", "to_line")}
    skipped = sorted(pk for pk in named if pk not in lines)
    if named and len(skipped) == len(named):
        raise UnknownLines(skipped)
    try:
        with transaction.atomic():
            upload = Upload.objects.create(
                camera=camera,
                key=report["key"],
                start=report["start"],
                end=report["end"],
                health=_health(report),
            )
            result = Recorded(upload, created=True, skipped_lines=skipped)
            stored = _upsert_counts(camera, report, lines, result)
            _upsert_movements(camera, report, lines)
            _mark_seen(camera, upload.health)
            live.publish(
                intersection_group(camera.intersection_id),
                "counts",
                interval_payload(camera, report["start"], report["end"], stored),
            )
    except IntegrityError:
        # Another post of the same report won the race: its row is the report.
        existing = _stored(camera, report["key"])
        if existing is None:
            raise
        return Recorded(existing, created=False)
    return result


def _stored(camera: TrafficCamera, key) -> Upload | None:
    return Upload.objects.filter(camera=camera, key=key).first()


def _health(report: dict) -> dict:
    health = {name: report.get("health", {}).get(name) for name in HEALTH_FIELDS}
    health = {name: value for name, value in health.items() if value is not None}
    if report.get("config_version") is not None:
        health["config_version"] = report["config_version"]
    return health


def _merge(items: list[dict], key_of) -> dict:
    # The same bucket twice in one report: add them up (the edge split it, e.g. over a restart).
    merged: dict = {}
    for item in items:
        key = key_of(item)
        merged[key] = merged.get(key, 0) + int(item["count"])
    return merged


def _upsert_counts(camera, report, lines: dict, result: Recorded) -> list[dict]:
    """Write the report's counts; returns them as the live event shows them."""
    start, end = report["start"], report["end"]
    wanted = _merge(
        [item for item in report.get("counts", []) if item["line"] in lines],
        lambda item: (item["line"], item["direction"], item["class"]),
    )
    current = {
        (c.line_id, c.direction, c.vehicle_class): c
        for c in Count.objects.select_for_update().filter(line__in=list(lines), start=start)
    }
    new, shown = [], []
    for (line_id, direction, vehicle_class), number in wanted.items():
        count = current.get((line_id, direction, vehicle_class))
        shown.append(
            {
                "line": lines[line_id],
                "direction": direction,
                "vehicle_class": vehicle_class,
                "count": number,
            }
        )
        if count is None:
            new.append(
                Count(
                    line=lines[line_id],
                    direction=direction,
                    vehicle_class=vehicle_class,
                    start=start,
                    end=end,
                    count=number,
                    original_count=number,
                )
            )
        elif count.status != CountStatus.PENDING or count.sync_batch_id is not None:
            result.kept.append(
                {
                    "line": line_id,
                    "direction": direction,
                    "class": vehicle_class,
                    "status": count.status,
                }
            )
        else:
            count.count = count.original_count = number
            count.end = end
            count.save(update_fields=["count", "original_count", "end"])
            result.stored += 1
    # A race with another report of the same bucket raises IntegrityError: the caller's
    # transaction is rolled back and the edge sends the report again.
    Count.objects.bulk_create(new)
    result.stored += len(new)
    return shown


def _upsert_movements(camera, report, lines: dict) -> None:
    start, end = report["start"], report["end"]
    wanted = _merge(
        [
            item
            for item in report.get("movements", [])
            if item["from_line"] in lines and item["to_line"] in lines
        ],
        lambda item: (item["from_line"], item["to_line"], item["class"]),
    )
    for (from_line, to_line, vehicle_class), number in wanted.items():
        Movement.objects.update_or_create(
            from_line_id=from_line,
            to_line_id=to_line,
            vehicle_class=vehicle_class,
            start=start,
            defaults={"camera": camera, "end": end, "count": number},
        )


def _mark_seen(camera: TrafficCamera, health: dict) -> None:
    now = timezone.now()
    fresh = TrafficCamera.objects.select_for_update().only("health").get(pk=camera.pk)
    merged = {**(fresh.health or {}), **health, "interval_at": now.isoformat()}
    TrafficCamera.objects.filter(pk=camera.pk).update(last_seen_at=now, health=merged)
    camera.last_seen_at, camera.health = now, merged
