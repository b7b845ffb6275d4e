"""Alert-to-toast benchmark: a reading over a threshold opens an alert, its toast shows (issue 7).

The site is served by daphne (SQLite in a temporary VAR_DIR; the in-memory channel layer, or
with `--redis` a real Redis as channel layer and cache). One owner has one node and one
threshold rule (power above 1000 W, held 0 s). One websocket logged in as the owner, and
`--viewers` more of the same owner (the owner's other tabs), subscribe to `user.<id>` on
/ws/live/. Then, `--count` rounds, one every `--pace` s at most:

1. POST /api/energy/ingest/ with the node's device key and {"power": 2000, "ts": now}: the
   ingest transaction opens the alert and, after commit, publishes on `user.<id>` an "alert"
   event (data.event "opened") and a "notify" event (the toast);
2. once every socket has both, POST {"power": 100} and wait for "alert" resolved everywhere.

Figures, from just before sending the first POST (perf counter) to the websocket event:
reading-to-toast p50/p95/max on the first socket [p95 < 200 ms] and over every socket (the
fan-out) [p95 < 200 ms]; reading-to-"alert opened" and reading-to-"alert resolved"; the POSTs'
response times; the split at the event's `sent_at` (stamped when the alert is written, inside
the ingest transaction, ms resolution) into the time until the alert is written and the rest
(the end of the transaction, its commit, the group send and the delivery).

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/alert_toast.py [--count 200] [--viewers 10] [--pace 0.02]
        [--warmup 5] [--redis]

Everything stays on 127.0.0.1; daphne, Redis and the temporary directory are removed at the
end. The defaults take about 30 s on 2 cores.
"""

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowsuite.testing import Redis, daphne_command, free_port, percentile, wait_for_port  # noqa: E402

TOAST_P95_TARGET_MS = 200
THRESHOLD_W = 1000
ABOVE_W, BELOW_W = 2000, 100
EVENT_TIMEOUT = 5.0  # seconds a round waits for its events before counting them missed
INGEST_PATH = "/api/energy/ingest/"


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="rounds (alert opened, resolved)")
    parser.add_argument(
        "--viewers", type=int, default=10, help="more websockets of the same owner (fan-out)"
    )
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between two rounds")
    parser.add_argument("--warmup", type=int, default=5, help="rounds first, not counted")
    parser.add_argument(
        "--redis", action="store_true", help="a real Redis as channel layer (REDIS_URL)"
    )
    return parser.parse_args(argv)


# --- Figures -----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def spread(values: list[float]) -> str:
    if not values:
        return "      (none)"
    return (
        f"p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))}  max {ms(max(values))}"
    )


def verdict(value_s: float, target_ms: float) -> str:
    return "OK" if value_s * 1000 < target_ms else "MISS"


def parse_sent_at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- The site: a temporary VAR_DIR, its environment, daphne and maybe Redis ---------------


class Site:
    """daphne serving FlowSuite on a free loopback port, with its own VAR_DIR."""

    def __init__(self, redis: bool):
        self.dir = Path(tempfile.mkdtemp(prefix="flowsuite-bench-"))
        self.port = free_port()
        self.redis = Redis().start() if redis else None
        self.process: subprocess.Popen | None = None
        self.log_path = self.dir / "daphne.log"
        self.env = self._environment()

    def _environment(self) -> dict[str, str]:
        unwanted = {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "DJANGO_SETTINGS_MODULE"}
        env = {k: v for k, v in os.environ.items() if k not in unwanted}
        env.update(
            VAR_DIR=str(self.dir),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            ENV_FILE="/dev/null",
            DEMO_FEED_INTERVAL="0",
            API_THROTTLE_USER="1000000/min",  # a device's bucket: two POSTs a round
        )
        if self.redis:
            env["REDIS_URL"] = self.redis.url
        return env

    @property
    def layer(self) -> str:
        return "Redis channel layer" if self.redis else "in-memory channel layer"

    def manage(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")

    def start(self) -> None:
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                daphne_command(self.port),
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout=30)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) daphne has used so far; 0 where /proc is missing."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AttributeError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def server_errors(self) -> list[str]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "ERROR" in line or "Traceback" in line]

    def cleanup(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.redis:
            self.redis.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def setup_django(site: Site) -> None:
    """Configure Django in this process on the site's database (once per process)."""
    os.environ.update(site.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsuite.settings"
    import django

    django.setup()


# --- The owner, the node, the rule -------------------------------------------------------


@dataclass
class Fixtures:
    user_id: int
    device_key: str
    session_key: str

    @property
    def group(self) -> str:
        return f"user.{self.user_id}"


def create_fixtures() -> Fixtures:
    from accounts import services
    from energy.models import AlertRule
    from energy.nodes import node_create

    run_id = secrets.token_hex(3)
    owner = services.user_create(
        email=f"owner-{run_id}@bench.invalid", password=secrets.token_urlsafe(16)
    )
    node, device_key = node_create(owner=owner, device_id=f"bench-{run_id}", name="Oven")
    rule = AlertRule(
        owner=owner,
        node=node,
        name="Oven over 1 kW",
        kind="threshold",
        magnitude="power",
        comparison="above",
        threshold=THRESHOLD_W,
        duration=0,
        notify_interval=0,
    )
    rule.full_clean()
    rule.save()
    return Fixtures(owner.pk, device_key, logged_in_session(owner))


def logged_in_session(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.CachedPermissionsBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


# --- The meter: POSTs over one keep-alive connection (run in a thread) ---------------------


class Meter:
    def __init__(self, port: int, device_key: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {
            "Authorization": f"Bearer {device_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def post(self, power: float) -> float:
        """Send one reading stamped now; returns the response time in seconds."""
        body = json.dumps({"power": power, "ts": datetime.now(UTC).isoformat()})
        started = time.perf_counter()
        self.connection.request("POST", INGEST_PATH, body, self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200 or json.loads(payload).get("accepted") != 1:
            raise RuntimeError(f"POST {INGEST_PATH} answered {response.status}: {payload[:200]}")
        return elapsed


# --- The owner's open pages: websockets on /ws/live/ ---------------------------------------


class Page:
    """One websocket subscribed to user.<id>, noting when each round's events arrived:
    arrivals[round][kind] = (perf counter, the event's sent_at as epoch seconds)."""

    def __init__(self, group: str, changed: asyncio.Event):
        self.group, self.changed = group, changed
        self.round = -1_000_000
        self.arrivals: dict[int, dict[str, tuple[float, float]]] = {}

    def has(self, round_no: int, *kinds: str) -> bool:
        got = self.arrivals.get(round_no, {})
        return all(kind in got for kind in kinds)

    async def open(self, url: str, origin: str, cookie: str):
        from websockets.asyncio.client import connect

        self.socket = await connect(
            url, origin=origin, proxy=None, additional_headers={"Cookie": cookie}
        )
        await self.socket.send(json.dumps({"action": "subscribe", "groups": [self.group]}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("type") == "subscribed":
                break
        if self.group not in message["groups"]:
            raise RuntimeError(f"subscription refused: {message}")

    async def read(self) -> None:
        async for raw in self.socket:
            now = time.perf_counter()
            event = json.loads(raw)
            kind = self.kind(event)
            if kind:
                got = self.arrivals.setdefault(self.round, {})
                got.setdefault(kind, (now, parse_sent_at(event["sent_at"])))
                self.changed.set()

    def kind(self, event: dict) -> str:
        if event.get("group") != self.group:
            return ""
        if event.get("type") == "notify":
            return "notify"
        if event.get("type") == "alert":
            return event["data"].get("event", "")
        return ""


# --- The rounds ----------------------------------------------------------------------------


@dataclass
class RoundLog:
    sent: float  # perf counter just before the opening POST
    sent_wall: float
    post_open: float  # response times, seconds
    post_resolve: float = 0.0
    resolve_sent: float = 0.0
    complete: bool = True


@dataclass
class Run:
    rounds: dict[int, RoundLog] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0  # daphne's share of one core


async def wait_until(condition, changed: asyncio.Event, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return False
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), remaining)
    return True


async def play_round(n: int, meter: Meter, pages: list[Page], changed: asyncio.Event) -> RoundLog:
    for page in pages:
        page.round = n
    sent, sent_wall = time.perf_counter(), time.time()
    entry = RoundLog(sent, sent_wall, await asyncio.to_thread(meter.post, ABOVE_W))
    opened = await wait_until(
        lambda: all(p.has(n, "notify", "opened") for p in pages), changed, EVENT_TIMEOUT
    )
    entry.resolve_sent = time.perf_counter()
    entry.post_resolve = await asyncio.to_thread(meter.post, BELOW_W)
    resolved = await wait_until(
        lambda: all(p.has(n, "resolved") for p in pages), changed, EVENT_TIMEOUT
    )
    entry.complete = opened and resolved
    return entry


async def play(site: Site, fixtures: Fixtures, args: argparse.Namespace) -> Run:
    changed = asyncio.Event()
    run = Run(pages=[Page(fixtures.group, changed) for _ in range(1 + args.viewers)])
    url, origin = f"ws://127.0.0.1:{site.port}/ws/live/", f"http://127.0.0.1:{site.port}"
    await asyncio.gather(
        *(p.open(url, origin, f"sessionid={fixtures.session_key}") for p in run.pages)
    )
    readers = [asyncio.create_task(page.read()) for page in run.pages]
    meter = Meter(site.port, fixtures.device_key)
    try:
        log(f"warming up: {args.warmup} rounds")
        for n in range(-args.warmup, 0):
            await play_round(n, meter, run.pages, changed)
        log(f"{args.count} rounds, {len(run.pages)} websockets, {site.layer}")
        started, cpu = time.perf_counter(), site.cpu_seconds()
        for n in range(args.count):
            run.rounds[n] = await play_round(n, meter, run.pages, changed)
            await asyncio.sleep(args.pace)
        run.seconds = time.perf_counter() - started
        run.cpu = (site.cpu_seconds() - cpu) / run.seconds
    finally:
        meter.connection.close()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(p.socket.close() for p in run.pages), return_exceptions=True)
    return run


# --- Report --------------------------------------------------------------------------------


def latencies(run: Run, pages: list[Page], kind: str, start: str = "sent") -> list[float]:
    values = []
    for n, entry in run.rounds.items():
        for page in pages:
            if page.has(n, kind):
                values.append(page.arrivals[n][kind][0] - getattr(entry, start))
    return values


def report(run: Run, site: Site, args: argparse.Namespace) -> None:
    first, everyone = run.pages[:1], run.pages
    print(
        f"\n== Alert to toast: {len(run.rounds)} rounds, 1 + {args.viewers} websocket(s) of the "
        f"owner on /ws/live/ (user.<id>), daphne, SQLite, {site.layer}"
    )
    expected = len(run.rounds) * len(everyone)
    toasts = latencies(run, everyone, "notify")
    print(
        f"  rounds {len(run.rounds)} in {run.seconds:.1f} s, incomplete "
        f"{sum(not r.complete for r in run.rounds.values())}; toasts received {len(toasts)} "
        f"of {expected}"
    )
    opens = [r.post_open for r in run.rounds.values()]
    resolves = [r.post_resolve for r in run.rounds.values()]
    print(f"  {'POST ingest (opens the alert)':<40} {spread(opens)}")
    print(f"  {'POST ingest (resolves it)':<40} {spread(resolves)}")
    toast_line("reading-to-toast, first socket", latencies(run, first, "notify"))
    toast_line(f"reading-to-toast, all {len(everyone)} sockets", toasts)
    opened = latencies(run, everyone, "opened")
    print(f"  {'reading-to-alert-opened, all sockets':<40} {spread(opened)}")
    resolved = latencies(run, everyone, "resolved", start="resolve_sent")
    print(f"  {'reading-to-alert-resolved, all sockets':<40} {spread(resolved)}")
    print_split(run, everyone)
    print(f"  CPU busy: daphne {run.cpu:.0%} of one core (of {os.cpu_count()} cores)")


def toast_line(label: str, values: list[float]) -> None:
    if not values:
        print(f"  {label:<40} no toast received   MISS")
        return
    p95 = percentile(values, 95)
    print(
        f"  {label:<40} {spread(values)}   [target p95 < {TOAST_P95_TARGET_MS} ms] "
        f"{verdict(p95, TOAST_P95_TARGET_MS)}"
    )


def print_split(run: Run, pages: list[Page]) -> None:
    """Where the time goes: before publishing (the alert's sent_at, stamped inside the
    ingest transaction) and after it; the spread of one toast across the sockets."""
    before, after, fan_out, before_response = [], [], [], 0
    for n, entry in run.rounds.items():
        got = [p.arrivals[n]["notify"] for p in pages if p.has(n, "notify")]
        if not got:
            continue
        before.append(got[0][1] - entry.sent_wall)
        after += [arrived - entry.sent - before[-1] for arrived, _ in got]
        fan_out.append(max(a for a, _ in got) - min(a for a, _ in got))
        before_response += got[0][0] - entry.sent < entry.post_open
    print(f"    {'of which sent -> alert written':<38} {spread(before)}")
    print(f"    {'of which written -> toast received':<38} {spread(after)}")
    print(f"    {'first to last socket, per round':<38} {spread(fan_out)}")
    if before:
        print(f"    toast before the POST's response: {before_response / len(before):.0%}")


# --- Orchestration -----------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    site = Site(redis=args.redis)
    try:
        log(f"migrating SQLite in {site.dir}")
        site.manage("migrate", "--no-input")
        setup_django(site)
        fixtures = create_fixtures()
        site.start()
        result = asyncio.run(play(site, fixtures, args))
        report(result, site, args)
        errors = site.server_errors()
        if errors:
            print(f"\n  server log: {len(errors)} error line(s), e.g. {errors[0][:200]}")
    finally:
        site.cleanup()


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    run(args)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
