"""The one ingest service: every source (MQTT bridge, REST batch, simulators) hands a batch of
readings to `ingest()`, which validates, drops duplicates, writes them with their rollups in
one transaction, keeps each node's latest state and publishes live events after commit.

The hot path works on tuples and raw SQL: at tens of thousands of readings a second, building
a model instance per reading would cost more than everything else together.
"""

import json
import logging
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.types.json import Jsonb

from flowsuite.postgres import binary_cursor

from . import live, rollups
from .magnitudes import ALL, BY_KEY, ENERGY, POWER
from .models import Node, PendingDevice

log = logging.getLogger(__name__)

# Sent inside the ingest transaction with the readings just stored, per node:
#   readings_stored.send(sender=Node, nodes={node_id: NodeState}, readings=[StoredReading])
# Alert rules (their own issue) evaluate here, incrementally, without reading back.
readings_stored = Signal()

FUTURE_TOLERANCE = timedelta(minutes=5)
# A meter cannot use more than this: a larger counter jump is a replaced meter, not energy.
MAX_PLAUSIBLE_KW = 1000.0
# How long a power-only meter's reading is taken to last, at most, in expected intervals.
POWER_HOLD_INTERVALS = 3
FIELDS = frozenset(m.key for m in ALL) | {"ts"}
COLUMNS = [m.key for m in ALL]  # reading columns in this order, then energy_used


# What a payload may be, at most, before it is parsed: a meter's message is a few hundred bytes,
# a reading batch a few levels deep ({"readings": [{...}]}); the JSON parser recurses per level.
MAX_DEPTH = 16


class Reject(ValueError):
    """A reading refused, with the reason the source reports."""


class TooLarge(Reject):
    """A payload refused for its size, before it was read."""


@dataclass
class Rejection:
    index: int
    device_id: str
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_fields: int = 0  # unknown payload fields, dropped from readings that were kept

    def as_dict(self):
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [vars(rejection) for rejection in self.rejected],
            "ignored_fields": self.ignored_fields,
        }


@dataclass
class NodeState:
    """What the ingest path knows of a node, read once per batch under a lock."""

    id: int
    device_id: str
    owner_id: int
    zone: ZoneInfo
    expected_interval: int
    last_reading_at: datetime | None
    latest: dict
    counter_kwh: float | None
    counter_at: datetime | None


@dataclass
class StoredReading:
    node_id: int
    ts: datetime
    values: dict  # magnitude key -> value (only those present)
    energy_used: float = 0.0


# --- parsing and validation -------------------------------------------------------------

# A string runs to its closing quote or to the end of the text: a pattern that always matches
# from its quote, so that the scan stays linear whatever the quotes and backslashes.
_STRING = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def parse_json(raw: bytes | str, *, max_bytes: int) -> object:
    """The one JSON parser for what meters send (MQTT payloads, REST bodies): at most
    `max_bytes`, UTF-8, nested at most MAX_DEPTH; any failure is a Reject with a reason that
    names the kind of fault, not the message (the bridge counts and logs by reason)."""
    if len(raw) > max_bytes:
        raise TooLarge(f"payload larger than {max_bytes} bytes")
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject("not UTF-8") from None
    if _depth(raw) > MAX_DEPTH:
        raise Reject(f"nested too deep (more than {MAX_DEPTH} levels)")
    try:
        return json.loads(raw)
    except RecursionError:  # cannot happen past the depth check; a bound of its own anyway
        raise Reject(f"nested too deep (more than {MAX_DEPTH} levels)") from None
    except ValueError:  # a syntax error, or an integer of more than 4300 digits
        raise Reject("not JSON") from None


def _depth(text: str) -> int:
    """How deep brackets nest outside strings (up to MAX_DEPTH + 1): a scan that cannot
    recurse."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


# Epoch numbers past this are neither seconds nor milliseconds of any sane clock (year 33658
# in ms); compared before any conversion, which overflowed or left datetime's range.
_MAX_EPOCH = 1e15


def parse_timestamp(raw, received_at: datetime, oldest: datetime | None = None) -> datetime:
    """The reading's time; `oldest` is the backfill limit (by default from the settings)."""
    if raw is None:
        return received_at
    if isinstance(raw, bool):
        raise Reject("ts must be epoch seconds or an ISO 8601 time with zone")
    latest = received_at + FUTURE_TOLERANCE
    oldest = oldest or received_at - timedelta(days=settings.ENERGY_MAX_BACKFILL_DAYS)
    if isinstance(raw, int | float):
        # Compared, never converted, until known to be in range: a huge int overflows a float
        if not raw >= 0:  # and NaN compares false
            raise Reject("ts is not a valid time")
        if raw >= _MAX_EPOCH:  # infinity too
            raise Reject(FUTURE)
        seconds = raw / 1000 if raw > 1e11 else raw  # ESP32 firmwares send s or ms
        if seconds > latest.timestamp():
            raise Reject(FUTURE)
        if seconds < oldest.timestamp():
            raise Reject(TOO_OLD)
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(raw, str):
        raise Reject("ts must be epoch seconds or an ISO 8601 time with zone")
    try:
        ts = parse_datetime(raw)
    except ValueError:
        ts = None
    if ts is None:
        raise Reject("ts is not an ISO 8601 time")
    if ts.tzinfo is None:
        raise Reject("ts has no time zone (add Z or an offset)")
    if ts > latest:
        raise Reject(FUTURE)
    if ts < oldest:
        raise Reject(TOO_OLD)
    return ts


FUTURE = "ts is in the future (is the meter's clock set?)"
TOO_OLD = "ts is older than the backfill limit"


# (key, minimum, maximum) of each magnitude, for the per-reading checks.
_RANGES = tuple((m.key, m.minimum, m.maximum) for m in ALL)


def parse_values(payload: dict) -> tuple[dict, int]:
    """The magnitudes of a payload, checked; and how many unknown fields it carried."""
    values = {}
    for key, minimum, maximum in _RANGES:
        raw = payload.get(key)
        if raw is None:
            continue
        kind = type(raw)  # exact types: a bool is an int subclass, and no number
        if kind is not float and kind is not int:
            raise Reject(f"{key} must be a number")
        if not minimum <= raw <= maximum:
            raise Reject(_out_of_range(key, raw))
        values[key] = float(raw)
    if not values:
        raise Reject("no magnitude in the reading")
    if len(payload) == len(values) + ("ts" in payload):
        return values, 0
    return values, len(payload.keys() - FIELDS)


def _out_of_range(key: str, raw: float) -> str:
    if raw != raw or raw in (math.inf, -math.inf):  # compared: a huge int is no float
        return f"{key} is not a finite number"
    magnitude = BY_KEY[key]
    limits = f"{magnitude.minimum:g}..{magnitude.maximum:g} {magnitude.unit}".rstrip()
    if not -1e15 < raw < 1e15:  # hundreds of digits are not repeated back
        return f"{key} is far outside {limits}"
    return f"{key} {raw} is outside {limits}"


# --- energy used ------------------------------------------------------------------------


def counter_delta(previous: float | None, current: float, hours: float) -> float:
    """kWh used between two counter values. A counter that went down was reset (a reboot):
    counting starts again from zero, never a negative consumption; an impossible jump (more
    than MAX_PLAUSIBLE_KW over the time) is a replaced meter and counts nothing."""
    if previous is None:
        return 0.0
    delta = current - previous if current >= previous else current
    if delta > MAX_PLAUSIBLE_KW * max(hours, 1 / 60):
        return 0.0
    return delta


def power_energy(power_w: float, seconds: float, node: NodeState) -> float:
    """kWh a power-only meter used over `seconds`, held at most a few expected intervals."""
    held = min(max(seconds, 0.0), POWER_HOLD_INTERVALS * node.expected_interval)
    return power_w * held / 3_600_000


# --- the service ------------------------------------------------------------------------


@dataclass
class Checked:
    """A message checked without the database: its time and values, or why it was refused."""

    index: int
    device_id: str
    payload: object
    ts: datetime | None = None
    values: dict | None = None
    unknown_fields: int = 0
    refused: str = ""


@dataclass
class Prepared:
    """A batch checked by `prepare()`, ready for `store()`."""

    received_at: datetime
    messages: list[Checked]


def ingest(
    messages: Iterable[tuple[str, dict]],
    *,
    source: str = "api",
    received_at: datetime | None = None,
) -> IngestResult:
    """Store a batch of (device_id, payload) readings; returns what was accepted or not."""
    return store(prepare(messages, received_at=received_at), source=source)


def prepare(
    messages: Iterable[tuple[str, dict]], *, received_at: datetime | None = None
) -> Prepared:
    """Check each reading's values and time, without the database: the MQTT bridge does it
    for the next batch while the database stores the last one."""
    received_at = received_at or timezone.now()
    oldest = received_at - timedelta(days=settings.ENERGY_MAX_BACKFILL_DAYS)
    checked = []
    for index, (device_id, payload) in enumerate(messages):
        message = Checked(index, device_id, payload)
        try:
            if not isinstance(payload, dict):
                raise Reject("a reading is a JSON object")
            message.values, message.unknown_fields = parse_values(payload)
            message.ts = parse_timestamp(payload.get("ts"), received_at, oldest)
        except Reject as reason:
            message.refused = str(reason)
        except (ArithmeticError, ValueError, TypeError, OSError) as error:
            # A fault the checks above missed: still a refusal of this reading, not of the
            # batch (nor the bridge's end); logged so that the check gets written.
            log.warning("energy: a reading no check refused raised %r", error, exc_info=True)
            message.refused = f"not a valid reading ({type(error).__name__})"
        checked.append(message)
    return Prepared(received_at, checked)


def store(prepared: Prepared, *, source: str = "api") -> IngestResult:
    """Write a prepared batch in one transaction: readings, rollups, nodes' state."""
    received_at = prepared.received_at
    result = IngestResult()
    with transaction.atomic():
        nodes = _lock_nodes({message.device_id for message in prepared.messages})
        batch: dict[tuple[int, datetime], StoredReading] = {}
        unknown: dict[str, list] = {}
        for message in prepared.messages:
            node = nodes.get(message.device_id)
            refused = message.refused
            if node is None:  # said first: the pending devices list counts every message
                unknown.setdefault(message.device_id, []).append(message.payload)
                refused = "unknown device"
            if refused:
                result.rejected.append(Rejection(message.index, message.device_id, refused))
                continue
            result.ignored_fields += message.unknown_fields
            key = (node.id, message.ts)
            if key in batch:
                result.duplicates += 1
            else:
                batch[key] = StoredReading(node.id, message.ts, message.values)
        if unknown:
            _record_pending(unknown, source, received_at)
        stored = _store(nodes, sorted(batch.values(), key=attrgetter("node_id", "ts")), received_at)
        result.accepted = len(stored)
        result.duplicates += len(batch) - len(stored)
        if stored:
            readings_stored.send(sender=Node, nodes=nodes, readings=stored)
            live.readings_stored(nodes, stored)
    return result


NODE_STATE = [
    "id",
    "device_id",
    "owner_id",
    "time_zone",
    "expected_interval",
    "last_reading_at",
    "latest",
    "counter_kwh",
    "counter_at",
]


def _lock_nodes(device_ids: set[str]) -> dict[str, NodeState]:
    if connection.vendor == "postgresql":  # in SQL: the ORM's query cost more than the rows
        with binary_cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(NODE_STATE)} FROM {Node._meta.db_table} "
                "WHERE device_id = ANY(%s) ORDER BY id FOR UPDATE",
                [list(device_ids)],
                binary=True,
            )
            rows = cursor.fetchall()
    else:
        rows = (
            Node.objects.select_for_update()
            .filter(device_id__in=device_ids)
            .order_by("pk")
            .values_list(*NODE_STATE)
        )
    return {row[1]: NodeState(row[0], row[1], row[2], ZoneInfo(row[3]), *row[4:]) for row in rows}


def _record_pending(unknown: dict[str, list], source: str, received_at: datetime) -> None:
    for device_id, payloads in unknown.items():
        device_id = str(device_id)[:64]
        pending, created = PendingDevice.objects.get_or_create(
            device_id=device_id,
            defaults={"source": source, "last_seen_at": received_at},
        )
        PendingDevice.objects.filter(pk=pending.pk).update(
            messages=F("messages") + len(payloads),
            last_seen_at=received_at,
            last_payload=repr(payloads[-1])[:500],
        )
        log.warning("energy: %d message(s) from unknown device %r", len(payloads), device_id)


def _store(
    nodes: dict[str, NodeState], readings: list[StoredReading], received_at: datetime
) -> list[StoredReading]:
    by_id = {node.id: node for node in nodes.values()}
    fresh: list[StoredReading] = []
    late: list[StoredReading] = []
    touched: list[NodeState] = []
    start = 0
    while start < len(readings):
        node = by_id[readings[start].node_id]
        end = start
        while end < len(readings) and readings[end].node_id == node.id:
            end += 1
        group = readings[start:end]
        start = end
        newest = node.last_reading_at
        split = 0 if newest is None else bisect_right([r.ts for r in group], newest)
        if split:
            late += _backfill(node, group[:split])
        _chain(node, group[split:])
        fresh += group[split:]
        touched.append(node)
    _insert(fresh)
    _save_node_states(touched, received_at)
    stored = late + fresh
    rollups.add(stored, by_id)
    return stored


def _chain(node: NodeState, readings: list[StoredReading]) -> None:
    """Readings newer than any stored: they chain on the node's counter state."""
    if not readings:
        return
    previous_ts = node.last_reading_at
    previous_power = node.latest.get(POWER.key)
    for reading in readings:
        energy = reading.values.get(ENERGY.key)
        if energy is not None:
            hours = (reading.ts - node.counter_at).total_seconds() / 3600 if node.counter_at else 0
            reading.energy_used = counter_delta(node.counter_kwh, energy, hours)
            node.counter_kwh, node.counter_at = energy, reading.ts
        elif node.counter_kwh is None and previous_ts is not None and previous_power is not None:
            # A meter without a counter (the older seed's topic sends kW): left Riemann sum.
            seconds = (reading.ts - previous_ts).total_seconds()
            reading.energy_used = power_energy(previous_power, seconds, node)
        previous_ts = reading.ts
        previous_power = reading.values.get(POWER.key, previous_power)
        node.latest.update(reading.values)
    node.latest["ts"] = readings[-1].ts.isoformat()
    node.last_reading_at = readings[-1].ts


def _backfill(node: NodeState, readings: list[StoredReading]) -> list[StoredReading]:
    """Readings older than the node's newest (a meter catching up, or a re-delivery): drop
    those already stored, then re-chain the counter through the stretch they fall in, so the
    consumption lands in the right buckets and the reading after them is corrected."""
    with connection.cursor() as cursor:
        first, last = readings[0].ts, readings[-1].ts
        cursor.execute(
            "SELECT ts FROM energy_reading WHERE node_id = %s AND ts >= %s AND ts <= %s",
            [node.id, _db(first), _db(last)],
        )
        existing = {_aware(row[0]) for row in cursor.fetchall()}
        readings = [r for r in readings if r.ts not in existing]
        if not readings:
            return readings
        chain = _counter_chain(cursor, node.id, readings[0].ts, readings[-1].ts)
    corrections = _rechain(node, readings, chain)
    for reading in readings:
        energy = reading.values.get(ENERGY.key)
        if energy is not None and (node.counter_at is None or reading.ts > node.counter_at):
            node.counter_kwh, node.counter_at = energy, reading.ts
    _insert(readings)
    if corrections:
        _correct(corrections, node)
    return readings


def _counter_chain(cursor, node_id: int, first: datetime, last: datetime) -> list[tuple]:
    """Stored counter readings from the one before `first` to the one after `last`."""
    sql = "SELECT id, ts, energy, energy_used FROM energy_reading WHERE node_id = %s AND "
    cursor.execute(
        sql + "energy IS NOT NULL AND ts < %s ORDER BY ts DESC LIMIT 1", [node_id, _db(first)]
    )
    before = cursor.fetchall()
    cursor.execute(
        sql + "energy IS NOT NULL AND ts > %s AND ts <= %s ORDER BY ts",
        [node_id, _db(first), _db(last)],
    )
    inside = cursor.fetchall()
    cursor.execute(sql + "energy IS NOT NULL AND ts > %s ORDER BY ts LIMIT 1", [node_id, _db(last)])
    after = cursor.fetchall()
    return [(row[0], _aware(row[1]), row[2], row[3]) for row in before + inside + after]


def _rechain(node: NodeState, readings: list[StoredReading], chain: list[tuple]) -> list[tuple]:
    """Set energy_used on the late readings; returns (id, ts, difference) for stored ones."""
    merged = sorted(
        [(ts, "stored", (pk, energy, used)) for pk, ts, energy, used in chain]
        + [(r.ts, "new", r) for r in readings if ENERGY.key in r.values],
        key=lambda item: item[0],
    )
    corrections = []
    previous = previous_ts = None
    for ts, kind, item in merged:
        energy = item.values[ENERGY.key] if kind == "new" else item[1]
        hours = (ts - previous_ts).total_seconds() / 3600 if previous_ts else 0
        used = counter_delta(previous, energy, hours)
        if kind == "new":
            item.energy_used = used
        elif previous is not None and abs(used - item[2]) > 1e-12:
            corrections.append((item[0], ts, used - item[2]))
        previous, previous_ts = energy, ts
    if node.counter_kwh is None:
        for reading in readings:
            if POWER.key in reading.values and ENERGY.key not in reading.values:
                reading.energy_used = power_energy(
                    reading.values[POWER.key], node.expected_interval, node
                )
    return corrections


def _correct(corrections: list[tuple], node: NodeState) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE energy_reading SET energy_used = energy_used + %s WHERE id = %s",
            [(difference, pk) for pk, _ts, difference in corrections],
        )
    adjustments = [
        StoredReading(node.id, ts, {}, difference) for _pk, ts, difference in corrections
    ]
    rollups.add(adjustments, {node.id: node}, count=False)


def _insert(readings: Sequence[StoredReading]) -> None:
    if not readings:
        return
    columns = ", ".join(["node_id", "ts", *COLUMNS, "energy_used"])
    if connection.vendor == "postgresql":  # COPY: one round trip instead of one per row
        copy_sql = f"COPY energy_reading ({columns}) FROM STDIN (FORMAT BINARY)"
        with binary_cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.set_types(["int8", "timestamptz", *["float8"] * (len(COLUMNS) + 1)])
            for r in readings:
                copy.write_row((r.node_id, r.ts, *map(r.values.get, COLUMNS), r.energy_used))
        return
    with connection.cursor() as cursor:
        rows = [
            (r.node_id, _sqlite_time(r.ts), *map(r.values.get, COLUMNS), r.energy_used)
            for r in readings
        ]
        placeholders = ", ".join(["%s"] * (len(COLUMNS) + 3))
        cursor.executemany(f"INSERT INTO energy_reading ({columns}) VALUES ({placeholders})", rows)


def _save_node_states(touched: list[NodeState], received_at: datetime) -> None:
    if not touched:
        return
    postgres = connection.vendor == "postgresql"
    rows = [
        (
            node.id,
            _db(received_at),
            _db(node.last_reading_at),
            Jsonb(node.latest) if postgres else json.dumps(node.latest),
            None if node.counter_kwh is None else float(node.counter_kwh),
            _db(node.counter_at),
        )
        for node in touched
    ]
    if postgres:  # one statement of arrays for all the nodes
        with binary_cursor() as cursor:
            cursor.execute(
                "UPDATE energy_node AS n SET last_seen_at = v.seen, last_reading_at = v.reading, "
                "latest = v.latest, counter_kwh = v.kwh, counter_at = v.counter FROM unnest("
                "%b::bigint[], %b::timestamptz[], %b::timestamptz[], %b::jsonb[], %b::float8[], "
                "%b::timestamptz[]) AS v(id, seen, reading, latest, kwh, counter) "
                "WHERE n.id = v.id",
                [list(column) for column in zip(*rows, strict=True)],
            )
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE energy_node SET last_seen_at = %s, last_reading_at = %s, latest = %s, "
            "counter_kwh = %s, counter_at = %s WHERE id = %s",
            [(*row[1:], row[0]) for row in rows],
        )


def _db(ts: datetime | None):
    """A time as the database driver takes it: SQLite stores Django's naive UTC text."""
    if ts is None or connection.vendor != "sqlite":
        return ts
    return _sqlite_time(ts)


def _sqlite_time(ts: datetime) -> str:
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return str(ts.replace(tzinfo=None))


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands raw columns back as text
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
