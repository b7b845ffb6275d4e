"""Energy aggregates benchmark: consumption and a year's chart read from the rollups, against
the same aggregate computed over the raw readings.

`--nodes` meters (10) x `--days` days (365) of one reading every `--interval` s (60): 5.26 M
readings, generated through energy.ingest.ingest() in batches of `--batch` readings (rollups
included, as the bridge stores them). Generating takes minutes, so the database is kept under
/tmp/flowsuite-bench-aggregates/<parameters>/ and reused by later runs with the same
parameters and the same energy migrations (`--regenerate` starts over); its age is printed.

Then, over HTTP against daphne, logged in as the meters' owner, each `--repeat` times after a
warm-up, with the widest range the consumption page offers for each period:

    GET /api/energy/consumption/?period=hour&range=7d       168 hours
    GET /api/energy/consumption/?period=day&range=1y        365 days
    GET /api/energy/consumption/?period=month&range=1y      12 months
    GET /api/energy/consumption/?period=year&start=<5 years back>
    GET /api/energy/nodes/<id>/readings/?range=1y           a node's chart, by day

p50 and p95 per endpoint [target p95 < 50 ms], and side by side the same aggregate as one
GROUP BY over energy_reading for the window the endpoint answered (SQL, `--raw-repeat` times,
median), and the aggregate as the endpoint computes it from the rollups — its domain function
(energy.selectors.consumption / series), in this process, without HTTP — [target: at least 50x
faster than the raw GROUP BY: like against like, a computation against a computation; the
endpoint's p50 against the raw GROUP BY is printed too, with the request's own 10-20 ms in
it]. (In production the raw readings are pruned after ENERGY_RAW_RETENTION_DAYS, 90; here the
whole year is kept to compare.)

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/aggregates.py [--nodes 10] [--days 365] [--interval 60]
        [--repeat 50] [--database sqlite|postgres] [--regenerate]

SQLite by default (the site's settings: WAL, synchronous=NORMAL); `--database postgres` runs a
PostgreSQL cluster of its own from the same cache folder (initdb/pg_ctl, as the `postgres`
user when run as root), with initdb's defaults. A coarser `--interval` (e.g. 300) generates
five times faster, with five times fewer raw rows for the GROUP BY to read: say so when
quoting its figures. Generating the default year took about 5 minutes on SQLite (2 cores).
"""

import argparse
import hashlib
import http.client
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import Postgres, manage, site_environment  # noqa: E402 (needs ROOT)
from flowsuite.testing import daphne_command, free_port, percentile, wait_for_port  # noqa: E402

P95_TARGET_MS = 50
SPEEDUP_TARGET = 50
CACHE = Path("/tmp/flowsuite-bench-aggregates")
OWNER_EMAIL = "owner@bench.invalid"
DEVICE_PREFIX = "meter-"
WARMUP = 3


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10, help="meters")
    parser.add_argument("--days", type=int, default=365, help="days of readings")
    parser.add_argument("--interval", type=int, default=60, help="seconds between readings")
    parser.add_argument("--batch", type=int, default=20_000, help="readings per ingest() call")
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per endpoint")
    parser.add_argument("--raw-repeat", type=int, default=3, help="timed raw GROUP BY runs")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached database")
    return parser.parse_args(argv)


# --- Figures -------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


# --- The cached database ---------------------------------------------------------------------


def cache_dir(args: argparse.Namespace) -> Path:
    """The folder for these parameters and the current energy schema."""
    schema = hashlib.sha256()
    for migration in sorted((ROOT / "energy" / "migrations").glob("*.py")):
        schema.update(migration.read_bytes())
    name = f"{args.database}-{args.nodes}n-{args.days}d-{args.interval}s-{schema.hexdigest()[:8]}"
    return CACHE / name


class Store:
    """The site's environment on the cached database: a VAR_DIR (the SQLite file, the secret
    key) and, for PostgreSQL, a cluster kept in the same folder."""

    def __init__(self, args: argparse.Namespace):
        self.dir = cache_dir(args)
        if args.regenerate and self.dir.exists():
            self.stop_stale_cluster()
            shutil.rmtree(self.dir)
        self.var_dir = self.dir / "var"
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.marker = self.dir / "generated.json"
        self.cluster = (
            Postgres(self.dir / "postgres", keep=True) if args.database == "postgres" else None
        )
        extra = {"VAR_DIR": str(self.var_dir), "API_THROTTLE_USER": "1000000/min"}
        # The year ends now: readings older than the backfill limit would be refused.
        extra["ENERGY_MAX_BACKFILL_DAYS"] = str(args.days + 30)
        if self.cluster:
            self.stop_stale_cluster()
            self.cluster.start()
            extra["DATABASE_URL"] = self.cluster.url("flowsuite")
        self.env = site_environment(**extra)

    def stop_stale_cluster(self) -> None:
        data = self.dir / "postgres" / "data"
        if (data / "postmaster.pid").exists():
            Postgres(self.dir / "postgres", keep=True).stop()

    @property
    def generated(self) -> dict | None:
        return json.loads(self.marker.read_text()) if self.marker.exists() else None

    def migrate(self) -> None:
        """Migrate (a cached database may lack other apps' newer migrations); a database that
        was never completely generated is started again."""
        if not self.generated and self.cluster:
            self.cluster.execute("DROP DATABASE IF EXISTS flowsuite")
            self.cluster.execute("CREATE DATABASE flowsuite")
        elif not self.generated:
            for path in self.var_dir.glob("flowsuite.sqlite3*"):
                path.unlink()
        manage(self.env, "migrate", "--no-input")

    def cleanup(self) -> None:
        if self.cluster:
            self.cluster.stop()


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsuite.settings"
    import django

    django.setup()


# --- Generating a year of readings -----------------------------------------------------------


def create_meters(count: int) -> list:
    from accounts import services
    from energy.nodes import node_create

    owner = services.user_create(email=OWNER_EMAIL, password=f"bench-{os.getpid()}-only-x")
    return [
        node_create(owner=owner, device_id=f"{DEVICE_PREFIX}{n:02d}", name=f"Meter {n}")[0]
        for n in range(count)
    ]


def meter_readings(nodes: int, first: int, interval: int, steps: range):
    """(device_id, payload) for every meter at each step: a daily load curve with noise, the
    kWh counter following the power."""
    rng = random.Random(first)
    for step in steps:
        ts = first + step * interval
        hour = (ts % 86_400) / 3600
        daily = 0.6 + 0.4 * math.sin((hour - 9) / 24 * 2 * math.pi)
        for n in range(nodes):
            voltage = 230 + rng.gauss(0, 2)
            power = (400 + 150 * n) * daily * rng.uniform(0.8, 1.2)
            power_factor = rng.uniform(0.88, 0.99)
            yield (
                f"{DEVICE_PREFIX}{n:02d}",
                {
                    "ts": ts,
                    "voltage": round(voltage, 1),
                    "current": round(power / voltage / power_factor, 3),
                    "power": round(power, 1),
                    "power_factor": round(power_factor, 3),
                    "frequency": round(50 + rng.gauss(0, 0.02), 3),
                    "energy": round((1000 + 50 * n) + step * interval * (0.4 + 0.15 * n) / 3600, 4),
                },
            )


def generate(args: argparse.Namespace) -> dict:
    """Every reading through the one ingest service, oldest first, in batches."""
    from energy.ingest import ingest

    create_meters(args.nodes)
    steps = args.days * 86_400 // args.interval
    last = int(time.time()) // args.interval * args.interval - args.interval
    first = last - (steps - 1) * args.interval
    per_batch = max(1, args.batch // args.nodes)
    total, started, reported = 0, time.perf_counter(), 0
    for offset in range(0, steps, per_batch):
        batch = list(
            meter_readings(
                args.nodes, first, args.interval, range(offset, min(steps, offset + per_batch))
            )
        )
        result = ingest(batch, source="bench")
        if result.rejected:
            raise RuntimeError(f"ingest refused readings: {result.rejected[:3]}")
        total += result.accepted
        if total - reported >= 250_000:
            reported = total
            elapsed = time.perf_counter() - started
            log(f"  {total:>10,} readings, {elapsed:.0f} s ({total / elapsed:,.0f}/s)")
    seconds = time.perf_counter() - started
    return {
        "readings": total,
        "seconds": round(seconds, 1),
        "first": datetime.fromtimestamp(first, UTC).isoformat(),
        "last": datetime.fromtimestamp(last, UTC).isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def analyze() -> None:
    """What autovacuum would soon do after such an insert (PostgreSQL)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def prepare(store: Store, args: argparse.Namespace) -> dict:
    store.migrate()
    setup_django(store.env)
    if store.generated:
        return store.generated
    log(f"generating {args.nodes} meters x {args.days} days, one reading every {args.interval} s")
    generated = generate(args)
    analyze()
    store.marker.write_text(json.dumps(generated))
    return generated


# --- The served site and its endpoints --------------------------------------------------------


class Daphne:
    """daphne serving the site on a free loopback port with the environment `env`."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "ab") as output:
            self.process = subprocess.Popen(
                daphne_command(self.port),
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "ERROR" in line or "Traceback" in line]


def logged_in_session(user) -> str:
    """A session of `user`, as the login page would have made it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.CachedPermissionsBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


@dataclass
class Case:
    label: str
    path: str
    params: dict
    period: str  # hour, day, month, year: the consumption GROUP BY; chart: a node's days


def cases(node_id: int) -> list[Case]:
    """Per period the widest range the consumption page offers (energy.forms.LAST), the
    hours of a whole year that only the API gives, and a node's chart of a year."""
    five_years_back = (datetime.now(UTC) - timedelta(days=5 * 365)).date().isoformat()
    consumption = "/api/energy/consumption/"
    chart = f"/api/energy/nodes/{node_id}/readings/"
    return [
        Case("consumption, hour x 7 days", consumption, {"period": "hour", "range": "7d"}, "hour"),
        Case("consumption, day x 1 year", consumption, {"period": "day", "range": "1y"}, "day"),
        Case(
            "consumption, month x 1 year", consumption, {"period": "month", "range": "1y"}, "month"
        ),
        Case(
            "consumption, year x 5 years",
            consumption,
            {"period": "year", "start": five_years_back},
            "year",
        ),
        Case(
            "consumption, hour x 1 year (API)",
            consumption,
            {"period": "hour", "range": "1y"},
            "hour",
        ),
        Case("node chart, 1 year (by day)", chart, {"range": "1y"}, "chart"),
    ]


@dataclass
class Timing:
    case: Case
    seconds: list[float]
    size: int
    answer: dict
    raw_seconds: list[float]
    raw_rows: int = 0
    rollup_seconds: list[float] | None = None


def time_endpoint(port: int, session_key: str, case: Case, repeat: int) -> tuple[list, int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Cookie": f"sessionid={session_key}", "Accept": "application/json"}
    path = f"{case.path}?{urlencode(case.params)}"
    timings, body = [], b""
    for n in range(WARMUP + repeat):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        if n >= WARMUP:
            timings.append(elapsed)
    connection.close()
    return timings, len(body), json.loads(body)


# --- The same aggregates over the raw readings --------------------------------------------------

SAMPLED = ("voltage", "current", "power", "power_factor", "frequency")
SQLITE_BUCKETS = {
    "hour": "strftime('%Y-%m-%d %H', ts)",
    "day": "date(ts)",
    "month": "strftime('%Y-%m', ts)",
    "year": "strftime('%Y', ts)",
}


def bucket_sql(period: str, vendor: str) -> str:
    """The bucket of a reading (in UTC: the owner's zone here)."""
    if vendor == "postgresql":
        return f"date_trunc('{period}', ts AT TIME ZONE 'UTC')"
    return SQLITE_BUCKETS[period]


def raw_query(case: Case, answer: dict, node_ids: list[int], vendor: str) -> tuple[str, list]:
    """A GROUP BY over energy_reading for the window the endpoint answered."""
    from django.db import connection
    from django.utils.dateparse import parse_datetime

    bounds = [
        connection.ops.adapt_datetimefield_value(parse_datetime(answer[key]))
        for key in ("start", "end")
    ]
    if case.period == "chart":
        stats = ", ".join(f"count({m}), avg({m}), min({m}), max({m})" for m in SAMPLED)
        sql = (
            f"SELECT {bucket_sql('day', vendor)} AS bucket, count(*), sum(energy_used), {stats} "
            "FROM energy_reading WHERE node_id = %s AND ts >= %s AND ts < %s "
            "GROUP BY bucket ORDER BY bucket"
        )
        return sql, [node_ids[0], *bounds]
    placeholders = ", ".join(["%s"] * len(node_ids))
    sql = (
        f"SELECT {bucket_sql(case.period, vendor)} AS bucket, sum(energy_used) "
        f"FROM energy_reading WHERE node_id IN ({placeholders}) AND ts >= %s AND ts < %s "
        "GROUP BY bucket ORDER BY bucket"
    )
    return sql, [*node_ids, *bounds]


def time_raw(sql: str, params: list, repeat: int) -> tuple[list[float], int]:
    from django.db import connection

    timings, rows = [], 0
    with connection.cursor() as cursor:
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute(sql, params)
            rows = len(cursor.fetchall())
            timings.append(time.perf_counter() - started)
    return timings, rows


def time_rollups(case: Case, answer: dict, owner, node_ids: list[int], repeat: int) -> list:
    """The endpoint's domain function over the same window, in this process."""
    from django.utils.dateparse import parse_datetime

    from energy import selectors
    from energy.api import user_zone
    from energy.models import Node

    start, end = (parse_datetime(answer[key]) for key in ("start", "end"))
    nodes = list(Node.objects.filter(pk__in=node_ids).order_by("pk"))
    zone = user_zone(owner)  # as the endpoint: the owner's, or the site's

    def compute():
        if case.period == "chart":
            selectors.summary(selectors.series(nodes[0], start, end)["points"])
        else:
            selectors.consumption(nodes, case.period, start, end, zone)

    timings = []
    for n in range(WARMUP + repeat):
        started = time.perf_counter()
        compute()
        if n >= WARMUP:
            timings.append(time.perf_counter() - started)
    return timings


# --- Orchestration -------------------------------------------------------------------------------


def measure(store: Store, args: argparse.Namespace) -> tuple[list[Timing], Daphne]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from energy.models import Node

    owner = get_user_model().objects.get(email=OWNER_EMAIL)
    node_ids = list(Node.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
    session_key = logged_in_session(owner)
    site = Daphne(store.env, store.dir / "daphne.log")
    timings = []
    try:
        for case in cases(node_ids[0]):
            log(f"timing {case.label}")
            seconds, size, answer = time_endpoint(site.port, session_key, case, args.repeat)
            sql, params = raw_query(case, answer, node_ids, connection.vendor)
            raw_seconds, raw_rows = time_raw(sql, params, args.raw_repeat)
            rollup_seconds = time_rollups(case, answer, owner, node_ids, args.repeat)
            timings.append(
                Timing(case, seconds, size, answer, raw_seconds, raw_rows, rollup_seconds)
            )
    finally:
        site.stop()
    return timings, site


def describe(store: Store, generated: dict) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    import sqlite3

    size = (store.var_dir / "flowsuite.sqlite3").stat().st_size / 1e9
    return f"SQLite {sqlite3.sqlite_version}, {size:.1f} GB"


def print_results(
    timings: list[Timing], generated: dict, store: Store, args: argparse.Namespace, cached: bool
) -> None:
    readings = generated["readings"]
    print(
        f"\n== Aggregates over {readings:,} readings ({args.nodes} meters x {args.days} days, one "
        f"every {args.interval} s), {describe(store, generated)}"
    )
    age = datetime.now(UTC) - datetime.fromisoformat(generated["generated_at"])
    how = f"cached, generated {age.total_seconds() / 3600:.1f} h ago" if cached else "generated now"
    print(
        f"  set-up: through energy.ingest in {generated['seconds']:,.0f} s "
        f"({readings / generated['seconds']:,.0f} readings/s, rollups included; {how}, {store.dir})"
    )
    print(
        f"\n  {'GET over HTTP (daphne)':<34} {'points':>6} {'KB':>4} {'p50':>9} {'p95':>9} "
        f"{'p95 < ' + str(P95_TARGET_MS) + ' ms':>12}   {'raw GROUP BY':>12} {'vs p50':>7}"
        f"   {'from rollups':>12} {'speed-up':>9} {'>= ' + str(SPEEDUP_TARGET) + 'x':>6}"
    )
    for timing in timings:
        p50, p95 = percentile(timing.seconds, 50), percentile(timing.seconds, 95)
        raw = statistics.median(timing.raw_seconds)
        rollups = statistics.median(timing.rollup_seconds)
        speedup = raw / rollups
        points = len(timing.answer.get("buckets") or timing.answer.get("points") or [])
        print(
            f"  {timing.case.label:<34} {points:>6} {timing.size / 1024:>4.0f} {ms(p50):>9} "
            f"{ms(p95):>9} {verdict(p95 * 1000 < P95_TARGET_MS):>12}   {ms(raw):>12} "
            f"{raw / p50:>6.0f}x   {ms(rollups):>12} {speedup:>8.0f}x "
            f"{verdict(speedup >= SPEEDUP_TARGET):>6}"
        )
    print(
        f"\n  {args.repeat} requests per endpoint after {WARMUP} untimed, one keep-alive "
        f"connection, all the owner's {args.nodes} meters (the chart: one);\n  the GROUP BY over "
        f"energy_reading covers the window the endpoint answered, median of {args.raw_repeat} "
        "runs in this process;\n  'from rollups': the endpoint's domain function "
        "(energy.selectors) for the same window, median of the same requests, in this process."
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    store = Store(args)
    try:
        cached = store.generated is not None
        generated = prepare(store, args)
        timings, site = measure(store, args)
        print_results(timings, generated, store, args, cached)
        errors = site.errors()
        if errors:
            print(f"\n  server log: {len(errors)} error line(s), e.g. {errors[0][:200]}")
    finally:
        store.cleanup()
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
