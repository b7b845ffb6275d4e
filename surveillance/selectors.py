"""Reading the surveillance data: the events a person may see, by day in their time zone,
the days of a month that have events (the gallery's calendar), and the cameras with their
status and latest picture.

Days are always days of a time zone (the user's): an event at 23:30 in Madrid on 1 March is
on 1 March there, although it is 22:30 UTC.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate

from .models import Camera, MotionEvent, Snapshot

VIEW_EVENTS = "surveillance.view_motionevent"
VIEW_CAMERAS = "surveillance.view_camera"
DELETE_EVENTS = "surveillance.delete_motionevent"
# Deleting a whole day or everything is for admins: the admin role holds every permission of
# the app, operators only delete single events (see apps.py).
DELETE_IN_BULK = (DELETE_EVENTS, "surveillance.delete_camera")


def user_zone(user) -> ZoneInfo:
    """The user's time zone, or the site's."""
    return ZoneInfo(getattr(user, "time_zone", "") or settings.TIME_ZONE)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of `day` in `zone` and the first instant of the next day (a DST day
    is 23 or 25 hours long)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def may_delete_in_bulk(user) -> bool:
    return user.has_perms(DELETE_IN_BULK)


def visible_events(user) -> QuerySet[MotionEvent]:
    """Every event the user may see (none without the right), with camera and snapshots."""
    if not user.has_perm(VIEW_EVENTS):
        return MotionEvent.objects.none()
    return MotionEvent.objects.select_related("camera").prefetch_related(
        Prefetch("snapshots", queryset=Snapshot.objects.order_by("position"))
    )


def filter_events(
    events: QuerySet[MotionEvent],
    *,
    zone: ZoneInfo,
    day: date | None = None,
    camera: Camera | int | None = None,
    min_score: float | None = None,
) -> QuerySet[MotionEvent]:
    """`events` narrowed to a day (in `zone`), a camera and a least score."""
    if day is not None:
        start, end = day_bounds(day, zone)
        events = events.filter(started_at__gte=start, started_at__lt=end)
    if camera is not None:
        events = events.filter(camera=camera)
    if min_score:
        events = events.filter(score__gte=min_score)
    return events


def days_with_events(
    user,
    *,
    year: int,
    month: int,
    zone: ZoneInfo,
    camera: Camera | int | None = None,
    min_score: float | None = None,
) -> dict[date, int]:
    """How many events each day of a month has (days without any are left out)."""
    first = date(year, month, 1)
    start = day_bounds(first, zone)[0]
    end = day_bounds(date(year, month, calendar.monthrange(year, month)[1]), zone)[1]
    events = filter_events(
        visible_events(user).filter(started_at__gte=start, started_at__lt=end),
        zone=zone,
        camera=camera,
        min_score=min_score,
    )
    rows = (
        events.order_by()
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day")
        .annotate(count=Count("id"))
    )
    return {row["day"]: row["count"] for row in rows}


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    count: int


def month_calendar(year: int, month: int, counts: dict[date, int]) -> list[list[CalendarDay]]:
    """The weeks of a month (Monday first), padded with the neighbouring months' days."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return [
        [CalendarDay(day, day.month == month, counts.get(day, 0)) for day in week] for week in weeks
    ]


def nearest_days(user, *, day: date, zone: ZoneInfo, camera=None, min_score=None):
    """The closest day before and after `day` that has events (None where there is none)."""
    start, end = day_bounds(day, zone)
    events = filter_events(visible_events(user), zone=zone, camera=camera, min_score=min_score)
    before = events.filter(started_at__lt=start).order_by("-started_at").first()
    after = events.filter(started_at__gte=end).order_by("started_at").first()
    return (
        before.started_at.astimezone(zone).date() if before else None,
        after.started_at.astimezone(zone).date() if after else None,
    )


def cameras_with_status(user, *, events_since: datetime) -> list[Camera]:
    """Every camera (for people who may view cameras), each with `latest_event_at`,
    `latest_snapshot_id` (the best snapshot of its newest event) and `events_since` (how many
    events since then), in one query."""
    if not user.has_perm(VIEW_CAMERAS):
        return []
    recent = MotionEvent.objects.filter(camera=OuterRef("pk"), started_at__gte=events_since)
    newest = MotionEvent.objects.filter(camera=OuterRef("pk")).order_by("-started_at", "-id")
    best = Snapshot.objects.filter(event=OuterRef("latest_event_id")).order_by("position")
    cameras = Camera.objects.annotate(
        latest_event_id=Subquery(newest.values("pk")[:1]),
        latest_event_at=Subquery(newest.values("started_at")[:1]),
        events_since=Coalesce(
            Subquery(recent.order_by().values("camera").annotate(n=Count("pk")).values("n")),
            0,
        ),
    ).annotate(latest_snapshot_id=Subquery(best.values("pk")[:1]))
    return list(cameras)
