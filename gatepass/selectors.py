"""Reads for the gate pass pages and API."""

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import ExtractHour
from django.utils import timezone

from .choices import Direction, Outcome
from .models import Driver, Movement, Station


def drivers_inside():
    """Drivers inside now, longest first, each with `.time_inside` and `.overstaying`."""
    now = timezone.now()
    limit = timedelta(hours=settings.GATEPASS_OVERSTAY_HOURS)
    inside = list(Driver.objects.filter(inside_since__isnull=False).order_by("inside_since"))
    for driver in inside:
        driver.time_inside = now - driver.inside_since
        driver.overstaying = driver.time_inside > limit
    return inside


def today_summary() -> dict:
    """Today's (in the current time zone) entries and exits per station and per hour."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = Movement.objects.filter(occurred_at__gte=start)
    accepted = today.filter(outcome=Outcome.ACCEPTED)
    per_station = Counter()
    for row in accepted.values("station", "direction").annotate(n=Count("id")):
        per_station[(row["station"], row["direction"])] = row["n"]
    per_hour = {Direction.ENTRY: [0] * 24, Direction.EXIT: [0] * 24}
    hours = accepted.annotate(
        hour=ExtractHour("occurred_at", tzinfo=timezone.get_current_timezone())
    )
    for row in hours.values("hour", "direction").annotate(n=Count("id")):
        if row["direction"] in per_hour:
            per_hour[row["direction"]][row["hour"]] = row["n"]
    stations = [
        {
            "id": s.pk,
            "name": s.name,
            "entries": per_station[(s.pk, Direction.ENTRY)],
            "exits": per_station[(s.pk, Direction.EXIT)],
        }
        for s in Station.objects.all()
    ]
    return {
        "inside": Driver.objects.filter(inside_since__isnull=False).count(),
        "entries": sum(per_hour[Direction.ENTRY]),
        "exits": sum(per_hour[Direction.EXIT]),
        "refused": today.filter(outcome=Outcome.REFUSED).count(),
        "per_station": stations,
        "per_hour": {"entries": per_hour[Direction.ENTRY], "exits": per_hour[Direction.EXIT]},
    }


def time_on_site(movements) -> timedelta:
    """Total time inside from a driver's accepted movements (oldest first)."""
    total, entered = timedelta(), None
    for movement in movements:
        if not movement.accepted:
            continue
        if movement.direction == Direction.ENTRY:
            entered = movement.occurred_at
        elif movement.direction == Direction.EXIT and entered:
            total += movement.occurred_at - entered
            entered = None
    if entered:
        total += timezone.now() - entered
    return total
