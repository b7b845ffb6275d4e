"""Reading the traffic data: counts by time bucket (15 min, hour, day in the intersection's time
zone) and by line, direction and class; turning movements; a camera's health over time from its
interval reports; the intervals an analyst reviews. The pages and the API both read through
these functions (writes are in counts.py and validation.py).

Rows are plain dicts with `vehicle_class` for the class (the wire formats, live events and
FlowTrack's JSON, say "class"). Times are aware datetimes in the intersection's time zone.

A total of vehicles is of motor vehicles: bicycles (models.NOT_MOTOR) are summed apart as
"bicycles" wherever classes are added up (vehicle_sums, and rows grouped without the class);
a row of one class keeps its class's count.
"""

from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count as Rows
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from .models import (
    NOT_MOTOR,
    Count,
    CountLine,
    CountStatus,
    Intersection,
    Movement,
    SyncBatch,
    TrafficCamera,
    Upload,
    is_motor,
)

VIEW_COUNTS = "traffic.view_count"
VALIDATE_COUNTS = "traffic.validate_counts"
CHANGE_CAMERAS = "traffic.change_trafficcamera"

BUCKETS = {
    "15min": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
# What charts and totals add up: a rejected count is known to be wrong.
COUNTED = (CountStatus.PENDING, CountStatus.VALIDATED, CountStatus.CORRECTED)
DIMENSIONS = ("line", "direction", "vehicle_class")
# Below this share of a camera's usual fps an interval is flagged as an fps drop.
FPS_DROP_SHARE = 0.7


# --- who sees what --------------------------------------------------------------------------


def may_view_counts(user) -> bool:
    return bool(user and user.has_perm(VIEW_COUNTS))


def may_validate(user) -> bool:
    return bool(user and user.has_perm(VALIDATE_COUNTS))


def visible_intersections(user) -> QuerySet[Intersection]:
    """The intersections a person may see (none without the right to view counts)."""
    if not may_view_counts(user):
        return Intersection.objects.none()
    return Intersection.objects.all()


def flowtrack_configured() -> bool:
    """Whether batches have somewhere to go (FLOWTRACK_URL or FLOWTRACK_MQTT_TOPIC)."""
    return bool(
        getattr(settings, "FLOWTRACK_URL", "") or getattr(settings, "FLOWTRACK_MQTT_TOPIC", "")
    )


# --- time ---------------------------------------------------------------------------------


def zone_of(intersection: Intersection) -> ZoneInfo:
    """The intersection's time zone (the site's when its name is unknown here)."""
    try:
        return ZoneInfo(intersection.time_zone or settings.TIME_ZONE)
    except (ValueError, KeyError):
        return ZoneInfo(settings.TIME_ZONE)


def day_bounds(day, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of `day` in `zone` and of the next day (a DST day is 23 or 25 h)."""
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def today_bounds(intersection: Intersection) -> tuple[datetime, datetime]:
    zone = zone_of(intersection)
    return day_bounds(timezone.now().astimezone(zone).date(), zone)


def bucket_start(moment: datetime, bucket: str, zone: ZoneInfo) -> datetime:
    """The start of the 15 min / hour / day bucket of `moment`, in `zone`."""
    local = moment.astimezone(zone)
    if bucket == "day":
        return datetime.combine(local.date(), time.min, tzinfo=zone)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)


# --- counts -------------------------------------------------------------------------------


def vehicle_sums(rows) -> dict[str, int]:
    """{"total": motor vehicles, "bicycles": n} of rows (dicts or Count rows) with a class
    ("vehicle_class" or "class") and a "count", or of rows summed without the class (their
    "count" already of motor vehicles, beside their "bicycles")."""
    sums = {"total": 0, "bicycles": 0}
    for row in rows:
        get = row.get if isinstance(row, dict) else lambda name, r=row: getattr(r, name, None)
        vehicle_class = get("vehicle_class") or get("class")
        if vehicle_class is None:
            sums["total"] += get("count") or 0
            sums["bicycles"] += get("bicycles") or 0
        elif is_motor(vehicle_class):
            sums["total"] += get("count")
        else:
            sums["bicycles"] += get("count")
    return sums


def _summed(rows, fields) -> QuerySet:
    """`rows` (a values() queryset) summed as "total": of their class when it is one of
    `fields`, else of the motor vehicles, with the bicycles apart as "bicycles"."""
    if "vehicle_class" in fields:
        return rows.annotate(total=Sum("count"))
    not_motor = Q(vehicle_class__in=NOT_MOTOR)
    return rows.annotate(
        total=Sum("count", filter=~not_motor), bicycles=Sum("count", filter=not_motor)
    )


def range_counts(
    *,
    intersection: Intersection | int,
    start: datetime | None = None,
    end: datetime | None = None,
    camera: TrafficCamera | int | None = None,
    line: CountLine | int | None = None,
    statuses=None,
) -> QuerySet[Count]:
    """The counts of an intersection whose interval starts in [start, end), optionally of one
    camera or line and some statuses, with their line and camera."""
    counts = Count.objects.filter(line__camera__intersection=intersection).select_related(
        "line__camera", "reviewed_by"
    )
    if start is not None:
        counts = counts.filter(start__gte=start)
    if end is not None:
        counts = counts.filter(start__lt=end)
    if camera is not None:
        counts = counts.filter(line__camera=camera)
    if line is not None:
        counts = counts.filter(line=line)
    if statuses is not None:
        counts = counts.filter(status__in=list(statuses))
    return counts


def counts_by_bucket(
    *,
    intersection: Intersection,
    start: datetime,
    end: datetime,
    bucket: str = "hour",
    by=DIMENSIONS,
    camera: TrafficCamera | int | None = None,
    line: CountLine | int | None = None,
    statuses=COUNTED,
) -> list[dict]:
    """Vehicles per time bucket ("15min", "hour" or "day", in the intersection's time zone)
    and per the dimensions in `by` (any of "line", "direction", "vehicle_class").

    Rows, in time order: {"bucket": datetime, "line": id, "line_name": str, "camera": id,
    "direction": "in"|"out", "in_label", "out_label", "vehicle_class": str, "count": int},
    holding only the keys of `by` (a line brings its name, camera and labels). Without
    "vehicle_class" in `by`, "count" is of motor vehicles and "bicycles": int is beside it.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket is one of {', '.join(BUCKETS)}")
    zone = zone_of(intersection)
    counts = range_counts(
        intersection=intersection,
        start=start,
        end=end,
        camera=camera,
        line=line,
        statuses=statuses,
    ).order_by()
    fields = [name for name in DIMENSIONS if name in by]
    by_class = "vehicle_class" in fields
    if bucket == "15min":
        # No 15-minute truncation in SQL: sum per interval start, fold in Python.
        raw = _summed(counts.values("start", *fields), fields)
        folded: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for row in raw:
            key = (bucket_start(row["start"], bucket, zone), *(row[name] for name in fields))
            folded[key][0] += row["total"] or 0
            folded[key][1] += row.get("bicycles") or 0
        sums = [
            {
                "bucket": key[0],
                **dict(zip(fields, key[1:], strict=True)),
                "total": total,
                **({} if by_class else {"bicycles": bicycles}),
            }
            for key, (total, bicycles) in folded.items()
        ]
    else:
        trunc = (TruncHour if bucket == "hour" else TruncDay)("start", tzinfo=zone)
        sums = list(_summed(counts.annotate(bucket=trunc).values("bucket", *fields), fields))
    lines = _lines_of(intersection) if "line" in fields else {}
    rows = []
    for row in sums:
        out = {"bucket": row["bucket"].astimezone(zone)}
        for name in fields:
            out[name] = row[name]
        if "line" in fields:
            out.update(_line_fields(lines.get(row["line"])))
        out["count"] = row["total"] or 0
        if not by_class:
            out["bicycles"] = row["bicycles"] or 0
        rows.append(out)
    rows.sort(key=lambda r: (r["bucket"], *(str(r[name]) for name in fields)))
    return rows


def count_totals(
    *,
    intersection: Intersection,
    start: datetime,
    end: datetime,
    by=DIMENSIONS,
    camera: TrafficCamera | int | None = None,
    line: CountLine | int | None = None,
    statuses=COUNTED,
) -> list[dict]:
    """Vehicles over [start, end) per the dimensions in `by`; rows as counts_by_bucket's
    (motor vehicles and "bicycles" apart unless by class), without "bucket", largest first."""
    fields = [name for name in DIMENSIONS if name in by]
    counts = range_counts(
        intersection=intersection,
        start=start,
        end=end,
        camera=camera,
        line=line,
        statuses=statuses,
    )
    if not fields:  # values() without fields would group by every column: one grand total
        not_motor = Q(vehicle_class__in=NOT_MOTOR)
        sums = counts.aggregate(
            total=Sum("count", filter=~not_motor), bicycles=Sum("count", filter=not_motor)
        )
        return [{"count": sums["total"] or 0, "bicycles": sums["bicycles"] or 0}]
    by_class = "vehicle_class" in fields
    sums = _summed(counts.order_by().values(*fields), fields)
    lines = _lines_of(intersection) if "line" in fields else {}
    rows = []
    for row in sums:
        out = {name: row[name] for name in fields}
        if "line" in fields:
            out.update(_line_fields(lines.get(row["line"])))
        out["count"] = row["total"] or 0
        if not by_class:
            out["bicycles"] = row["bicycles"] or 0
        rows.append(out)
    rows.sort(key=lambda r: (-r["count"], *(str(r[name]) for name in fields)))
    return rows


def chart_series(
    rows: list[dict], *, bucket: str, start: datetime, end: datetime, zone, by: str = "line"
) -> dict:
    """counts_by_bucket rows as chart data: every bucket of [start, end) (empty ones as 0)
    and one series per value of `by` ("line", "direction", "vehicle_class" or "total"), of
    motor vehicles unless by class: the bicycles are a "bicycles" series of their own.

    {"buckets": [datetime, ...], "series": [{"key": ..., "label": str, "values": [int, ...]}]}
    """
    buckets = bucket_range(start, end, bucket, zone)
    position = {moment: index for index, moment in enumerate(buckets)}
    series: dict = {}

    def add(key, label, index, number):
        if key not in series:
            series[key] = {"key": key, "label": str(label), "values": [0] * len(buckets)}
        if index is not None:
            series[key]["values"][index] += number

    for row in rows:
        index = position.get(row["bucket"])
        if by == "vehicle_class":
            add(row[by], row[by], index, row["count"])
            continue
        key = "total" if by == "total" else row[by]
        label = row.get("line_name", key) if by == "line" else key
        sums = vehicle_sums([row])
        add(key, label, index, sums["total"])
        if sums["bicycles"]:
            add("bicycles", "bicycles", index, sums["bicycles"])
    return {"buckets": buckets, "series": sorted(series.values(), key=lambda s: s["label"])}


def bucket_range(start: datetime, end: datetime, bucket: str, zone: ZoneInfo) -> list[datetime]:
    """The starts of the buckets covering [start, end), in `zone` (days step by the calendar,
    hours and quarters by the clock in UTC, so a DST change makes no duplicate)."""
    moments = []
    current = bucket_start(start, bucket, zone)
    while current < end:
        moments.append(current)
        if bucket == "day":
            current = datetime.combine(current.date() + timedelta(days=1), time.min, tzinfo=zone)
        else:
            current = (current.astimezone(ZoneInfo("UTC")) + BUCKETS[bucket]).astimezone(zone)
    return moments


def status_counts(
    *,
    intersection: Intersection,
    start: datetime | None = None,
    end: datetime | None = None,
    camera: TrafficCamera | int | None = None,
    line: CountLine | int | None = None,
) -> dict[str, int]:
    """How many count rows of the range have each status (every status present, 0 if none),
    and how many of them are already in a FlowTrack batch ("batched")."""
    counts = range_counts(
        intersection=intersection, start=start, end=end, camera=camera, line=line
    ).order_by()
    result = dict.fromkeys(CountStatus.values, 0)
    for row in counts.values("status").annotate(n=Rows("pk")):
        result[row["status"]] = row["n"]
    result["batched"] = counts.filter(sync_batch__isnull=False).count()
    return result


def _lines_of(intersection) -> dict[int, CountLine]:
    return {
        line.pk: line
        for line in CountLine.objects.filter(camera__intersection=intersection).select_related(
            "camera"
        )
    }


def _line_fields(line: CountLine | None) -> dict:
    if line is None:
        return {"line_name": "?", "camera": None, "in_label": "", "out_label": ""}
    return {
        "line_name": line.name,
        "camera": line.camera_id,
        "in_label": line.in_label,
        "out_label": line.out_label,
    }


# --- the live dashboard -------------------------------------------------------------------


def interval_payload(camera: TrafficCamera, start: datetime, end: datetime, counts) -> dict:
    """One camera's interval as the dashboard shows it (also the live "counts" event's data):

    {"intersection": id, "camera": id, "camera_name": str, "start": datetime, "end": datetime,
     "counts": [{"line": id, "line_name": str, "direction": "in"|"out", "class": str,
                 "count": int}, ...],
     "total": int (motor vehicles), "bicycles": int}

    `counts`: Count rows (with their line) or dicts with line (a CountLine), direction,
    vehicle_class and count.
    """
    items = []
    for count in counts:
        get = count.get if isinstance(count, dict) else lambda name, c=count: getattr(c, name)
        line = get("line")
        items.append(
            {
                "line": line.pk,
                "line_name": line.name,
                "direction": get("direction"),
                "class": get("vehicle_class"),
                "count": get("count"),
            }
        )
    items.sort(key=lambda item: (item["line_name"], item["direction"], item["class"]))
    return {
        "intersection": camera.intersection_id,
        "camera": camera.pk,
        "camera_name": camera.name,
        "start": start,
        "end": end,
        "counts": items,
        **vehicle_sums(items),
    }


def latest_intervals(intersection: Intersection) -> list[dict]:
    """The last reported interval of each camera of the intersection, as interval_payload
    (the dashboard's first state before live events arrive); cameras without counts skipped."""
    result = []
    for camera in intersection.cameras.all():
        last = Count.objects.filter(line__camera=camera).order_by("-start").values("start").first()
        if last is None:
            continue
        counts = Count.objects.filter(line__camera=camera, start=last["start"]).select_related(
            "line"
        )
        counts = list(counts)
        result.append(interval_payload(camera, last["start"], counts[0].end, counts))
    return result


def today_totals(intersection: Intersection) -> list[dict]:
    """Vehicles since midnight (the intersection's) per line, direction and class."""
    start, end = today_bounds(intersection)
    return count_totals(intersection=intersection, start=start, end=end)


# --- turning movements --------------------------------------------------------------------


def turning_movements(
    *,
    intersection: Intersection,
    start: datetime,
    end: datetime,
    camera: TrafficCamera | int | None = None,
    vehicle_class: str | None = None,
) -> dict:
    """Vehicles that crossed one line then another over [start, end):

    {"lines": [{"id", "name", "camera"}],           # the lines that appear, by name
     "rows": [{"from_line", "from_name", "to_line", "to_name", "vehicle_class", "count"}],
     "matrix": [[int, ...], ...]}                    # matrix[i][j]: lines[i] → lines[j]
    """
    movements = Movement.objects.filter(
        camera__intersection=intersection, start__gte=start, start__lt=end
    )
    if camera is not None:
        movements = movements.filter(camera=camera)
    if vehicle_class:
        movements = movements.filter(vehicle_class=vehicle_class)
    sums = (
        movements.order_by()
        .values("from_line", "to_line", "vehicle_class")
        .annotate(total=Sum("count"))
    )
    lines = _lines_of(intersection)
    rows = [
        {
            "from_line": row["from_line"],
            "from_name": _line_fields(lines.get(row["from_line"]))["line_name"],
            "to_line": row["to_line"],
            "to_name": _line_fields(lines.get(row["to_line"]))["line_name"],
            "vehicle_class": row["vehicle_class"],
            "count": row["total"],
        }
        for row in sums
    ]
    rows.sort(key=lambda r: (r["from_name"], r["to_name"], r["vehicle_class"]))
    seen = sorted(
        {r["from_line"] for r in rows} | {r["to_line"] for r in rows},
        key=lambda pk: _line_fields(lines.get(pk))["line_name"],
    )
    index = {pk: i for i, pk in enumerate(seen)}
    matrix = [[0] * len(seen) for _ in seen]
    for row in rows:
        matrix[index[row["from_line"]]][index[row["to_line"]]] += row["count"]
    return {
        "lines": [
            {
                "id": pk,
                "name": _line_fields(lines.get(pk))["line_name"],
                "camera": _line_fields(lines.get(pk))["camera"],
            }
            for pk in seen
        ],
        "rows": rows,
        "matrix": matrix,
    }


# --- the edge's health --------------------------------------------------------------------


def camera_health(camera: TrafficCamera, *, start: datetime, end: datetime) -> list[dict]:
    """The camera's interval reports over [start, end), in time order, with the edge's health
    and what an analyst should notice, plus the intervals no report covers:

    {"start", "end", "missing": False, "fps", "frames", "dropped_frames", "gaps_seconds",
     "fps_drop": bool (fps under 70% of the range's median), "gap": bool (gaps or dropped
     frames), "received_at"}
    {"start", "end", "missing": True}     # no report for this stretch: the edge was away
    """
    uploads = list(
        Upload.objects.filter(camera=camera, start__lt=end, end__gt=start).order_by("start")
    )
    rates = sorted(u.health.get("fps") for u in uploads if _number(u.health.get("fps")))
    usual = rates[len(rates) // 2] if rates else None
    timeline = []
    expected = start
    step = timedelta(minutes=camera.interval_minutes)
    for upload in uploads:
        if upload.start - expected >= step:
            timeline.append({"start": expected, "end": upload.start, "missing": True})
        health = upload.health or {}
        fps = health.get("fps")
        timeline.append(
            {
                "start": upload.start,
                "end": upload.end,
                "missing": False,
                "fps": fps,
                "frames": health.get("frames"),
                "dropped_frames": health.get("dropped_frames") or 0,
                "gaps_seconds": health.get("gaps_seconds") or 0,
                "fps_drop": bool(usual and _number(fps) and fps < usual * FPS_DROP_SHARE),
                "gap": bool(health.get("gaps_seconds") or health.get("dropped_frames")),
                "received_at": upload.received_at,
            }
        )
        expected = max(expected, upload.end)
    reported_until = min(end, timezone.now())
    if uploads and reported_until - expected >= step:
        timeline.append({"start": expected, "end": reported_until, "missing": True})
    return timeline


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- review -------------------------------------------------------------------------------


def review_intervals(
    *,
    intersection: Intersection,
    start: datetime,
    end: datetime,
    camera: TrafficCamera | int | None = None,
    line: CountLine | int | None = None,
) -> list[dict]:
    """The intervals of a range as an analyst reviews them, in time order, per camera:

    {"camera": TrafficCamera, "start", "end", "counts": [Count, ...] (by line, direction,
     class), "total": int (motor vehicles, rejected counts left out), "bicycles": int (the
     same), "statuses": {"pending": n, ...}, "batched": bool (some count already in a
     FlowTrack batch), "health": the interval's report health or None}
    """
    counts = range_counts(
        intersection=intersection, start=start, end=end, camera=camera, line=line
    ).order_by("start", "line__camera__name", "line__name", "direction", "vehicle_class")
    groups: dict[tuple, dict] = {}
    for count in counts:
        key = (count.line.camera_id, count.start)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "camera": count.line.camera,
                "start": count.start,
                "end": count.end,
                "counts": [],
                "statuses": defaultdict(int),
                "batched": False,
                "health": None,
            }
        group["counts"].append(count)
        group["statuses"][count.status] += 1
        group["batched"] = group["batched"] or count.sync_batch_id is not None
    cameras = {key[0] for key in groups}
    uploads = Upload.objects.filter(camera__in=cameras, start__gte=start, start__lt=end).order_by(
        "received_at"
    )
    health = {(u.camera_id, u.start): u.health for u in uploads}
    for key, group in groups.items():
        group.update(vehicle_sums(c for c in group["counts"] if c.status != CountStatus.REJECTED))
        group["statuses"] = dict(group["statuses"])
        group["health"] = health.get(key)
    return sorted(groups.values(), key=lambda g: (g["start"], g["camera"].name))


# --- FlowTrack batches --------------------------------------------------------------------


def batches(intersection: Intersection | int | None = None) -> QuerySet[SyncBatch]:
    """FlowTrack batches, newest first, with how many counts each holds (`count_rows`)."""
    result = SyncBatch.objects.select_related("intersection", "created_by").annotate(
        count_rows=Rows("counts")
    )
    if intersection is not None:
        result = result.filter(intersection=intersection)
    return result.order_by("-created_at")


def unbatched_reviewed(intersection: Intersection, start: datetime, end: datetime) -> QuerySet:
    """Validated or corrected counts of the range not yet in a batch (what queue_batch takes)."""
    return range_counts(
        intersection=intersection,
        start=start,
        end=end,
        statuses=(CountStatus.VALIDATED, CountStatus.CORRECTED),
    ).filter(sync_batch__isnull=True)


def has_counts(intersection: Intersection) -> bool:
    return Count.objects.filter(line__camera__intersection=intersection).exists()
