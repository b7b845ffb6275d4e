"""Energy live benchmark: from a meter's publish to the event in the browsers watching it.

The whole chain, each piece a real process on 127.0.0.1: a publisher process sends `--rate`
telemetry messages a second (1,000; QoS 1, round robin over `--nodes` meters, 100) to
Mosquitto for `--seconds` s (30) after `--warmup` s not counted; `manage.py mqtt_bridge`
stores them through energy.ingest, which publishes each node's newest reading after commit to
the Redis channel layer; daphne serves the site on the same Redis and relays the events to
`--viewers` websockets (100) on /ws/live/, each logged in as the meters' owner and subscribed
to `--groups` node groups `energy.node.<id>` (10; so each group has viewers x groups / nodes
watchers).

The publish time is the reading's `ts` (ISO 8601, milliseconds), which the event carries back:
latency is the arrival of the event minus that ts, for the events delivered [p95 < 100 ms],
split at the event's `sent_at` into the bridge's part (waiting for its batch, ingest, commit)
and the delivery (Redis, daphne, the websocket). The ingest service sends at most one event per
node per ENERGY_LIVE_INTERVAL (1 s), its newest reading: viewers receive about `--nodes`
events a second in all, not `--rate`; the counts delivered are printed beside the expected.

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/live.py [--rate 1000] [--seconds 30] [--nodes 100]
        [--viewers 100] [--groups 10] [--flush-interval 0.02]

SQLite in a temporary VAR_DIR; Redis, Mosquitto, daphne and the bridge are started and removed
at the end. About a minute on 2 cores.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.aggregates import Daphne, logged_in_session  # noqa: E402 (needs ROOT)
from bench.ingest import (  # noqa: E402
    PROBE_DEVICE,
    TELEMETRY_TOPIC,
    Bridge,
    Broker,
    Child,
    Copy,
    CpuClock,
    broker_address,
    manage,
    mqtt_client,
    say,
    site_environment,
)
from flowsuite.testing import Redis, percentile  # noqa: E402

P95_TARGET_MS = 100
DEVICE_PREFIX = "live-"
OWNER_EMAIL = "owner@bench.invalid"
GRACE_SECONDS = 3.0  # after the last publish, for the last events to arrive


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="messages a second, in all")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured publishing time")
    parser.add_argument("--warmup", type=float, default=3.0, help="publishing not measured")
    parser.add_argument("--nodes", type=int, default=100, help="meters")
    parser.add_argument("--viewers", type=int, default=100, help="websockets")
    parser.add_argument("--groups", type=int, default=10, help="node groups each viewer follows")
    parser.add_argument(
        "--flush-interval", type=float, default=0.02, help="the bridge's --flush-interval"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="the bridge's --batch-size")
    parser.add_argument(
        "--redis-query",
        default="",
        help="options appended to REDIS_URL, e.g. 'socket_timeout=30&max_connections=1000'",
    )
    parser.add_argument("--child", choices=["publish"], help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def device_id(n: int) -> str:
    return f"{DEVICE_PREFIX}{n:03d}"


def iso_ms(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- The publisher (a child process) -----------------------------------------------------


def child_publish(args: argparse.Namespace) -> None:
    """`--rate` messages a second, paced every 10 ms, each stamped with the time it is sent;
    `--warmup` s first, then `--seconds` s measured."""
    client = mqtt_client(f"bench-live-publisher-{os.getpid()}", clean=True)
    client.max_inflight_messages_set(1000)
    client.connect(*broker_address(args.url))
    client.loop_start()
    say(event="ready")
    sys.stdin.readline()  # "go"
    started = time.time()
    measured_from = started + args.warmup
    total = int((args.warmup + args.seconds) * args.rate)
    counters = [0.0] * args.nodes
    sent = 0
    while sent < total:
        due = min(total, int((time.time() - started) * args.rate) + 1)
        while sent < due:
            node = sent % args.nodes
            counters[node] += 0.0003
            payload = {
                "ts": iso_ms(time.time()),
                "voltage": 230.1,
                "current": 4.2,
                "power": 912.0,
                "power_factor": 0.94,
                "frequency": 50.01,
                "energy": round(1000 + counters[node], 4),
            }
            client.publish(TELEMETRY_TOPIC.format(device_id(node)), json.dumps(payload), qos=1)
            sent += 1
        time.sleep(0.01)
    say(event="done", started=started, measured_from=measured_from, ended=time.time(), sent=sent)
    client.disconnect()
    client.loop_stop()


# --- The browsers -------------------------------------------------------------------------


@dataclass
class Arrival:
    group: str
    ts: float  # the reading's ts: when it was published
    sent_at: float  # when the server published the event
    arrived: float


@dataclass
class Viewers:
    """`count` websockets on /ws/live/, in one asyncio loop in a thread of their own."""

    port: int
    session_key: str
    groups: list[list[str]]  # per viewer
    arrivals: list[list[Arrival]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __post_init__(self):
        self.arrivals = [[] for _ in self.groups]
        self.closed_early = 0
        self._subscribed = 0
        self._loop = self._closing = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(timeout=60) or self.error:
            raise RuntimeError(f"the viewers could not subscribe: {self.error!r}")

    def stop(self) -> None:
        if self._loop and self._closing:
            self._loop.call_soon_threadsafe(self._closing.set)
        self._thread.join(timeout=15)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by the main thread
            self.error = error
            self.ready.set()

    async def _main(self) -> None:
        self._loop, self._closing = asyncio.get_running_loop(), asyncio.Event()
        await asyncio.gather(*(self._watch(n) for n in range(len(self.groups))))

    async def _watch(self, index: int) -> None:
        from websockets.asyncio.client import connect

        async with connect(
            f"ws://127.0.0.1:{self.port}/ws/live/",
            origin=f"http://127.0.0.1:{self.port}",
            proxy=None,
            additional_headers={"Cookie": f"sessionid={self.session_key}"},
            max_queue=None,
        ) as socket:
            await self._subscribe(socket, self.groups[index])
            reader = asyncio.create_task(self._read(socket, self.arrivals[index]))
            await self._closing.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _subscribe(self, socket, groups: list[str]) -> None:
        await socket.send(json.dumps({"action": "subscribe", "groups": groups}))
        while True:
            message = json.loads(await socket.recv())
            if message.get("type") == "subscribed":
                break
        if message["refused"]:
            raise RuntimeError(f"subscription refused: {message['refused']}")
        self._subscribed += 1
        if self._subscribed == len(self.groups):
            self.ready.set()

    async def _read(self, socket, arrivals: list[Arrival]) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await self._receive(socket, arrivals)
        if not self._closing.is_set():
            self.closed_early += 1  # the server closed it

    async def _receive(self, socket, arrivals: list[Arrival]) -> None:
        async for raw in socket:
            arrived = time.time()
            event = json.loads(raw)
            if event.get("type") == "reading":
                data = event["data"]
                arrivals.append(
                    Arrival(
                        event["group"], parse_iso(data["ts"]), parse_iso(event["sent_at"]), arrived
                    )
                )


def viewer_groups(viewers: int, groups: int, node_ids: list[int]) -> list[list[str]]:
    """Viewer v follows `groups` consecutive nodes from its own offset, so that every node
    has about the same number of watchers."""
    step = max(1, len(node_ids) // max(1, viewers))
    return [
        [f"energy.node.{node_ids[(v * step + k) % len(node_ids)]}" for k in range(groups)]
        for v in range(viewers)
    ]


# --- Set-up --------------------------------------------------------------------------------


def setup_site(var_dir: Path, redis_url: str, broker: Broker) -> dict[str, str]:
    env = site_environment(
        VAR_DIR=str(var_dir),
        REDIS_URL=redis_url,
        MQTT_URL=broker.url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    manage(env, "migrate", "--no-input")
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsuite.settings"
    import django

    django.setup()
    return env


def create_meters(count: int) -> tuple[object, list[int]]:
    from accounts import services
    from energy.nodes import node_create

    owner = services.user_create(email=OWNER_EMAIL, password=f"bench-{os.getpid()}-only-x")
    ids = [
        node_create(owner=owner, device_id=device_id(n), name=device_id(n))[0].pk
        for n in range(count)
    ]
    node_create(owner=owner, device_id=PROBE_DEVICE, name=PROBE_DEVICE)
    return owner, ids


# --- Figures ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def spread(values: list[float]) -> str:
    return (
        f"p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))}  "
        f"p99 {ms(percentile(values, 99))}  max {ms(max(values))}"
    )


def print_results(
    args, viewers: Viewers, published: dict, stored: int, cpu: dict, interval: float
) -> None:
    measured = [
        arrival
        for arrivals in viewers.arrivals
        for arrival in arrivals
        if published["measured_from"] <= arrival.ts <= published["ended"]
    ]
    watchers = Counter(group for groups in viewers.groups for group in groups)
    events = {(a.group, a.ts) for a in measured}
    expected_events = args.nodes * args.seconds / interval
    expected = sum(watchers.values()) * args.seconds / interval
    per_viewer = [
        sum(1 for a in arrivals if published["measured_from"] <= a.ts)
        for arrivals in viewers.arrivals
    ]
    print(
        f"\n== Live: {args.rate:,} msg/s for {args.seconds:g} s ({args.nodes} meters, QoS 1) -> "
        f"Mosquitto -> mqtt_bridge -> Redis -> daphne -> {args.viewers} websockets x "
        f"{args.groups} node groups"
    )
    seconds = published["ended"] - published["started"]
    print(
        f"  published        {published['sent']:>8,} messages in {seconds:.1f} s "
        f"({published['sent'] / seconds:,.0f}/s, warm-up included); stored {stored:,}"
    )
    print(
        f"  events           {len(events):>8,} readings pushed to node groups while measured "
        f"(expected ~{expected_events:,.0f}: one per node per ENERGY_LIVE_INTERVAL={interval:g} s)"
    )
    print(
        f"  delivered        {len(measured):>8,} events to browsers (expected ~{expected:,.0f}: "
        f"each event x its {sum(watchers.values()) / len(watchers):g} watchers); per viewer "
        f"{min(per_viewer)}..{max(per_viewer)}"
    )
    if not measured:
        print("  no event arrived: MISS")
        return
    latencies = [a.arrived - a.ts for a in measured]
    p95 = percentile(latencies, 95)
    verdict = "OK" if p95 * 1000 < P95_TARGET_MS else "MISS"
    print(f"  publish -> browser event  {spread(latencies)}   [p95 < {P95_TARGET_MS} ms] {verdict}")
    bridge_part = [a.sent_at - a.ts for a in measured]
    delivery = [a.arrived - a.sent_at for a in measured]
    print(f"    of which publish -> server sent_at  {spread(bridge_part)}")
    print(f"    of which sent_at -> browser         {spread(delivery)}")
    print(
        "  CPU, share of one core while measured: "
        + ", ".join(f"{name} {share:.0%}" for name, share in cpu.items())
        + f" (of {os.cpu_count()} cores)"
    )
    print(
        f"  bridge: --flush-interval {args.flush_interval:g} s, --batch-size {args.batch_size}; "
        f"ts in ms and clocks shared on one machine"
    )


# --- Orchestration -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="flowsuite-bench-live-"))
    redis, broker = Redis().start(), Broker(queue=1_000_000).start()
    site = bridge = None
    try:
        log("migrating, creating the meters")
        query = f"?{args.redis_query}" if args.redis_query else ""
        env = setup_site(work / "var", redis.url + query, broker)
        owner, node_ids = create_meters(args.nodes)
        session_key = logged_in_session(owner)
        site = Daphne(env, work / "daphne.log")
        bridge = Bridge(
            env,
            work / "bridge.log",
            "--batch-size",
            str(args.batch_size),
            "--flush-interval",
            str(args.flush_interval),
        )
        database = Copy(env, str(work / "var" / "flowsuite.sqlite3"))
        bridge.wait_until_listening(broker.url, database)
        viewers = Viewers(
            site.port, session_key, viewer_groups(args.viewers, args.groups, node_ids)
        )
        log(f"{args.viewers} viewers subscribing")
        viewers.start()
        publisher = Child(
            "publish",
            "--url",
            broker.url,
            "--rate",
            str(args.rate),
            "--seconds",
            str(args.seconds),
            "--warmup",
            str(args.warmup),
            "--nodes",
            str(args.nodes),
            script=__file__,
        )
        publisher.wait_for("ready", timeout=30)
        log(f"publishing {args.rate}/s for {args.warmup:g} + {args.seconds:g} s")
        publisher.tell("go")
        time.sleep(args.warmup)
        clock = CpuClock(
            bridge.pid, site.process.pid, redis.process.pid, broker.process.pid, os.getpid()
        )
        measuring = time.time()
        published = publisher.wait_for("done", timeout=args.seconds + args.warmup + 60)
        elapsed = time.time() - measuring
        cpu = {
            name: seconds / elapsed
            for name, seconds in clock.used(
                ("bridge", "daphne", "redis", "mosquitto", "viewers")
            ).items()
        }
        time.sleep(GRACE_SECONDS)
        viewers.stop()
        publisher.stop()
        bridge.stop()
        stored = count_readings(database)
        from django.conf import settings

        print_results(args, viewers, published, stored, cpu, settings.ENERGY_LIVE_INTERVAL)
        report_errors(site, bridge, viewers)
    finally:
        if bridge:
            bridge.kill()
        if site:
            site.stop()
        broker.cleanup()
        redis.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def count_readings(database: Copy) -> int:
    connection = database.connect()
    try:
        return connection.execute("SELECT count(*) FROM energy_reading").fetchone()[0]
    finally:
        connection.close()


def report_errors(site: Daphne, bridge: Bridge, viewers: Viewers) -> None:
    """What went wrong on the way, from the logs: each kind of error line once, counted."""
    lines = site.log_path.read_text(errors="replace").splitlines() + bridge.output().splitlines()
    kinds = Counter()
    for line in lines:
        if "ERROR" in line:
            kinds[line.split(" ERROR ", 1)[-1][:150]] += 1
    if viewers.closed_early:
        print(f"  websockets closed by the server before the end: {viewers.closed_early}")
    for kind, count in kinds.most_common(5):
        print(f"  log: {count} x {kind}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child == "publish":
        child_publish(args)
        return
    started = time.perf_counter()
    run(args)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
