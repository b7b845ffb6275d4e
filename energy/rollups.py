"""Rollups: per node, count/sum/min/max of each sampled magnitude and the energy used, per
minute and hour (UTC) and per day (the node's time zone), and per owner the energy of all
their nodes by the hour. The ingest service adds each batch to them, so a chart or an
aggregate over any range reads a bounded number of rows."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from flowsuite.postgres import binary_cursor

from .magnitudes import SAMPLED
from .models import DayRollup, HourRollup, MinuteRollup, Node, OwnerHourRollup

STAT_COLUMNS = [f"{m.key}_{stat}" for m in SAMPLED for stat in ("count", "sum", "min", "max")]
COLUMNS = ["node_id", "start", "readings", "energy_used", *STAT_COLUMNS]
TABLES = {
    "minute": MinuteRollup._meta.db_table,
    "hour": HourRollup._meta.db_table,
    "day": DayRollup._meta.db_table,
}
SLOTS = len(COLUMNS) - 2  # what a bucket accumulates (all but node_id and start)


def _empty() -> list:
    bucket = [0, 0.0]
    for _ in SAMPLED:
        bucket += [0, 0.0, None, None]
    return bucket


def _add_reading(bucket: list, values: dict, energy_used: float, count: bool) -> None:
    bucket[0] += 1 if count else 0
    bucket[1] += energy_used
    slot = 2
    for magnitude in SAMPLED:
        value = values.get(magnitude.key)
        if value is not None:
            bucket[slot] += 1
            bucket[slot + 1] += value
            low, high = bucket[slot + 2], bucket[slot + 3]
            bucket[slot + 2] = value if low is None or value < low else low
            bucket[slot + 3] = value if high is None or value > high else high
        slot += 4


def _merge(into: list, other: list) -> None:
    into[0] += other[0]
    into[1] += other[1]
    for slot in range(2, SLOTS, 4):
        into[slot] += other[slot]
        into[slot + 1] += other[slot + 1]
        for offset, pick in ((2, min), (3, max)):
            mine, theirs = into[slot + offset], other[slot + offset]
            into[slot + offset] = (
                theirs if mine is None else mine if theirs is None else pick(mine, theirs)
            )


def add(readings: Iterable, nodes: dict, *, count: bool = True) -> None:
    """Add readings (node_id, ts, values, energy_used) to the minute, hour and day buckets.
    With count=False only their energy_used is added (a correction of stored readings)."""
    minutes: dict[tuple[int, datetime], list] = {}
    for reading in readings:
        key = (reading.node_id, reading.ts.replace(second=0, microsecond=0))
        bucket = minutes.get(key)
        if bucket is None:
            bucket = minutes[key] = _empty()
        _add_reading(bucket, reading.values, reading.energy_used, count)
    if not minutes:
        return
    hours: dict[tuple[int, datetime], list] = {}
    days: dict[tuple[int, date], list] = {}
    for (node_id, minute), bucket in minutes.items():
        hour_key = (node_id, minute.replace(minute=0))
        day_key = (node_id, minute.astimezone(nodes[node_id].zone).date())
        _merge(hours.setdefault(hour_key, _empty()), bucket)
        _merge(days.setdefault(day_key, _empty()), bucket)
    _upsert("minute", minutes)
    _upsert("hour", hours)
    _upsert("day", days)
    _add_owner_hours(hours, nodes)


def _add_owner_hours(hours: dict, nodes: dict) -> None:
    energy: dict[tuple[int, datetime], float] = {}
    for (node_id, hour), bucket in hours.items():
        if bucket[1]:
            key = (nodes[node_id].owner_id, hour)
            energy[key] = energy.get(key, 0.0) + bucket[1]
    if not energy:
        return
    table = OwnerHourRollup._meta.db_table
    on_conflict = (
        f"ON CONFLICT (owner_id, start) DO UPDATE "
        f"SET energy_used = {table}.energy_used + excluded.energy_used"
    )
    if connection.vendor == "postgresql":
        owners, starts = (list(column) for column in zip(*energy, strict=True))
        with binary_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (owner_id, start, energy_used) SELECT * FROM "
                f"unnest(%b::bigint[], %b::timestamptz[], %b::float8[]) {on_conflict}",
                [owners, starts, list(energy.values())],
            )
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (owner_id, start, energy_used) VALUES (%s, %s, %s) {on_conflict}",
            [(owner_id, adapt(hour), kwh) for (owner_id, hour), kwh in energy.items()],
        )


def rebuild_owner_hours(owner_ids: Iterable[int]) -> None:
    """Sum the owners' hours again from their nodes' (a node changed hands or was removed)."""
    owner_ids = list(owner_ids)
    OwnerHourRollup.objects.filter(owner_id__in=owner_ids).delete()
    placeholders = ", ".join(["%s"] * len(owner_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {OwnerHourRollup._meta.db_table} (owner_id, start, energy_used) "
            f"SELECT n.owner_id, h.start, SUM(h.energy_used) FROM {TABLES['hour']} h "
            f"JOIN {Node._meta.db_table} n ON n.id = h.node_id "
            f"WHERE n.owner_id IN ({placeholders}) GROUP BY n.owner_id, h.start",
            owner_ids,
        )


def _upsert(resolution: str, buckets: dict) -> None:
    if not buckets:
        return
    table = TABLES[resolution]
    if connection.vendor == "postgresql":
        _upsert_postgresql(table, resolution, buckets)
        return
    adapt = (
        connection.ops.adapt_datefield_value
        if resolution == "day"
        else connection.ops.adapt_datetimefield_value
    )
    rows = [(node_id, adapt(start), *bucket) for (node_id, start), bucket in buckets.items()]
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(table), rows)


def _upsert_postgresql(table: str, resolution: str, buckets: dict) -> None:
    """All the buckets in one statement of one array per column, sent in binary (each column's
    values of one type: the arrays are typed by their values)."""
    rows = [(node_id, start, *bucket) for (node_id, start), bucket in buckets.items()]
    columns = [list(column) for column in zip(*rows, strict=True)]
    with binary_cursor() as cursor:
        cursor.execute(_unnest_sql(resolution), columns)


def _column_types(resolution: str) -> list[str]:
    start = "date" if resolution == "day" else "timestamptz"
    stats = [("bigint" if c.endswith("_count") else "float8") for c in STAT_COLUMNS]
    return ["bigint", start, "bigint", "float8", *stats]


def _upsert_sql(table: str, rows: int = 1) -> str:
    row = f"({', '.join(['%s'] * len(COLUMNS))})"
    return f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join([row] * rows)} " + (
        _on_conflict(table)
    )


def _on_conflict(table: str) -> str:
    def combine(column: str) -> str:
        mine, theirs = f"{table}.{column}", f"excluded.{column}"
        if column.endswith("_min") or column.endswith("_max"):
            if connection.vendor == "postgresql":  # LEAST/GREATEST skip NULLs
                return f"{'LEAST' if column.endswith('_min') else 'GREATEST'}({mine}, {theirs})"
            pick = "MIN" if column.endswith("_min") else "MAX"
            return f"COALESCE({pick}({mine}, {theirs}), {mine}, {theirs})"
        return f"{mine} + {theirs}"

    updates = ", ".join(f"{column} = {combine(column)}" for column in COLUMNS[2:])
    return f"ON CONFLICT (node_id, start) DO UPDATE SET {updates}"


@cache
def _unnest_sql(resolution: str) -> str:
    table = TABLES[resolution]
    arrays = ", ".join(f"%b::{kind}[]" for kind in _column_types(resolution))
    return (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT * FROM unnest({arrays}) "
        + _on_conflict(table)
    )


def rebuild_days(node: Node, zone_name: str) -> None:
    """Re-cut a node's day buckets in another time zone (its owner moved), from the hours.

    Hours are whole in every zone with a whole-hour offset; in the few zones with a
    half-hour offset a day takes the hours that start in it.
    """
    zone = ZoneInfo(zone_name)
    days: dict[tuple[int, date], list] = {}
    hours = HourRollup.objects.filter(node=node).values_list("start", *COLUMNS[2:])
    for start, *bucket in hours.iterator(chunk_size=2000):
        _merge(days.setdefault((node.pk, start.astimezone(zone).date()), _empty()), bucket)
    with transaction.atomic():
        DayRollup.objects.filter(node=node).delete()
        _upsert("day", days)
        Node.objects.filter(pk=node.pk).update(time_zone=zone_name)


def bucket_start(resolution: str, ts: datetime, zone: ZoneInfo = UTC) -> datetime:
    """Where the bucket of `ts` starts, as an aware datetime (days in `zone`)."""
    if resolution == "minute":
        return ts.replace(second=0, microsecond=0)
    if resolution == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    local = ts.astimezone(zone)
    return datetime.combine(local.date(), datetime.min.time(), zone)


STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def prune(now: datetime, raw_days: int, minute_days: int) -> dict[str, int]:
    """Delete raw readings and minute rollups past their retention (0: keep); hour and day
    rollups stay, so consumption and long charts are unchanged. Returns what was deleted."""
    from .models import Reading

    deleted = {"readings": 0, "minute rollups": 0}
    for label, model, field, days in (
        ("readings", Reading, "ts", raw_days),
        ("minute rollups", MinuteRollup, "start", minute_days),
    ):
        if days <= 0:
            continue
        old = model.objects.filter(**{f"{field}__lt": now - timedelta(days=days)})
        while True:  # in chunks: a long delete would hold the database's write lock
            ids = list(old.values_list("pk", flat=True)[:20_000])
            if not ids:
                break
            deleted[label] += model.objects.filter(pk__in=ids).delete()[0]
    return deleted
