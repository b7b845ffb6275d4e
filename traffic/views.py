"""The traffic pages: intersections with their cameras and live counters, the history charts
with turning movements and a CSV export, the cameras' analysis variables and line editor, and
the analysts' validation of counts before they go to FlowTrack.

Views read through traffic.selectors and write through traffic.validation, traffic.cameras and
the forms' save() (a camera's settings, its lines and masks: each bumps its config_version).
People without traffic rights (guards) get 403 everywhere, the snapshot pictures included: they
are never public media files.
"""

import csv
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count as Rows
from django.db.models import Prefetch
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from flowsuite import views as site_views

from . import cameras, heartbeats, live, selectors
from . import validation as review
from .forms import (
    CameraForm,
    CorrectForm,
    HistoryForm,
    IntersectionForm,
    LinesForm,
    RejectForm,
    ReviewRangeForm,
    ValidateForm,
)
from .models import (
    NOT_MOTOR,
    Count,
    CountLine,
    CountStatus,
    Direction,
    Intersection,
    TrafficCamera,
    VehicleClass,
)

can_view_counts = permission_required(selectors.VIEW_COUNTS, raise_exception=True)
can_view_cameras = permission_required("traffic.view_trafficcamera", raise_exception=True)
can_change_cameras = permission_required(selectors.CHANGE_CAMERAS, raise_exception=True)
can_add_cameras = permission_required("traffic.add_trafficcamera", raise_exception=True)
can_add_intersections = permission_required("traffic.add_intersection", raise_exception=True)
can_change_intersections = permission_required("traffic.change_intersection", raise_exception=True)
can_validate = permission_required(selectors.VALIDATE_COUNTS, raise_exception=True)


def _bounds(first, last, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of `first` to the start of the day after `last`, in `zone`."""
    return selectors.day_bounds(first, zone)[0], selectors.day_bounds(last, zone)[1]


def _today(place: Intersection):
    return timezone.now().astimezone(selectors.zone_of(place)).date()


def _url(name: str, *args, **query) -> str:
    url = reverse(name, args=args)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


# --- intersections and the live dashboard ----------------------------------------------------


@login_required
@can_view_counts
def home(request):
    """Every intersection with its cameras and their status."""
    intersections = selectors.visible_intersections(request.user).prefetch_related(
        Prefetch("cameras", TrafficCamera.objects.annotate(line_count=Rows("lines")))
    )
    return render(request, "traffic/home.html", {"intersections": intersections})


def _board(place: Intersection) -> dict:
    """The dashboard's counters: per camera and line, "in" and "out" (motor vehicles) for the
    camera's latest interval and for today, and today's bicycles; today's totals by class and
    direction."""
    camera_list = list(place.cameras.prefetch_related("lines"))
    latest = {payload["camera"]: payload for payload in selectors.latest_intervals(place)}
    today = selectors.today_totals(place)
    today_by_line = defaultdict(list)
    by_direction = defaultdict(list)
    classes = {value: {"label": label, "in": 0, "out": 0} for value, label in VehicleClass.choices}
    for row in today:
        today_by_line[(row["line"], row["direction"])].append(row)
        by_direction[row["direction"]].append(row)
        entry = classes.setdefault(
            row["vehicle_class"], {"label": row["vehicle_class"], "in": 0, "out": 0}
        )
        entry[row["direction"]] += row["count"]
    for camera in camera_list:
        payload = latest.get(camera.pk)
        now = defaultdict(list)
        for item in payload["counts"] if payload else ():
            now[(item["line"], item["direction"])].append(item)
        camera.latest_interval = payload
        camera.counters = [
            {
                "line": line,
                "now_in": selectors.vehicle_sums(now[(line.pk, "in")])["total"],
                "now_out": selectors.vehicle_sums(now[(line.pk, "out")])["total"],
                "today_in": selectors.vehicle_sums(today_by_line[(line.pk, "in")])["total"],
                "today_out": selectors.vehicle_sums(today_by_line[(line.pk, "out")])["total"],
                "today_bicycles": selectors.vehicle_sums(
                    today_by_line[(line.pk, "in")] + today_by_line[(line.pk, "out")]
                )["bicycles"],
            }
            for line in camera.lines.all()
        ]
    sums = selectors.vehicle_sums(today)
    return {
        "cameras": camera_list,
        "classes": [{"key": key, **entry} for key, entry in classes.items()],
        "total_today": sums["total"],
        "bicycles_today": sums["bicycles"],
        "total_in": selectors.vehicle_sums(by_direction["in"])["total"],
        "total_out": selectors.vehicle_sums(by_direction["out"])["total"],
        "today": _today(place),
        "state": {
            "not_motor": sorted(NOT_MOTOR),
            "today_start": _iso(selectors.today_bounds(place)[0]),
            "today_end": _iso(selectors.today_bounds(place)[1]),
            "lines": {
                str(camera.pk): [_line_json(line) for line in camera.lines.all()]
                for camera in camera_list
            },
            "latest": {
                str(pk): {"start": _iso(p["start"]), "end": _iso(p["end"])}
                for pk, p in latest.items()
            },
        },
    }


@login_required
@can_view_counts
def intersection(request, pk):
    """An intersection's cameras (snapshot with the lines, status) and live counters per line
    and direction for the latest interval and today, with today's totals by class."""
    place = get_object_or_404(selectors.visible_intersections(request.user), pk=pk)
    return render(
        request,
        "traffic/intersection.html",
        {"intersection": place, "board": _board(place), "group": live.intersection_group(place.pk)},
    )


# --- history ------------------------------------------------------------------------------------


def _history(request, place: Intersection) -> tuple[HistoryForm, dict, list[dict]]:
    form = HistoryForm(request.GET or None, today=_today(place))
    choice = form.choice()
    choice["start"], choice["end"] = _bounds(
        choice["first"], choice["last"], selectors.zone_of(place)
    )
    rows = selectors.counts_by_bucket(
        intersection=place, start=choice["start"], end=choice["end"], bucket=choice["bucket"]
    )
    return form, choice, rows


def _chart(place: Intersection, choice: dict, rows: list[dict]) -> dict:
    """The history's rows, compact, for the page's script to group by line, direction or
    class: every bucket (empty ones too) and [bucket index, line, direction, class, count]."""
    buckets = selectors.bucket_range(
        choice["start"], choice["end"], choice["bucket"], selectors.zone_of(place)
    )
    index = {moment: position for position, moment in enumerate(buckets)}
    lines = {}
    for row in rows:
        lines[row["line"]] = {"name": row["line_name"], "camera": row["camera"]}
    return {
        "bucket": choice["bucket"],
        "buckets": [moment.timestamp() * 1000 for moment in buckets],
        "lines": {str(pk): line for pk, line in lines.items()},
        "classes": dict(VehicleClass.choices),
        "not_motor": sorted(NOT_MOTOR),
        "directions": dict(Direction.choices),
        "rows": [
            [
                index[row["bucket"]],
                row["line"],
                row["direction"],
                row["vehicle_class"],
                row["count"],
            ]
            for row in rows
            if row["bucket"] in index
        ],
    }


def _matrix(movements: dict) -> dict:
    """The turning movements' matrix as table rows, each cell shaded by its share of the
    largest."""
    largest = max((max(row) for row in movements["matrix"] if row), default=0) or 1
    movements["matrix_rows"] = [
        {
            "line": line,
            "cells": [
                {"count": n, "self": i == j, "heat": f"{n / largest:.2f}"}
                for j, n in enumerate(movements["matrix"][i])
            ],
        }
        for i, line in enumerate(movements["lines"])
    ]
    return movements


@login_required
@can_view_counts
def history(request, pk):
    """Charts by line, direction and class over a day, a week or a month, per 15 min, hour or
    day, with the turning movements between lines and a CSV export of the same numbers."""
    place = get_object_or_404(selectors.visible_intersections(request.user), pk=pk)
    form, choice, rows = _history(request, place)
    totals = selectors.count_totals(
        intersection=place, start=choice["start"], end=choice["end"], by=("line", "direction")
    )
    by_line = defaultdict(lambda: {"in": 0, "out": 0, "bicycles": 0})
    names = {}
    for row in totals:
        by_line[row["line"]][row["direction"]] = row["count"]
        by_line[row["line"]]["bicycles"] += row["bicycles"]
        names[row["line"]] = (row["line_name"], row["in_label"], row["out_label"])
    line_totals = sorted(
        (
            {"name": names[pk][0], "in_label": names[pk][1], "out_label": names[pk][2], **sums}
            for pk, sums in by_line.items()
        ),
        key=lambda line: line["name"],
    )
    class_totals = selectors.count_totals(
        intersection=place, start=choice["start"], end=choice["end"], by=("vehicle_class",)
    )
    step = {"day": 1, "week": 7}.get(choice["span"])
    if step:
        earlier = choice["date"] - timedelta(days=step)
        later = choice["date"] + timedelta(days=step)
    else:
        earlier = choice["first"] - timedelta(days=1)
        later = choice["last"] + timedelta(days=1)
    keep = {"span": choice["span"], "bucket": request.GET.get("bucket", "")}
    return render(
        request,
        "traffic/history.html",
        {
            "intersection": place,
            "form": form,
            "choice": choice,
            "chart": _chart(place, choice, rows),
            **selectors.vehicle_sums(totals),
            "line_totals": line_totals,
            "class_totals": [
                {"label": VehicleClass(row["vehicle_class"]).label, **row}
                if row["vehicle_class"] in VehicleClass.values
                else {"label": row["vehicle_class"], **row}
                for row in class_totals
            ],
            "movements": _matrix(
                selectors.turning_movements(
                    intersection=place, start=choice["start"], end=choice["end"]
                )
            ),
            "links": {
                "earlier": _url("traffic:history", place.pk, date=earlier.isoformat(), **keep),
                "later": _url("traffic:history", place.pk, date=later.isoformat(), **keep),
                "csv": _url("traffic:history_csv", place.pk, **request.GET.dict()),
                "span": {
                    value: _url(
                        "traffic:history", place.pk, span=value, date=choice["date"].isoformat()
                    )
                    for value in HistoryForm.SPANS
                },
            },
            "is_latest": choice["last"] >= _today(place),
            "spans": form.fields["span"].choices,
        },
    )


@login_required
@can_view_counts
def history_csv(request, pk):
    """The history's numbers as CSV: one row per bucket, line, direction and class."""
    place = get_object_or_404(selectors.visible_intersections(request.user), pk=pk)
    form, choice, rows = _history(request, place)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"traffic-{place.pk}-{choice['first']:%Y%m%d}-{choice['last']:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        ["intersection", "bucket_start", "camera", "line", "direction", "class", "count"]
    )
    camera_names = dict(place.cameras.values_list("pk", "name"))
    for row in rows:
        writer.writerow(
            [
                place.name,
                row["bucket"].isoformat(),
                camera_names.get(row["camera"], ""),
                row["line_name"],
                row["direction"],
                row["vehicle_class"],
                row["count"],
            ]
        )
    return response


# --- intersections and cameras: settings, keys, lines ------------------------------------------


@login_required
@can_add_intersections
def intersection_new(request):
    form = IntersectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        place = form.save()
        messages.success(request, _("The intersection “%(name)s” was added.") % {"name": place})
        return redirect("traffic:intersection", place.pk)
    return render(request, "traffic/intersection_form.html", {"form": form})


@login_required
@can_change_intersections
def intersection_edit(request, pk):
    place = get_object_or_404(Intersection, pk=pk)
    form = IntersectionForm(request.POST or None, instance=place)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The intersection “%(name)s” was saved.") % {"name": place})
        return redirect("traffic:intersection", place.pk)
    return render(request, "traffic/intersection_form.html", {"form": form, "intersection": place})


def _show_key(request, camera: TrafficCamera, raw_key: str, *, rotated: bool = False):
    return site_views.device_key_page(
        request, "traffic/camera_key_shown.html", {"camera": camera}, raw_key, rotated=rotated
    )


@login_required
@can_add_cameras
def camera_new(request, pk):
    place = get_object_or_404(Intersection, pk=pk)
    form = CameraForm(request.POST or None, instance=TrafficCamera(intersection=place))
    if request.method == "POST" and form.is_valid():
        camera, raw_key = cameras.camera_create(
            owner=request.user, intersection=place, **form.analysis_fields()
        )
        messages.success(request, _("The camera “%(name)s” was added.") % {"name": camera.name})
        return _show_key(request, camera, raw_key)
    return render(request, "traffic/camera_form.html", {"form": form, "intersection": place})


@login_required
@can_change_cameras
def camera_settings(request, pk):
    camera = get_object_or_404(
        TrafficCamera.objects.select_related("intersection", "device_key"), pk=pk
    )
    form = CameraForm(request.POST or None, instance=camera)
    if request.method == "POST" and form.is_valid():
        camera = form.save()
        messages.success(
            request,
            _("The camera “%(name)s” was saved (configuration version %(version)d).")
            % {"name": camera.name, "version": camera.config_version},
        )
        return redirect("traffic:intersection", camera.intersection_id)
    return render(
        request,
        "traffic/camera_form.html",
        {"form": form, "camera": camera, "intersection": camera.intersection},
    )


@login_required
@can_add_cameras  # who may give a camera a key: admins, as in the API
def camera_rotate_key(request, pk):
    camera = get_object_or_404(TrafficCamera.objects.select_related("intersection"), pk=pk)
    if request.method == "POST":
        raw_key = cameras.camera_rotate_key(camera, owner=request.user)
        messages.warning(request, _("A new device key was issued; the old one no longer works."))
        return _show_key(request, camera, raw_key, rotated=True)
    return render(request, "traffic/camera_rotate_key.html", {"camera": camera})


def _line_json(line: CountLine, has_counts: bool = False) -> dict:
    return {
        "id": line.pk,
        "name": line.name,
        "x1": line.x1,
        "y1": line.y1,
        "x2": line.x2,
        "y2": line.y2,
        "in_label": line.in_label,
        "out_label": line.out_label,
        "has_counts": has_counts,
    }


def _lines_data(camera: TrafficCamera) -> list[dict]:
    counted = set(Count.objects.filter(line__camera=camera).values_list("line_id", flat=True))
    return [_line_json(line, line.pk in counted) for line in camera.lines.all()]


@login_required
@can_change_cameras
def camera_lines(request, pk):
    """The line editor: counting lines and masks drawn on the camera's latest snapshot. The
    editor posts JSON (a plain form may post the same as fields); saving bumps the camera's
    configuration version so that its agent reloads."""
    camera = get_object_or_404(TrafficCamera.objects.select_related("intersection"), pk=pk)
    if request.method == "POST":
        form = LinesForm.from_request(request, camera=camera)
        wants_json = request.content_type == "application/json"
        if not form.is_valid():
            if wants_json:
                return JsonResponse({"errors": _form_errors(form)}, status=400)
            for error in _form_errors(form):
                messages.error(request, error)
            return redirect("traffic:camera_lines", camera.pk)
        camera = form.save()
        message = _("Lines saved: the camera picks them up at version %(version)d.") % {
            "version": camera.config_version
        }
        if wants_json:
            return JsonResponse(
                {
                    "lines": _lines_data(camera),
                    "masks": camera.masks,
                    "config_version": camera.config_version,
                    "message": message,
                }
            )
        messages.success(request, message)
        return redirect("traffic:camera_lines", camera.pk)
    return render(
        request,
        "traffic/camera_lines.html",
        {
            "camera": camera,
            "editor": {
                "width": camera.width,
                "height": camera.height,
                "lines": _lines_data(camera),
                "masks": camera.masks,
                "config_version": camera.config_version,
                "save_url": reverse("traffic:camera_lines", args=[camera.pk]),
                "annotated_url": heartbeats.annotated_snapshot_url(camera, page=True),
            },
        },
    )


def _form_errors(form) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


# The pages ask with ?v=<time of the snapshot>: a new one gets a new URL.
PICTURE_MAX_AGE = 300


@login_required
@can_view_cameras
def snapshot(request, pk):
    """A camera's latest snapshot, to people who may see the cameras (never a media URL)."""
    camera = get_object_or_404(TrafficCamera, pk=pk)
    return heartbeats.picture_response(camera.snapshot, PICTURE_MAX_AGE)


@login_required
@can_view_cameras
def annotated_snapshot(request, pk):
    """What the camera's counter saw last (its frame with lines, tracks and counts drawn), to
    the same people."""
    camera = get_object_or_404(TrafficCamera, pk=pk)
    return heartbeats.picture_response(camera.annotated_snapshot, PICTURE_MAX_AGE)


# --- validation and FlowTrack ----------------------------------------------------------------


def _review_range(request, place: Intersection, data=None) -> tuple[ReviewRangeForm, dict]:
    form = ReviewRangeForm(
        data if data is not None else (request.GET or None),
        intersection=place,
        today=_today(place),
    )
    choice = form.choice()
    choice["start"], choice["end"] = _bounds(
        choice["first"], choice["last"], selectors.zone_of(place)
    )
    return form, choice


def _review_url(place: Intersection, choice: dict) -> str:
    camera = choice.get("camera")
    return _url(
        "traffic:validation",
        place.pk,
        first=choice["first"].isoformat(),
        last=choice["last"].isoformat(),
        camera=camera.pk if camera else None,
    )


# The review table's column heads (a class's initial is ambiguous: bus and bicycle).
CLASS_ICONS = {
    VehicleClass.MOTORBIKE: "bi-scooter",
    VehicleClass.CAR: "bi-car-front",
    VehicleClass.TRUCK: "bi-truck",
    VehicleClass.BUS: "bi-bus-front",
    VehicleClass.BICYCLE: "bi-bicycle",
}


def _review_tables(place: Intersection, choice: dict) -> list[dict]:
    """Per camera, a table of its intervals: one row per interval with a cell per line,
    direction and class (the Count or None), the interval's health, and rows for the
    stretches no report covers."""
    intervals = selectors.review_intervals(
        intersection=place, start=choice["start"], end=choice["end"], camera=choice["camera"]
    )
    camera_list = [choice["camera"]] if choice["camera"] else list(place.cameras.all())
    lines = defaultdict(list)
    for line in CountLine.objects.filter(camera__in=camera_list).order_by("name"):
        lines[line.camera_id].append(line)
    columns_of = {
        camera.pk: [
            (line, direction, vehicle_class, CLASS_ICONS.get(vehicle_class, "bi-question"))
            for line in lines[camera.pk]
            for direction in Direction.values
            for vehicle_class in VehicleClass  # members: .label names the column
        ]
        for camera in camera_list
    }
    tables = {
        camera.pk: {
            "camera": camera,
            "lines": lines[camera.pk],
            "columns": columns_of[camera.pk],
            # a line spans a column per direction and class, a direction one per class
            "line_span": len(Direction.values) * len(VehicleClass),
            "direction_span": len(VehicleClass),
            "rows": [],
            "health": selectors.camera_health(camera, start=choice["start"], end=choice["end"]),
        }
        for camera in camera_list
    }
    for interval in intervals:
        table = tables.get(interval["camera"].pk)
        if table is None:
            continue
        cells = {(c.line_id, c.direction, c.vehicle_class): c for c in interval["counts"]}
        health = interval["health"] or {}
        table["rows"].append(
            {
                **interval,
                "cells": [cells.get((line.pk, d, k)) for line, d, k, _icon in table["columns"]],
                "fps": health.get("fps"),
                "problem": _health_problem(table["health"], interval["start"]),
            }
        )
    for table in tables.values():
        for stretch in table["health"]:
            if stretch["missing"]:
                table["rows"].append({"missing": True, **stretch})
        table["rows"].sort(key=lambda row: row["start"])
        table["strip"] = _health_strip(table["health"], choice["start"], choice["end"])
        table["problems"] = sum(
            1 for row in table["rows"] if row.get("problem") or row.get("missing")
        )
    return list(tables.values())


def _health_strip(timeline: list[dict], start, end) -> list[dict]:
    """The camera's health over the range as segments of a bar, as shares of its length."""
    until = min(end, timezone.now())
    length = (until - start).total_seconds()
    if length <= 0 or not timeline:
        return []
    strip, cursor = [], start
    for stretch in timeline:
        if stretch["start"] > cursor:
            strip.append(_segment("none", cursor, stretch["start"], length))
        state = (
            "missing"
            if stretch["missing"]
            else "gap"
            if stretch["gap"]
            else "fps"
            if stretch["fps_drop"]
            else "ok"
        )
        strip.append(_segment(state, stretch["start"], stretch["end"], length, stretch.get("fps")))
        cursor = max(cursor, stretch["end"])
    return strip


def _segment(state: str, start, end, length: float, fps=None) -> dict:
    share = max(0.0, (min(end, start + timedelta(seconds=length)) - start).total_seconds())
    return {
        "state": state,
        "start": start,
        "end": end,
        "fps": fps,
        "width": f"{100 * share / length:.3f}",
    }


def _health_problem(timeline: list[dict], start) -> str:
    """ "gap" or "fps" when the interval starting at `start` lost frames or ran slow."""
    for stretch in timeline:
        if not stretch["missing"] and stretch["start"] == start:
            if stretch["gap"]:
                return "gap"
            if stretch["fps_drop"]:
                return "fps"
    return ""


@login_required
@can_validate
def validation(request, pk):
    """Counts of an interval range by interval × line, direction and class, with each camera's
    snapshot and health (gaps and fps drops marked), and the FlowTrack batches."""
    place = get_object_or_404(Intersection, pk=pk)
    form, choice = _review_range(request, place)
    statuses = selectors.status_counts(
        intersection=place, start=choice["start"], end=choice["end"], camera=choice["camera"]
    )
    tables = _review_tables(place, choice)
    return render(
        request,
        "traffic/validation.html",
        {
            "intersection": place,
            "form": form,
            "choice": choice,
            "tables": tables,
            "tables_lines": {
                str(table["camera"].pk): [_line_json(line) for line in table["lines"]]
                for table in tables
            },
            "statuses": statuses,
            "unbatched": selectors.unbatched_reviewed(
                place, choice["start"], choice["end"]
            ).count(),
            "batches": selectors.batches(place)[:15],
            "flowtrack_configured": selectors.flowtrack_configured(),
            "range_fields": {
                "first": choice["first"].isoformat(),
                "last": choice["last"].isoformat(),
                "camera": choice["camera"].pk if choice["camera"] else "",
            },
            "days": {
                "previous": _review_url(
                    place,
                    {
                        **choice,
                        "first": choice["first"] - timedelta(days=1),
                        "last": choice["first"] - timedelta(days=1),
                    },
                ),
                "next": _review_url(
                    place,
                    {
                        **choice,
                        "first": choice["last"] + timedelta(days=1),
                        "last": choice["last"] + timedelta(days=1),
                    },
                ),
            },
        },
    )


@login_required
@require_POST
@can_validate
def validate_pending(request, pk):
    """Validate every pending count of the range (of one camera if chosen)."""
    place = get_object_or_404(Intersection, pk=pk)
    form, choice = _review_range(request, place, request.POST)
    if not form.is_valid():
        messages.error(request, _("Pick a valid range first."))
        return redirect(_review_url(place, choice))
    pending = selectors.range_counts(
        intersection=place,
        start=choice["start"],
        end=choice["end"],
        camera=choice["camera"],
        statuses=[CountStatus.PENDING],
    )
    done = review.validate(pending, request.user).changed
    if done:
        messages.success(
            request,
            ngettext("%(count)d count was validated.", "%(count)d counts were validated.", done)
            % {"count": done},
        )
    else:
        messages.info(request, _("No pending count in this range."))
    return redirect(_review_url(place, choice))


def _count_action(request, pk, form_class, action, done_message):
    count = get_object_or_404(Count.objects.select_related("line__camera__intersection"), pk=pk)
    place = count.line.camera.intersection
    form = form_class(request.POST)
    _form, choice = _review_range(request, place, request.POST)
    if form.is_valid():
        try:
            action(count, form.cleaned_data)
        except review.ReviewRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, done_message)
    else:
        for error in _form_errors(form):
            messages.error(request, error)
    return redirect(
        _review_url(place, choice) + f"#interval-{count.line.camera_id}-{count.start:%s}"
    )


@login_required
@require_POST
@can_validate
def count_validate(request, pk):
    def action(count, data):
        if count.sync_batch_id:
            raise review.ReviewRefused(
                _("This count is already in a FlowTrack batch: it cannot change.")
            )
        review.validate(Count.objects.filter(pk=count.pk), request.user)

    return _count_action(request, pk, ValidateForm, action, _("The count was validated."))


@login_required
@require_POST
@can_validate
def count_correct(request, pk):
    def action(count, data):
        review.correct(count, data["count"], data["reason"], request.user)

    return _count_action(
        request, pk, CorrectForm, action, _("The count was corrected; the original is kept.")
    )


@login_required
@require_POST
@can_validate
def count_reject(request, pk):
    def action(count, data):
        if count.sync_batch_id:
            raise review.ReviewRefused(
                _("This count is already in a FlowTrack batch: it cannot change.")
            )
        review.reject(Count.objects.filter(pk=count.pk), data["reason"], request.user)

    return _count_action(request, pk, RejectForm, action, _("The count was rejected."))


@login_required
@require_POST
@can_validate
def send_batch(request, pk):
    """Queue the range's validated and corrected counts for FlowTrack."""
    place = get_object_or_404(Intersection, pk=pk)
    form, choice = _review_range(request, place, request.POST)
    if not form.is_valid():
        messages.error(request, _("Pick a valid range first."))
        return redirect(_review_url(place, choice))
    try:
        batch = review.queue_batch(place, choice["start"], choice["end"], request.user)
    except review.ReviewRefused as refused:
        messages.error(request, refused.message)
        return redirect(_review_url(place, choice))
    rows = batch.counts.count()
    if selectors.flowtrack_configured():
        messages.success(
            request,
            ngettext(
                "A batch of %(count)d count is queued for FlowTrack.",
                "A batch of %(count)d counts is queued for FlowTrack.",
                rows,
            )
            % {"count": rows},
        )
    else:
        messages.warning(
            request,
            _(
                "The batch is queued, but FlowTrack is not configured on this site: it waits "
                "here until FLOWTRACK_URL or FLOWTRACK_MQTT_TOPIC is set."
            ),
        )
    return redirect(_review_url(place, choice))


urlpatterns = [
    path("", home, name="home"),
    path("intersections/new/", intersection_new, name="intersection_new"),
    path("intersections/<int:pk>/", intersection, name="intersection"),
    path("intersections/<int:pk>/edit/", intersection_edit, name="intersection_edit"),
    path("intersections/<int:pk>/history/", history, name="history"),
    path("intersections/<int:pk>/history.csv", history_csv, name="history_csv"),
    path("intersections/<int:pk>/cameras/new/", camera_new, name="camera_new"),
    path("intersections/<int:pk>/validation/", validation, name="validation"),
    path("intersections/<int:pk>/validation/validate/", validate_pending, name="validate_pending"),
    path("intersections/<int:pk>/validation/send/", send_batch, name="send_batch"),
    path("counts/<int:pk>/validate/", count_validate, name="count_validate"),
    path("counts/<int:pk>/correct/", count_correct, name="count_correct"),
    path("counts/<int:pk>/reject/", count_reject, name="count_reject"),
    path("cameras/<int:pk>/settings/", camera_settings, name="camera_settings"),
    path("cameras/<int:pk>/key/", camera_rotate_key, name="camera_rotate_key"),
    path("cameras/<int:pk>/lines/", camera_lines, name="camera_lines"),
    path("cameras/<int:pk>/snapshot/", snapshot, name="snapshot"),
    path("cameras/<int:pk>/annotated-snapshot/", annotated_snapshot, name="annotated_snapshot"),
]
