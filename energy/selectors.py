"""Reading the energy data: what the pages and the API show, from the same functions.

Charts and aggregates read rollups (a bounded number of rows for any range); only short
ranges read raw readings.
"""

import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from flowsuite.postgres import binary_cursor

from . import nodes as node_services
from .magnitudes import NOMINAL_VOLTAGE, SAMPLED
from .models import DayRollup, HourRollup, MinuteRollup, Node, OwnerHourRollup, Reading

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
RESOLUTIONS = ("raw", "minute", "hour", "day")
PERIODS = ("hour", "day", "month", "year")
# The longest range each resolution is chosen for: a chart gets at most ~1,500 points.
FITS = [("raw", timedelta(hours=2)), ("minute", timedelta(hours=25)), ("hour", timedelta(days=62))]
ROLLUP_MODELS = {"minute": MinuteRollup, "hour": HourRollup, "day": DayRollup}
MAX_RAW_POINTS = 5000


def fit_resolution(start: datetime, end: datetime) -> str:
    span = end - start
    for resolution, longest in FITS:
        if span <= longest:
            return resolution
    return "day"


# --- a node's readings over a range ----------------------------------------------------


def series(node: Node, start: datetime, end: datetime, resolution: str | None = None) -> dict:
    """Points of every sampled magnitude between start and end:
    {"resolution": ..., "points": [{"t", "energy_used", "<key>": {"avg", "min", "max"}}]}."""
    resolution = resolution or fit_resolution(start, end)
    if resolution == "raw":
        rows = (
            Reading.objects.filter(node=node, ts__gte=start, ts__lt=end)
            .order_by("ts")
            .values_list("ts", "energy_used", *(m.key for m in SAMPLED))[:MAX_RAW_POINTS]
        )
        points = []
        for ts, used, *values in rows:
            point = {"t": ts, "energy_used": used}
            for magnitude, value in zip(SAMPLED, values, strict=True):
                point[magnitude.key] = (
                    None if value is None else {"avg": value, "min": value, "max": value}
                )
            points.append(point)
        return {"resolution": resolution, "points": points}
    model = ROLLUP_MODELS[resolution]
    if resolution == "day":
        zone = ZoneInfo(node.time_zone)
        bounds = {
            "start__gte": start.astimezone(zone).date(),
            "start__lte": end.astimezone(zone).date(),
        }
    else:
        bounds = {"start__gte": start, "start__lt": end}
    rows = model.objects.filter(node=node, **bounds).order_by("start").values()
    return {"resolution": resolution, "points": [_rollup_point(row, node) for row in rows]}


def _rollup_point(row: dict, node: Node) -> dict:
    start = row["start"]
    if isinstance(start, date) and not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), ZoneInfo(node.time_zone))
    point = {"t": start, "energy_used": row["energy_used"], "readings": row["readings"]}
    for magnitude in SAMPLED:
        count = row[f"{magnitude.key}_count"]
        point[magnitude.key] = (
            {
                "avg": row[f"{magnitude.key}_sum"] / count,
                "min": row[f"{magnitude.key}_min"],
                "max": row[f"{magnitude.key}_max"],
            }
            if count
            else None
        )
    return point


def summary(points: list[dict]) -> dict:
    """Per magnitude over a series: current (last), max, min and when it last changed."""
    result = {}
    for magnitude in SAMPLED:
        present = [p for p in points if p.get(magnitude.key)]
        if not present:
            result[magnitude.key] = None
            continue
        result[magnitude.key] = {
            "current": present[-1][magnitude.key]["avg"],
            "max": max(p[magnitude.key]["max"] for p in present),
            "min": min(p[magnitude.key]["min"] for p in present),
            "updated": present[-1]["t"],
        }
    return result


# --- consumption -----------------------------------------------------------------------


@dataclass
class Consumption:
    period: str
    start: datetime
    end: datetime
    buckets: list[tuple[datetime, float]]  # (bucket start, kWh), every bucket of the range
    total: float
    previous_total: float  # the same length of time just before


def period_start(period: str, moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if period == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
        return local
    day = local.date()
    if period == "month":
        day = day.replace(day=1)
    elif period == "year":
        day = day.replace(month=1, day=1)
    return datetime.combine(day, datetime.min.time(), zone)


def next_period(period: str, start: datetime, zone: ZoneInfo) -> datetime:
    if period == "hour":
        return (start.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(zone)
    day = start.date()
    if period == "day":
        day += timedelta(days=1)
    elif period == "month":
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        day = day.replace(year=day.year + 1)
    return datetime.combine(day, datetime.min.time(), zone)


def consumption(
    node_list: list[Node], period: str, start: datetime, end: datetime, zone: ZoneInfo
) -> Consumption:
    """kWh used by `node_list` per hour/day/month/year between start and end (boundaries in
    `zone`), with the total of the same length of time just before, to compare."""
    start = period_start(period, start, zone)
    if period == "hour" or not _same_zone(node_list, zone):
        sources = _hour_sources(node_list)
    else:  # the hours at the range's ends only: not worth a query to find whole owners
        sources = _HourSources([], [node.pk for node in node_list])
    if period == "hour":
        buckets = _hour_buckets(sources, start, end, zone)
    else:
        totals = _kwh_by_bucket(node_list, sources, period, start, end, zone)
        buckets = []
        cursor = start
        while cursor < end:
            buckets.append((cursor, totals.get(cursor, 0.0)))
            cursor = next_period(period, cursor, zone)
    previous = _kwh_total(node_list, sources, start - (end - start), start, zone)
    return Consumption(period, start, end, buckets, sum(kwh for _, kwh in buckets), previous)


@dataclass
class _HourSources:
    """Where the hours of some nodes are read: the owners all of whose nodes they include (one
    row an hour for each owner) and the other nodes (one row an hour for each node)."""

    owners: list[int]
    nodes: list[int]

    def __bool__(self):
        return bool(self.owners or self.nodes)

    @property
    def single(self) -> bool:
        return len(self.owners) + len(self.nodes) == 1


def _hour_sources(node_list: list[Node]) -> _HourSources:
    by_owner: dict[int, set[int]] = defaultdict(set)
    for node in node_list:
        by_owner[node.owner_id].add(node.pk)
    if len(node_list) <= 1:
        return _HourSources([], [node.pk for node in node_list])
    placeholders = ", ".join(["%s"] * len(by_owner))
    with connection.cursor() as cursor:  # in SQL: the ORM took longer to write it than to run it
        cursor.execute(
            f"SELECT owner_id, COUNT(*) FROM {Node._meta.db_table} "
            f"WHERE owner_id IN ({placeholders}) GROUP BY owner_id",
            list(by_owner),
        )
        owned = dict(cursor.fetchall())
    whole = sorted(owner for owner, ids in by_owner.items() if owned.get(owner) == len(ids))
    rest = sorted(pk for owner, ids in by_owner.items() if owner not in whole for pk in ids)
    return _HourSources(whole, rest)


def _hours_sql(sources: _HourSources, where: str, params: list) -> tuple[str, list]:
    """A select of the sources' (start, energy_used) hours matching `where`."""
    parts, all_params = [], []
    for table, column, ids in (
        (OwnerHourRollup._meta.db_table, "owner_id", sources.owners),
        (HourRollup._meta.db_table, "node_id", sources.nodes),
    ):
        if ids:
            placeholders = ", ".join(["%s"] * len(ids))
            parts.append(
                f"SELECT start, energy_used FROM {table} "
                f"WHERE {column} IN ({placeholders}) AND ({where})"
            )
            all_params += [*ids, *params]
    return " UNION ALL ".join(parts), all_params


# A UTC hour's start as seconds since the epoch: ints cost far less to fetch than datetimes.
EPOCH_SQL = {
    "sqlite": (
        "unixepoch(start)"
        if sqlite3.sqlite_version_info >= (3, 38)
        else "CAST(strftime('%%s', start) AS INTEGER)"
    ),
    "postgresql": "CAST(date_part('epoch', start) AS bigint)",  # EXTRACT: a slower numeric
}


def _hour_sums(sources: _HourSources, start: datetime, end: datetime) -> list[tuple[int, float]]:
    """kWh of the sources per UTC hour, as (epoch seconds, kWh)."""
    if not sources:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    hours, params = _hours_sql(sources, "start >= %s AND start < %s", [adapt(start), adapt(end)])
    epoch = EPOCH_SQL[connection.vendor]
    if sources.single:
        sql = f"SELECT {epoch}, energy_used FROM ({hours}) AS hours"
    else:
        sql = f"SELECT {epoch}, SUM(energy_used) FROM ({hours}) AS hours GROUP BY start"
    if connection.vendor == "postgresql":  # a year's 8,760 rows read in binary: half the time
        with binary_cursor() as cursor:
            cursor.execute(sql, params, binary=True)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _hour_buckets(sources: _HourSources, start: datetime, end: datetime, zone: ZoneInfo) -> list:
    """Every hour from start (a local hour) to end with its kWh."""
    count = max(0, math.ceil((end - start).total_seconds() / 3600))
    kwh = [0.0] * count
    first = int(start.timestamp())
    for epoch, used in _hour_sums(sources, start, end):
        # In a half-hour zone a UTC hour counts in the local hour it starts in.
        kwh[(epoch - first) // 3600] += used
    buckets, moment, hour = [], start.astimezone(UTC), timedelta(hours=1)
    for used in kwh:
        buckets.append((moment.astimezone(zone), used))
        moment += hour
    return buckets


def _kwh_by_bucket(node_list, sources, period, start, end, zone) -> dict[datetime, float]:
    totals: dict[datetime, float] = defaultdict(float)
    if not node_list:
        return totals
    if not _same_zone(node_list, zone):
        # A zone other than the nodes' regroups their hours, the finest shared cut.
        rows = [
            (datetime.fromtimestamp(epoch, UTC), kwh)
            for epoch, kwh in _hour_sums(sources, start, end)
        ]
    else:
        days = DayRollup.objects.filter(
            node_id__in=[node.pk for node in node_list],
            start__gte=_day_after(start, zone),
            start__lt=_day_after(end, zone),
        )
        rows = [
            (datetime.combine(day, datetime.min.time(), zone), kwh)
            for day, kwh in days.values("start")
            .annotate(kwh=Sum("energy_used"))
            .values_list("start", "kwh")
        ]
    for moment, kwh in rows:
        if start <= moment < end:
            totals[period_start(period, moment, zone)] += kwh
    return totals


def _kwh_total(node_list, sources, start, end, zone) -> float:
    """The kWh of the whole range (the period before, to compare), in one query: the days that
    lie wholly inside it and the hours at its ends when the days are the zone's; hours
    otherwise."""
    if not node_list:
        return 0.0
    first_day, last_day = _day_after(start, zone), end.astimezone(zone).date()
    midnights = [datetime.combine(day, datetime.min.time(), zone) for day in (first_day, last_day)]
    # Days only where their midnights fall on UTC hours: the hours at the ends then meet them.
    if (
        first_day >= last_day
        or not _same_zone(node_list, zone)
        or any(midnight.astimezone(UTC).minute for midnight in midnights)
    ):
        first_day = last_day = None
        midnights = [end, end]
    ops = connection.ops
    bounds = [ops.adapt_datetimefield_value(t) for t in (start, *midnights, end)]
    hours, params = _hours_sql(
        sources, "start >= %s AND start < %s OR start >= %s AND start < %s", bounds
    )
    sql = f"SELECT COALESCE(SUM(energy_used), 0) FROM ({hours}) AS hours"
    if first_day is not None:
        ids = [node.pk for node in node_list]
        sql += (
            f" UNION ALL SELECT COALESCE(SUM(energy_used), 0) FROM {DayRollup._meta.db_table} "
            f"WHERE node_id IN ({', '.join(['%s'] * len(ids))}) AND start >= %s AND start < %s"
        )
        params += [*ids, ops.adapt_datefield_value(first_day), ops.adapt_datefield_value(last_day)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sum(kwh for (kwh,) in cursor.fetchall())


def _same_zone(node_list, zone: ZoneInfo) -> bool:
    return all(node.time_zone == zone.key for node in node_list)


def _day_after(moment: datetime, zone: ZoneInfo) -> date:
    local = moment.astimezone(zone)
    day = local.date()
    return day if local.time() == datetime.min.time() else day + timedelta(days=1)


# --- the main panel --------------------------------------------------------------------


def kpis(node_list: list[Node], zone: ZoneInfo, now: datetime | None = None) -> dict:
    """Averages of the nodes sending data now, today's energy and the power quality."""
    now = now or timezone.now()
    online = [n for n in node_list if node_services.node_status(n, now) == "online"]
    averages = {}
    for magnitude in SAMPLED:
        values = [
            n.latest[magnitude.key] for n in online if n.latest.get(magnitude.key) is not None
        ]
        averages[magnitude.key] = {
            "value": sum(values) / len(values) if values else None,
            "nodes": len(values),
        }
    today = period_start("day", now, zone)
    today_kwh = sum(kwh for _, kwh in consumption(node_list, "day", today, now, zone).buckets)
    voltage = averages["voltage"]["value"]
    deviations = [
        (abs(n.latest["voltage"] - NOMINAL_VOLTAGE) / NOMINAL_VOLTAGE * 100, n)
        for n in online
        if n.latest.get("voltage") is not None
    ]
    worst = max(deviations, key=lambda item: item[0]) if deviations else (None, None)
    return {
        "averages": averages,
        "nodes": len(node_list),
        "online": len(online),
        "today_kwh": today_kwh,
        "voltage_deviation_pct": (
            None if voltage is None else (voltage - NOMINAL_VOLTAGE) / NOMINAL_VOLTAGE * 100
        ),
        "worst_voltage_deviation_pct": worst[0],
        "worst_voltage_node": worst[1].name if worst[1] else None,
        "nominal_voltage": NOMINAL_VOLTAGE,
        "at": now,
    }


def statuses(node_list: list[Node], now: datetime | None = None) -> dict[int, str]:
    now = now or timezone.now()
    return {node.pk: node_services.node_status(node, now) for node in node_list}


def latest_readings(user, limit: int = 100):
    """The newest readings of the nodes `user` may see (the older seed's GET /api/energy)."""
    return (
        Reading.objects.filter(node__in=Node.objects.visible_to(user))
        .select_related("node")
        .order_by("-ts")[:limit]
    )
