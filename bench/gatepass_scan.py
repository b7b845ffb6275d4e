"""Gate-pass benchmark: badge scans under load, their live events, and the history filter.

It measures, and prints beside each figure its target:

1. Scans: `--guards` guards (threads, one keep-alive HTTP connection each) scan a random
   driver's badge at their station every `--interval` s on average (default 5 s; jittered;
   `--max-rate`: back to back) for `--seconds` s, with `POST /api/gatepass/scans/` against
   the site served by daphne (SQLite in a temporary VAR_DIR, in-memory channel layer).
   Figures: scans recorded, scans/s, errors, and the response time (scan to recorded)
   p50/p95/p99 [p95 < 30 ms].
2. Live events: `--watchers` websockets logged in as a viewer, subscribed to
   `gatepass.movements`, time from sending a scan to receiving its movement event
   p50/p95 [p95 < 100 ms] (the event may come before the HTTP response: both orders count),
   split at the event's `sent_at` into server time before publishing and delivery.
3. History: `--movements` movements (90 days, 5 stations, 2,000 drivers, 20 companies, 10 %
   refused) are bulk-inserted, then the history page's query (MovementFilter, the count and
   the first page of 100 rows) is timed for several filter combinations [< 100 ms], and the
   `/gatepass/history/` page itself over HTTP. With `--database-url postgres://...` this
   part runs on that (disposable) database instead, in a second process; the rows it adds
   are deleted at the end.

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/gatepass_scan.py [--guards 50] [--seconds 60] [--interval 5.0]
        [--movements 1000000] [--max-rate] [--watchers 2] [--only scans|history]
        [--database-url postgres://user:pass@127.0.0.1:5432/scratch]

Everything stays on 127.0.0.1; the daphne process and the temporary directory are removed at
the end. The defaults take about 4 minutes on 2 cores, half of it inserting the movements.
"""

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowsuite.testing import daphne_command, free_port, percentile, wait_for_port  # noqa: E402 (needs ROOT on sys.path)

SCAN_P95_TARGET_MS = 30
EVENT_P95_TARGET_MS = 100
HISTORY_TARGET_MS = 100

LIVE_GROUP = "gatepass.movements"
STATIONS = 5
DRIVERS = 2_000
COMPANIES = 20
HISTORY_DAYS = 90
REFUSED_SHARE = 0.10
INSERT_BATCH = 10_000
PAGE_SIZE = 100
WARMUP_SCANS = 20
EVENT_GRACE_SECONDS = 3.0


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guards", type=int, default=50, help="concurrent guards (threads)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the scan run")
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="mean seconds between two scans of one guard (5: a truck every 5 s at each of 50 "
        "gates, far busier than a plant's gates; 1: a stress run, 50 scans/s)",
    )
    parser.add_argument(
        "--max-rate",
        action="store_true",
        help="guards scan back to back instead of every --interval s",
    )
    parser.add_argument("--watchers", type=int, default=2, help="websocket clients watching")
    parser.add_argument(
        "--movements",
        type=int,
        default=1_000_000,
        help="movements in the database for the history part (0: skip it)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timings per filter combination")
    parser.add_argument("--only", choices=["scans", "history"], help="run one part only")
    parser.add_argument(
        "--database-url", default="", help="a disposable PostgreSQL database for the history part"
    )
    return parser.parse_args(argv)


# --- Figures -----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def verdict(value_s: float, target_ms: float) -> str:
    return "OK" if value_s * 1000 < target_ms else "MISSED"


def header(title: str) -> None:
    print(f"\n== {title}", flush=True)


# --- The site: a temporary VAR_DIR, its environment and the daphne process ----------------


class Site:
    """daphne serving FlowSuite on a free loopback port, with its own VAR_DIR."""

    def __init__(self, database_url: str = ""):
        self.dir = Path(tempfile.mkdtemp(prefix="flowsuite-bench-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.dir / "daphne.log"
        self.env = self._environment(database_url)

    def _environment(self, database_url: str) -> dict[str, str]:
        unwanted = {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "DJANGO_SETTINGS_MODULE"}
        env = {k: v for k, v in os.environ.items() if k not in unwanted}
        env.update(
            VAR_DIR=str(self.dir),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            ENV_FILE="/dev/null",
            API_THROTTLE_USER="1000000/min",
            GATEPASS_DOUBLE_SCAN_SECONDS="0",
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        return env

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def start(self) -> None:
        command = daphne_command(self.port)
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) daphne has used so far; 0 where /proc is missing."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AttributeError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def server_errors(self) -> list[str]:
        """Lines of the server log that tell of an error (the access log aside)."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "ERROR" in line or "Traceback" in line]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def setup_django(site: Site) -> None:
    """Configure Django in this process on the site's database (once per process)."""
    os.environ.update(site.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsuite.settings"
    import django

    django.setup()


# --- Users, stations, drivers ------------------------------------------------------------


@dataclass
class Fixtures:
    run_id: str
    stations: list  # gatepass.models.Station
    drivers: list  # gatepass.models.Driver
    tokens: list[str]  # the drivers' badge tokens (what the QR carries)
    guards: list  # accounts.models.User, guard i at stations[i % STATIONS]
    guard_keys: list[str]  # their personal API tokens
    viewer: object  # accounts.models.User watching the live events
    session_key: str  # the viewer's logged-in session


def create_fixtures(guards: int) -> Fixtures:
    run_id = secrets.token_hex(3)
    started = time.perf_counter()
    stations = create_stations(run_id)
    drivers = create_drivers(run_id)
    guard_users, guard_keys = create_guards(run_id, guards, stations)
    viewer = create_user(f"viewer-{run_id}@bench.invalid", "viewer")
    fixtures = Fixtures(
        run_id,
        stations,
        drivers,
        badge_tokens(drivers),
        guard_users,
        guard_keys,
        viewer,
        logged_in_session(viewer),
    )
    log(
        f"fixtures: {len(stations)} stations, {len(drivers)} drivers, {guards} guards "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return fixtures


def create_stations(run_id: str) -> list:
    from gatepass.choices import StationMode
    from gatepass.models import Station

    return [
        Station.objects.create(name=f"Gate {n} ({run_id})", mode=StationMode.BOTH)
        for n in range(1, STATIONS + 1)
    ]


def create_drivers(run_id: str) -> list:
    from gatepass import drivers
    from gatepass.models import Driver

    return [
        drivers.driver_save(
            Driver(
                name=f"Driver {n:04d}",
                company=company_name(n % COMPANIES),
                licence_number=f"B{run_id}{n:05d}".upper(),
            )
        )
        for n in range(DRIVERS)
    ]


def company_name(n: int) -> str:
    return f"Haulage {n:02d}"


def badge_tokens(drivers: list) -> list[str]:
    """Each driver's current badge token (badges.token_for(badges.current_badge(driver)))."""
    from gatepass import badges
    from gatepass.models import Badge

    current = Badge.objects.filter(driver__in=drivers, revoked_at__isnull=True)
    by_driver = {badge.driver_id: badges.token_for(badge) for badge in current}
    return [by_driver[driver.pk] for driver in drivers]


def create_user(email: str, role: str):
    from accounts import services

    return services.user_create(email=email, password=secrets.token_urlsafe(16), role=role)


def create_guards(run_id: str, count: int, stations: list) -> tuple[list, list[str]]:
    from accounts import roles, services

    users, keys = [], []
    for n in range(count):
        user = create_user(f"guard{n:03d}-{run_id}@bench.invalid", roles.GUARD)
        stations[n % len(stations)].guards.add(user)
        keys.append(services.api_token_create(user=user, name="bench")[1])
        users.append(user)
    return users, keys


def logged_in_session(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.CachedPermissionsBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


# --- Part 1: guards scanning ---------------------------------------------------------------


@dataclass
class GuardLog:
    """What one guard saw; merged after the run."""

    latencies: list[float] = field(default_factory=list)  # seconds, recorded scans
    sent: dict[int, tuple[float, float]] = field(default_factory=dict)  # id: (perf, wall)
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # a few error answers


class Guard(threading.Thread):
    """One guard at one station, scanning over a keep-alive connection until `deadline`."""

    def __init__(
        self,
        port: int,
        station_id: int,
        key: str,
        tokens: list[str],
        interval: float,
        deadline: float,
        seed: int,
    ):
        super().__init__(daemon=True)
        self.port, self.station_id, self.tokens = port, station_id, tokens
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.interval, self.deadline = interval, deadline
        self.rng = random.Random(seed)
        self.log = GuardLog()

    def run(self) -> None:
        connection = self.connect()
        turn = time.perf_counter() + self.rng.uniform(0, self.interval)  # stagger the starts
        while True:
            turn = self.wait_for_turn(turn)
            if time.perf_counter() >= self.deadline:
                break
            connection = self.scan_once(connection)
        connection.close()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def wait_for_turn(self, turn: float) -> float:
        """Sleep until `turn`; returns the next one, ~interval later (no catching up)."""
        if self.interval <= 0:
            return turn
        time.sleep(max(0.0, turn - time.perf_counter()))
        return max(turn, time.perf_counter()) + self.interval * self.rng.uniform(0.5, 1.5)

    def scan_once(self, connection: http.client.HTTPConnection) -> http.client.HTTPConnection:
        body = json.dumps({"station": self.station_id, "token": self.rng.choice(self.tokens)})
        sent, sent_wall = time.perf_counter(), time.time()
        try:
            connection.request("POST", "/api/gatepass/scans/", body, self.headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.note_error(type(error).__name__, repr(error))
            connection.close()
            return self.connect()
        self.record(response.status, payload, sent, sent_wall, time.perf_counter())
        return connection

    def record(
        self, status: int, payload: bytes, sent: float, sent_wall: float, done: float
    ) -> None:
        if status != 201:
            kind = "HTTP 200: double scan, not recorded" if status == 200 else f"HTTP {status}"
            self.note_error(kind, payload[:160].decode(errors="replace"))
            return
        self.log.latencies.append(done - sent)
        self.log.sent[json.loads(payload)["movement"]["id"]] = (sent, sent_wall)

    def note_error(self, kind: str, detail: str) -> None:
        self.log.errors[kind] += 1
        if len(self.log.samples) < 3:
            self.log.samples.append(detail)


def start_guards(site: Site, fixtures: Fixtures, interval: float, seconds: float) -> list:
    deadline = time.perf_counter() + seconds
    guards = [
        Guard(
            site.port,
            fixtures.stations[n % len(fixtures.stations)].pk,
            key,
            fixtures.tokens,
            interval,
            deadline,
            seed=n,
        )
        for n, key in enumerate(fixtures.guard_keys)
    ]
    for guard in guards:
        guard.start()
    return guards


def merge_logs(guards: list[Guard]) -> GuardLog:
    merged = GuardLog()
    for guard in guards:
        merged.latencies += guard.log.latencies
        merged.sent.update(guard.log.sent)
        merged.errors.update(guard.log.errors)
        merged.samples += guard.log.samples
    return merged


def warm_up(site: Site, fixtures: Fixtures) -> None:
    """A few scans first, not counted: the server's first requests import and compile."""
    guard = Guard(
        site.port, fixtures.stations[0].pk, fixtures.guard_keys[0], fixtures.tokens, 0, 0, seed=-1
    )
    connection = guard.connect()
    for _ in range(WARMUP_SCANS):
        connection = guard.scan_once(connection)
    connection.close()
    if guard.log.errors:
        raise RuntimeError(f"warm-up scans failed: {guard.log.samples}")


def print_scans(result: GuardLog, elapsed: float, label: str, args: argparse.Namespace) -> None:
    header(
        f"1. Scans: {args.guards} guards, {label}, {args.seconds:g} s, "
        "POST /api/gatepass/scans/ (daphne, SQLite)"
    )
    recorded = len(result.latencies)
    errors = sum(result.errors.values())
    print(f"  scans recorded   {recorded:>8}   ({recorded / elapsed:.1f} scans/s)")
    print(f"  errors           {errors:>8}   {dict(result.errors) or ''}")
    for sample in result.samples[:3]:
        print(f"    e.g. {sample}")
    if not recorded:
        return
    lat = result.latencies
    p95 = percentile(lat, 95)
    print(
        f"  scan-to-recorded  p50 {ms(percentile(lat, 50))}  p95 {ms(p95)}  "
        f"p99 {ms(percentile(lat, 99))}  max {ms(max(lat))}   "
        f"[target p95 < {SCAN_P95_TARGET_MS} ms] {verdict(p95, SCAN_P95_TARGET_MS)}"
    )


# --- Part 2: watching browsers -------------------------------------------------------------


class Watchers(threading.Thread):
    """`count` websocket clients on /ws/live/, subscribed to gatepass.movements, each noting
    when every movement event arrived."""

    def __init__(self, site: Site, session_key: str, count: int):
        super().__init__(daemon=True)
        self.url = f"ws://127.0.0.1:{site.port}/ws/live/"
        self.origin, self.cookie = site.origin, f"sessionid={session_key}"
        self.arrivals: list[dict[int, tuple[float, float]]] = [{} for _ in range(count)]
        self.server_sent: dict[int, float] = {}  # movement id: the event's sent_at (epoch)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._subscribed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by the main thread
            self.error = error
            self.ready.set()

    def stop(self) -> None:
        if self._loop and self._closing:
            self._loop.call_soon_threadsafe(self._closing.set)
        self.join(timeout=15)

    def received(self) -> int:
        return sum(len(arrivals) for arrivals in self.arrivals)

    async def _main(self) -> None:
        self._loop, self._closing = asyncio.get_running_loop(), asyncio.Event()
        await asyncio.gather(*(self._watch(n) for n in range(len(self.arrivals))))

    async def _watch(self, index: int) -> None:
        from websockets.asyncio.client import connect

        async with connect(
            self.url, origin=self.origin, proxy=None, additional_headers={"Cookie": self.cookie}
        ) as socket:
            await self._subscribe(socket)
            reader = asyncio.create_task(self._read(socket, self.arrivals[index]))
            await self._closing.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _subscribe(self, socket) -> None:
        await socket.send(json.dumps({"action": "subscribe", "groups": [LIVE_GROUP]}))
        while True:
            message = json.loads(await socket.recv())
            if message.get("type") == "subscribed":
                break
        if LIVE_GROUP not in message["groups"]:
            raise RuntimeError(f"subscription refused: {message}")
        self._subscribed += 1
        if self._subscribed == len(self.arrivals):
            self.ready.set()

    async def _read(self, socket, arrivals: dict) -> None:
        async for raw in socket:
            now, wall = time.perf_counter(), time.time()
            event = json.loads(raw)
            if event.get("group") == LIVE_GROUP and event.get("type") == "movement":
                movement_id = event["data"]["id"]
                arrivals[movement_id] = (now, wall)
                self.server_sent[movement_id] = parse_sent_at(event["sent_at"])


def parse_sent_at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def start_watchers(site: Site, fixtures: Fixtures, count: int) -> Watchers:
    watchers = Watchers(site, fixtures.session_key, count)
    watchers.start()
    if not watchers.ready.wait(timeout=15) or watchers.error:
        raise RuntimeError(f"the websocket watchers could not subscribe: {watchers.error!r}")
    return watchers


def wait_for_events(watchers: Watchers, expected: int) -> None:
    deadline = time.perf_counter() + EVENT_GRACE_SECONDS
    while watchers.received() < expected and time.perf_counter() < deadline:
        time.sleep(0.05)


def event_latencies(result: GuardLog, watchers: Watchers) -> tuple[list, list, list, int]:
    """(scan-to-event, scan-to-publish, publish-to-event) in seconds, and events missed."""
    to_event, to_publish, delivery, missed = [], [], [], 0
    for arrivals in watchers.arrivals:
        for movement_id, (sent, sent_wall) in result.sent.items():
            if movement_id not in arrivals:
                missed += 1
                continue
            arrived, arrived_wall = arrivals[movement_id]
            to_event.append(arrived - sent)
            published = watchers.server_sent[movement_id]
            to_publish.append(published - sent_wall)
            delivery.append(arrived_wall - published)
    return to_event, to_publish, delivery, missed


def print_events(result: GuardLog, watchers: Watchers) -> None:
    count = len(watchers.arrivals)
    header(f"2. Scan-to-live-event: {count} websocket watcher(s) on /ws/live/ ({LIVE_GROUP})")
    to_event, to_publish, delivery, missed = event_latencies(result, watchers)
    print(
        f"  events received  {len(to_event):>8}   of {len(result.sent) * count} expected, "
        f"{missed} missed"
    )
    if not to_event:
        return
    p95 = percentile(to_event, 95)
    print(
        f"  scan-to-event     p50 {ms(percentile(to_event, 50))}  p95 {ms(p95)}  "
        f"p99 {ms(percentile(to_event, 99))}  max {ms(max(to_event))}   "
        f"[target p95 < {EVENT_P95_TARGET_MS} ms] {verdict(p95, EVENT_P95_TARGET_MS)}"
    )
    print(
        f"    of which scan sent -> server publish (sent_at, ms clock)  p50 "
        f"{ms(percentile(to_publish, 50))}  p95 {ms(percentile(to_publish, 95))}"
    )
    print(
        f"    of which server publish -> event received                 p50 "
        f"{ms(percentile(delivery, 50))}  p95 {ms(percentile(delivery, 95))}"
    )


def run_scans(site: Site, fixtures: Fixtures, args: argparse.Namespace) -> None:
    interval = 0.0 if args.max_rate else args.interval
    label = "back to back (--max-rate)" if args.max_rate else f"one scan every ~{interval:g} s each"
    watchers = start_watchers(site, fixtures, args.watchers)
    try:
        warm_up(site, fixtures)
        log(f"scanning: {args.guards} guards, {label}, for {args.seconds:g} s")
        started, cpu = time.perf_counter(), (site.cpu_seconds(), time.process_time())
        guards = start_guards(site, fixtures, interval, args.seconds)
        for guard in guards:
            guard.join()
        elapsed = time.perf_counter() - started
        cpu = ((site.cpu_seconds() - cpu[0]) / elapsed, (time.process_time() - cpu[1]) / elapsed)
        result = merge_logs(guards)
        wait_for_events(watchers, len(result.sent) * args.watchers)
    finally:
        watchers.stop()
    print_scans(result, elapsed, label, args)
    print(
        f"  CPU busy         daphne {cpu[0]:.0%} of one core, this benchmark process "
        f"{cpu[1]:.0%} (of {os.cpu_count()} cores)"
    )
    print_events(result, watchers)


# --- Part 3: the history filter over many movements -----------------------------------------


def insert_movements(fixtures: Fixtures, total: int) -> float:
    """Bulk-insert `total` movements spread over the last HISTORY_DAYS days; seconds taken."""
    from gatepass.models import Movement

    started = time.perf_counter()
    movements = fake_movements(fixtures, total)
    done = 0
    while batch := list(itertools.islice(movements, INSERT_BATCH)):
        Movement.objects.bulk_create(batch, batch_size=INSERT_BATCH)
        done += len(batch)
        if done % 100_000 == 0 or done == total:
            elapsed = time.perf_counter() - started
            log(f"  {done:>9,} movements inserted, {elapsed:.0f} s ({done / elapsed:,.0f}/s)")
    return time.perf_counter() - started


def fake_movements(fixtures: Fixtures, total: int):
    """`total` movements in time order: random stations and drivers, REFUSED_SHARE refused."""
    from django.utils import timezone

    from gatepass.choices import Direction, Method, Outcome, Reason
    from gatepass.models import Movement

    rng = random.Random(1)
    refusals = [
        Reason.BANNED,
        Reason.ALREADY_INSIDE,
        Reason.NOT_INSIDE,
        Reason.REVOKED,
        Reason.EXPIRED,
    ]
    guards_at = {
        s.pk: fixtures.guards[n::STATIONS] or fixtures.guards
        for n, s in enumerate(fixtures.stations)
    }
    start = timezone.now() - timedelta(days=HISTORY_DAYS)
    step = HISTORY_DAYS * 86_400 / total
    for n in range(total):
        station, driver = rng.choice(fixtures.stations), rng.choice(fixtures.drivers)
        refused = rng.random() < REFUSED_SHARE
        yield Movement(
            occurred_at=start + timedelta(seconds=(n + rng.random()) * step),
            station=station,
            driver=driver,
            company=driver.company,
            guard=rng.choice(guards_at[station.pk]),
            outcome=Outcome.REFUSED if refused else Outcome.ACCEPTED,
            direction="" if refused else rng.choice([Direction.ENTRY, Direction.EXIT]),
            reason=rng.choice(refusals) if refused else Reason.OK,
            method=Method.QR,
        )


def filter_combinations(fixtures: Fixtures) -> list[tuple[str, dict]]:
    from django.utils import timezone

    week_start = timezone.localdate() - timedelta(days=HISTORY_DAYS // 2)
    week = {"date_from": iso(week_start), "date_to": iso(week_start + timedelta(days=6))}
    station = str(fixtures.stations[1].pk)
    return [
        ("none", {}),
        ("7-day range", week),
        ("station", {"station": station}),
        ("driver", {"driver": str(fixtures.drivers[7].pk)}),
        ("company", {"company": company_name(7)}),
        ("outcome=refused", {"outcome": "refused"}),
        ("7 days + station + refused", {**week, "station": station, "outcome": "refused"}),
    ]


def iso(day: date) -> str:
    return day.isoformat()


def time_history_query(params: dict) -> tuple[float, float, int]:
    """What the history page does: filter, count, the first 100 rows with their relations.
    Returns (seconds for the count, seconds for the rows, the count)."""
    from django.core.paginator import Paginator

    from gatepass.filters import MovementFilter
    from gatepass.models import Movement

    started = time.perf_counter()
    movements = MovementFilter(params).apply(
        Movement.objects.select_related("station", "driver", "guard")
    )
    page = Paginator(movements, PAGE_SIZE).get_page(1)  # runs the count
    counted = time.perf_counter()
    rows = [
        (
            m.occurred_at,
            m.station.name,
            m.driver.name if m.driver else "",
            m.guard.email if m.guard else "",
            m.outcome,
        )
        for m in page
    ]
    assert len(rows) == min(PAGE_SIZE, page.paginator.count)
    return counted - started, time.perf_counter() - counted, page.paginator.count


def print_history_queries(fixtures: Fixtures, repeat: int) -> None:
    print(
        f"  {'filter':<28} {'rows':>9} {'median':>11} {'max':>11}  {'(count':>10} "
        f"{'+ page)':>10}   [target < {HISTORY_TARGET_MS} ms]"
    )
    for label, params in filter_combinations(fixtures):
        timings = [time_history_query(params) for _ in range(repeat)]
        totals = [count + rows for count, rows, _ in timings]
        worst = max(totals)
        print(
            f"  {label:<28} {timings[0][2]:>9,} {ms(statistics.median(totals)):>11} "
            f"{ms(worst):>11}  ({ms(statistics.median(t[0] for t in timings))} "
            f"+{ms(statistics.median(t[1] for t in timings))})   "
            f"{verdict(worst, HISTORY_TARGET_MS)}"
        )


def time_history_page(site: Site, fixtures: Fixtures, repeat: int) -> None:
    """GET /gatepass/history/ over HTTP as the logged-in viewer, unfiltered and combined."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
    headers = {"Cookie": f"sessionid={fixtures.session_key}"}
    combinations = filter_combinations(fixtures)
    for label, params in (combinations[0], combinations[-1]):
        path = "/gatepass/history/" + (f"?{urlencode(params)}" if params else "")
        timings, size = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            size = len(response.read())
            timings.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
        worst = max(timings)
        print(
            f"  HTTP GET /gatepass/history/, {label:<26} median {ms(statistics.median(timings))}"
            f"  max {ms(worst)}  ({size / 1024:,.0f} KB)   [target < {HISTORY_TARGET_MS} ms] "
            f"{verdict(worst, HISTORY_TARGET_MS)}"
        )
    connection.close()
    print_filter_form_cost(combinations[-1][1], repeat)


def print_filter_form_cost(params: dict, repeat: int) -> None:
    """How much of the page is the filter form alone (its driver list has every driver)."""
    from gatepass.filters import MovementFilter

    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        html = "".join(str(field) for field in MovementFilter(params))
        timings.append(time.perf_counter() - started)
    options = html.count("<option")
    print(
        f"    of which rendering the filter form alone (in-process, {options:,} <option>s, "
        f"{len(html) / 1024:,.0f} KB): median {ms(statistics.median(timings))}"
    )


def run_history(site: Site, fixtures: Fixtures, args: argparse.Namespace) -> None:
    from django.db import connection

    vendor = connection.vendor
    log(f"inserting {args.movements:,} movements ({vendor}, batches of {INSERT_BATCH:,})")
    seconds = insert_movements(fixtures, args.movements)
    if vendor == "postgresql":  # what autovacuum would soon do after such an insert
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE gatepass_movement")
    connection.close()
    header(
        f"3. History filter over {args.movements:,} movements ({vendor}, first page of "
        f"{PAGE_SIZE}, {args.repeat} runs each)"
    )
    print(
        f"  set-up: {args.movements:,} movements inserted in {seconds:.1f} s "
        f"({args.movements / seconds:,.0f}/s)"
    )
    print_history_queries(fixtures, args.repeat)
    time_history_page(site, fixtures, args.repeat)


def delete_bench_rows(fixtures: Fixtures) -> None:
    """Remove what this run added to a database that outlives it (PostgreSQL)."""
    from django.contrib.sessions.models import Session
    from django.db import connection

    from gatepass.models import Driver, Movement, Station

    station_ids = [s.pk for s in fixtures.stations]
    with connection.cursor() as cursor:  # raw: Django's delete() would load every row
        cursor.execute(
            f"DELETE FROM {Movement._meta.db_table} WHERE station_id = ANY(%s)", [station_ids]
        )
    Driver.objects.filter(pk__in=[d.pk for d in fixtures.drivers]).delete()
    Station.objects.filter(pk__in=station_ids).delete()
    for user in [*fixtures.guards, fixtures.viewer]:
        user.delete()
    Session.objects.filter(session_key=fixtures.session_key).delete()


# --- Orchestration -----------------------------------------------------------------------


def history_in_second_process(args: argparse.Namespace) -> None:
    """The history part on --database-url: Django is set up once per process."""
    command = [
        sys.executable,
        __file__,
        "--only",
        "history",
        "--guards",
        str(args.guards),
        "--movements",
        str(args.movements),
        "--repeat",
        str(args.repeat),
        "--database-url",
        args.database_url,
    ]
    subprocess.run(command, check=True)


def run(args: argparse.Namespace) -> None:
    scans = args.only != "history"
    history = args.only != "scans" and args.movements > 0
    history_here = history and (not args.database_url or not scans)
    site = Site(database_url=args.database_url if history_here and not scans else "")
    try:
        log(f"migrating {describe_database(site)}")
        site.manage("migrate", "--no-input")
        setup_django(site)
        fixtures = create_fixtures(args.guards)
        site.start()
        try:
            if scans:
                run_scans(site, fixtures, args)
            if history_here:
                run_history(site, fixtures, args)
        finally:
            if site.env.get("DATABASE_URL"):
                delete_bench_rows(fixtures)
        report_server_errors(site)
    finally:
        site.cleanup()
    if history and not history_here:
        history_in_second_process(args)


def describe_database(site: Site) -> str:
    """The database in use, without its password."""
    url = urlsplit(site.env.get("DATABASE_URL", ""))
    if not url.scheme:
        return f"SQLite in {site.dir}"
    return f"{url.scheme}://{url.hostname}:{url.port or ''}{url.path}"


def report_server_errors(site: Site) -> None:
    errors = site.server_errors()
    if errors:
        print(f"\n  server log: {len(errors)} error line(s), e.g. {errors[0][:200]}")


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    run(args)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
