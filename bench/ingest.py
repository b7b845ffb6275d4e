"""Energy ingest benchmark: MQTT telemetry to committed readings, end to end.

A separate process publishes `--messages` telemetry messages (JSON with `ts`, from `--nodes`
meters, QoS 1) to a real Mosquitto as fast as it can. The figure is readings committed per
second, from the first publish until the database holds them all (rows counted; lost = sent -
rows). Per database (`--databases sqlite,postgres`), side by side, each case on a fresh broker
and a fresh database:

  bridge  `manage.py mqtt_bridge` as a subprocess (energy.ingest in batches, rollups included);
  (a)     the seeds' way: a paho-mqtt 2 callback doing one INSERT and one commit per message
          into a table (plain sqlite3 / psycopg, no Django), over `--seed-messages` messages;
  (b)     the receive ceiling: a paho subscriber that parses the JSON and stores nothing;
  (c)     the driver's insert ceiling: the same rows into energy_reading with sqlite3
          executemany / psycopg COPY, no broker (committed every `--batch-size` rows, and in
          one transaction).

Targets: bridge >= 60 % of (b) and >= 10x (a) on each database, no message lost, and the
bridge's peak RSS (VmHWM, read before it is stopped) under 150 MB.

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/ingest.py [--messages 200000] [--nodes 100]
        [--databases sqlite,postgres] [--seed-messages 20000] [--batch-size 500]
        [--broker-queue N] [--inflight 1000] [--only bridge,seed,receive,driver]
        [--profile DIR]

The bridge's SQLite has the site's PRAGMAs (WAL, synchronous=NORMAL); (a) opens its file with
a plain sqlite3.connect(), as the seeds did (a rollback journal, an fsync per commit), and is
shown again with the site's PRAGMAs so that the part of the batching is plain. PostgreSQL is a
throwaway cluster under /tmp (initdb and pg_ctl, as the `postgres` user when run as root) with
initdb's defaults, fsync on as in production. The broker is Mosquitto with its defaults except
`max_queued_messages` (`--broker-queue`, default: the whole burst): with Mosquitto's default of
1000, a subscriber that falls behind a burst loses QoS 1 messages at the broker, whatever it
does. The publisher is a minimal MQTT client on a socket (QoS 1, PUBACKs counted, `--inflight`
in flight): paho, on the same 2 cores, could not publish faster than a paho subscriber
receives, and took the CPU the bridge needs. `--profile DIR` records the bridge with py-spy
(not in the requirements: `.venv/bin/pip install py-spy`). Everything stays on 127.0.0.1 and
is removed at the end. The defaults take about 5 minutes on 2 cores.
"""

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowsuite.testing import Mosquitto, free_port, wait_for_port  # noqa: E402 (needs ROOT)

BRIDGE_VS_RECEIVE_TARGET = 0.60
BRIDGE_VS_SEED_TARGET = 10.0
RSS_TARGET_MB = 150

TELEMETRY_TOPIC = "flowsuite/energy/{}/telemetry"
STATUS_TOPIC = "flowsuite/energy/{}/status"
SUBSCRIPTION = "flowsuite/energy/+/telemetry"
DEVICE_PREFIX = "bench-node-"
PROBE_DEVICE = "bench-probe"
OWNER_EMAIL = "owner@bench.invalid"
# The columns of energy_reading the bridge fills, in this order.
READING_COLUMNS = [
    "node_id",
    "ts",
    "voltage",
    "current",
    "power",
    "power_factor",
    "frequency",
    "energy",
    "energy_used",
]
POLL_SECONDS = 0.05
STALL_SECONDS = 15.0  # no new row for this long after the last publish: the rest is lost
SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"  # as flowsuite.settings


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="telemetry messages")
    parser.add_argument("--nodes", type=int, default=100, help="meters they come from")
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--seed-messages",
        type=int,
        default=20_000,
        help="messages for (a), one commit each (it is slow; its rate is what counts)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=2000, help="the bridge's --batch-size, and (c)'s"
    )
    parser.add_argument(
        "--flush-interval", type=float, default=0.2, help="the bridge's --flush-interval"
    )
    parser.add_argument(
        "--broker-queue",
        type=int,
        default=0,
        help="Mosquitto's max_queued_messages (default: --messages, the whole burst)",
    )
    parser.add_argument(
        "--inflight", type=int, default=1000, help="the publisher's QoS 1 messages in flight"
    )
    parser.add_argument(
        "--only", default="bridge,seed,receive,driver", help="comma-separated cases to run"
    )
    parser.add_argument("--profile", default="", help="record the bridge with py-spy into DIR")
    parser.add_argument(
        "--rules",
        type=int,
        default=0,
        help="also run the bridge with this many alert rules per node (issue 7: >= 80%% of "
        "the bridge without rules)",
    )
    parser.add_argument("--child", choices=["publish", "receive", "seed"], help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database", default="", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--wal", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- The telemetry: what the meters send ------------------------------------------------


def device_id(n: int) -> str:
    return f"{DEVICE_PREFIX}{n:03d}"


def telemetry(messages: int, nodes: int, start: float):
    """(device_id, payload) in publishing order: every meter once a second, round robin,
    from `start` (epoch seconds) on; realistic values, a cumulative kWh counter."""
    rng = random.Random(42)
    counters = [rng.uniform(100, 5000) for _ in range(nodes)]
    for n in range(messages):
        node, second = n % nodes, n // nodes
        voltage = rng.gauss(230, 2)
        current = rng.uniform(0.5, 16)
        power_factor = rng.uniform(0.85, 0.99)
        power = voltage * current * power_factor
        counters[node] += power / 3_600_000
        yield (
            device_id(node),
            {
                "ts": iso(start + second),
                "voltage": round(voltage, 1),
                "current": round(current, 3),
                "power": round(power, 1),
                "power_factor": round(power_factor, 3),
                "frequency": round(rng.gauss(50, 0.02), 3),
                "energy": round(counters[node], 4),
            },
        )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def telemetry_start(messages: int, nodes: int) -> float:
    """Epoch second of the first reading: the last one lands a minute before now."""
    return float(int(time.time()) - (messages + nodes - 1) // nodes - 60)


# --- Children: publisher, receive-only subscriber, the seeds' subscriber -----------------


def mqtt_client(client_id: str, clean: bool):
    import paho.mqtt.client as mqtt

    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 1883


def say(**message) -> None:
    """A line to the parent process."""
    print(json.dumps(message), flush=True)


class RawPublisher:
    """A minimal MQTT 3.1.1 client that only publishes at QoS 1, over a plain socket: the
    packets are built beforehand and written in bulk, PUBACKs counted as they come back.

    Written for the benchmark: paho's publisher, in Python on the same 2 cores, managed about
    10,000 messages/s at full CPU (a thread handing messages over, its network thread taking
    them, both under one GIL), so it was the publisher the subscribers waited for, and it took
    the CPU the bridge needs. Real meters each send a message a second from their own chip.
    """

    def __init__(self, url: str, client_id: str, window: int):
        self.sock = socket.create_connection(broker_address(url))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.window = window  # messages in flight (unacknowledged), at most
        self.acked = 0
        self._partial = b""
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + mqtt_string(client_id)  # clean, no keepalive
        self.sock.sendall(b"\x10" + remaining_length(len(body)) + body)
        if self._read_exactly(4) != b"\x20\x02\x00\x00":
            raise ConnectionError("the broker refused the publisher")

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    @staticmethod
    def packet(number: int, topic: str, payload: bytes) -> bytes:
        """PUBLISH, QoS 1, packet id from the message's number (ids 1..65535 in turn)."""
        body = mqtt_string(topic) + (number % 65535 + 1).to_bytes(2, "big") + payload
        return b"\x32" + remaining_length(len(body)) + body

    def publish_all(self, packets: list[bytes]) -> float:
        """Write them all, keeping at most `window` unacknowledged; returns when the last was
        written (epoch seconds). `wait_for_acks()` then waits for the rest."""
        sent = 0
        while sent < len(packets):
            end = min(len(packets), self.acked + self.window)
            if end > sent:
                self.sock.sendall(b"".join(packets[sent:end]))
                sent = end
            if sent < len(packets):
                self._read_acks(until=sent - self.window // 2)
        return time.time()

    def wait_for_acks(self, total: int) -> None:
        self._read_acks(until=total)

    def _read_acks(self, until: int) -> None:
        while self.acked < until:
            data = self._partial + self.sock.recv(65536)
            if len(data) == len(self._partial):
                raise ConnectionError("the broker closed the connection")
            whole = len(data) // 4 * 4
            self.acked += whole // 4  # the broker sends nothing but PUBACKs (4 bytes) here
            self._partial = data[whole:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


def mqtt_string(text: str) -> bytes:
    encoded = text.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def remaining_length(size: int) -> bytes:
    encoded = bytearray()
    while True:
        size, digit = divmod(size, 128)
        encoded.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(encoded)


def child_publish(args: argparse.Namespace) -> None:
    """Publish every message (QoS 1) as fast as it goes once told to, then report when the
    first was written, when the last was, and when the broker had acknowledged them all."""
    packets = [
        RawPublisher.packet(n, TELEMETRY_TOPIC.format(device), json.dumps(payload).encode())
        for n, (device, payload) in enumerate(telemetry(args.messages, args.nodes, args.start))
    ]
    publisher = RawPublisher(args.url, f"bench-publisher-{os.getpid()}", args.inflight)
    say(event="ready")
    sys.stdin.readline()  # "go"
    first = time.time()
    handed = publisher.publish_all(packets)
    publisher.wait_for_acks(len(packets))
    say(event="done", first=first, handed=handed, acked_at=time.time(), acked=publisher.acked)
    publisher.close()


def subscribe_and_serve(url: str, client_id: str, on_message) -> None:
    """Subscribe at QoS 1 with a persistent session, tell the parent once the broker has
    confirmed it, then serve messages until stdin closes."""
    client = mqtt_client(client_id, clean=False)

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(SUBSCRIPTION, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        say(event="subscribed")

    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.on_message = on_message
    client.connect(*broker_address(url))
    client.loop_start()
    sys.stdin.readline()  # the parent closes it when done
    client.disconnect()
    client.loop_stop()


def child_receive(args: argparse.Namespace) -> None:
    """(b): parse each message, store nothing; report the last arrival once all are in."""
    expected, count = args.messages, [0]

    def on_message(client, userdata, message):
        payload, device = json.loads(message.payload), message.topic.split("/")[2]
        count[0] += bool(payload and device)
        if count[0] == expected:
            say(event="received", count=count[0], last=time.time())

    subscribe_and_serve(args.url, f"bench-receiver-{os.getpid()}", on_message)


SEED_TABLE = """CREATE TABLE seed_reading (
    id {pk}, device_id TEXT NOT NULL, ts {ts} NOT NULL, voltage REAL, current REAL,
    power REAL, power_factor REAL, frequency REAL, energy REAL)"""
SEED_INSERT = (
    "INSERT INTO seed_reading (device_id, ts, voltage, current, power, power_factor, "
    "frequency, energy) VALUES ({})"
)
SEED_FIELDS = ("ts", "voltage", "current", "power", "power_factor", "frequency", "energy")


def seed_connection(database: str, wal: bool):
    """(a)'s connection and its insert: a SQLite file (plain sqlite3.connect(), or with the
    site's PRAGMAs when `wal`) or a PostgreSQL URL."""
    if database.startswith("postgres"):
        import psycopg

        connection = psycopg.connect(database)
        ddl = SEED_TABLE.format(pk="BIGSERIAL PRIMARY KEY", ts="TIMESTAMPTZ")
        placeholder = "%s"
    else:
        # paho calls back from its network thread
        connection = sqlite3.connect(database, check_same_thread=False)
        if wal:
            connection.executescript(SQLITE_PRAGMAS)
        ddl = SEED_TABLE.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT", ts="TEXT")
        placeholder = "?"
    connection.execute(ddl)
    connection.commit()
    return connection, SEED_INSERT.format(", ".join([placeholder] * (len(SEED_FIELDS) + 1)))


def child_seed(args: argparse.Namespace) -> None:
    """(a): what the seed projects did, one INSERT and one commit per message."""
    connection, insert = seed_connection(args.database, args.wal)

    def on_message(client, userdata, message):
        payload = json.loads(message.payload)
        device = message.topic.split("/")[2]
        connection.execute(insert, (device, *(payload.get(key) for key in SEED_FIELDS)))
        connection.commit()

    subscribe_and_serve(args.url, f"bench-seed-{os.getpid()}", on_message)
    connection.close()


# --- Services: the broker and a throwaway PostgreSQL cluster ----------------------------


class Broker(Mosquitto):
    """A fresh Mosquitto whose per-client queue holds `queue` QoS 1 messages."""

    def __init__(self, queue: int):
        self.queue = queue
        super().__init__()

    def command(self):
        command = super().command()
        with open(self.dir / "mosquitto.conf", "a") as config:
            config.write(f"max_queued_messages {self.queue}\n")
        return command


def as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root (scripts/services.sh does the same)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    """A PostgreSQL cluster of its own in `directory` (kept when `keep`), on a free port."""

    def __init__(self, directory: Path | None = None, keep: bool = False):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)
        if not versions:
            raise FileNotFoundError("PostgreSQL is not installed (run the test command once)")
        self.bin = versions[-1]
        self.dir = directory or Path(tempfile.mkdtemp(prefix="flowsuite-bench-pg-"))
        self.keep = keep
        self.port = free_port()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def start(self, settings: tuple[str, ...] = ()) -> "Postgres":
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {setting}" for setting in settings)
        log_file = str(self.dir / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log_file, "-w", "-o", options, "start")
        wait_for_port(self.port)
        return self

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            as_postgres([str(self.bin / program), *args]),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self, name: str, template: str = "template1") -> str:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url()) as connection:
            return connection.execute("SHOW server_version").fetchone()[0].split()[0]

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")

    def cleanup(self) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def _version_key(path: Path):
    return [int(part) for part in re.findall(r"\d+", path.parent.name)]


# --- Databases: a migrated template with the nodes, a fresh copy per case ---------------


def site_environment(**extra: str) -> dict[str, str]:
    unwanted = {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "DJANGO_SETTINGS_MODULE", "VAR_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(ENV_FILE="/dev/null", DEBUG="false", LOG_LEVEL="INFO", **extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


CREATE_NODES = """
from accounts import services
from energy.nodes import node_create
owner = services.user_create(email={email!r}, password="bench-only-{pid}-x", role="viewer")
for device in {devices!r}:
    node_create(owner=owner, device_id=device, name=device)
"""


def create_nodes(env: dict[str, str], nodes: int) -> None:
    """The meters (and the probe that tells when the bridge listens), with Django's own
    services, in a subprocess: this process stays out of Django."""
    devices = [device_id(n) for n in range(nodes)] + [PROBE_DEVICE]
    code = CREATE_NODES.format(email=OWNER_EMAIL, pid=os.getpid(), devices=devices)
    manage(env, "shell", "-c", code)


class Database:
    """One kind of database: `fresh()` hands each case its own copy of a template that is
    migrated and holds the nodes."""

    kind = ""

    def label(self) -> str:
        raise NotImplementedError

    def prepare(self, nodes: int) -> None:
        raise NotImplementedError

    def fresh(self, name: str) -> "Copy":
        raise NotImplementedError

    def seed_database(self, name: str) -> str:
        """A new, empty database for (a): a path or a URL."""
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError


@dataclass
class Copy:
    env: dict[str, str]  # the site's environment on this database
    target: str  # a SQLite path or a PostgreSQL URL
    node_ids: dict[str, int] = field(default_factory=dict)

    def connect(self):
        """A connection that sees every commit (autocommit on PostgreSQL)."""
        if self.target.startswith("postgres"):
            import psycopg

            return psycopg.connect(self.target, autocommit=True)
        connection = sqlite3.connect(self.target, timeout=30, isolation_level=None)
        return connection


class SQLite(Database):
    kind = "sqlite"

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="flowsuite-bench-ingest-"))
        self.template = self.dir / "template"

    def label(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def prepare(self, nodes: int) -> None:
        env = site_environment(VAR_DIR=str(self.template))
        manage(env, "migrate", "--no-input")
        create_nodes(env, nodes)
        with sqlite3.connect(self.template / "flowsuite.sqlite3") as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def fresh(self, name: str) -> Copy:
        var_dir = self.dir / name
        shutil.copytree(self.template, var_dir)
        path = var_dir / "flowsuite.sqlite3"
        return Copy(site_environment(VAR_DIR=str(var_dir)), str(path), node_ids_of(str(path)))

    def seed_database(self, name: str) -> str:
        return str(self.dir / f"{name}.sqlite3")

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgreSQL(Database):
    kind = "postgres"

    def __init__(self):
        self.cluster = Postgres().start()
        self.var_dir = Path(tempfile.mkdtemp(prefix="flowsuite-bench-ingest-var-"))

    def label(self) -> str:
        return f"PostgreSQL {self.cluster.version()}"

    def prepare(self, nodes: int) -> None:
        url = self.cluster.create_database("bench_template")
        env = site_environment(VAR_DIR=str(self.var_dir), DATABASE_URL=url)
        manage(env, "migrate", "--no-input")
        create_nodes(env, nodes)

    def fresh(self, name: str) -> Copy:
        url = self.cluster.create_database(name, template="bench_template")
        env = site_environment(VAR_DIR=str(self.var_dir), DATABASE_URL=url)
        return Copy(env, url, node_ids_of(url))

    def seed_database(self, name: str) -> str:
        return self.cluster.create_database(name)

    def cleanup(self) -> None:
        self.cluster.cleanup()
        shutil.rmtree(self.var_dir, ignore_errors=True)


def node_ids_of(target: str) -> dict[str, int]:
    copy = Copy({}, target)
    connection = copy.connect()
    try:
        rows = connection.execute("SELECT device_id, id FROM energy_node").fetchall()
    finally:
        connection.close()
    return dict(rows)


def count_rows(connection, table: str) -> int:
    return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- Running a case --------------------------------------------------------------------


@dataclass
class Result:
    case: str
    sent: int = 0
    stored: int = 0
    seconds: float = 0.0
    note: str = ""
    rss_mb: float | None = None
    rss_parts: str = ""  # per process: the bridge, then its children
    cpu: dict[str, float] = field(default_factory=dict)  # process: CPU seconds during the run
    threads: dict[str, float] = field(default_factory=dict)  # the bridge's, the same
    publisher: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.sent - self.stored


class Child:
    """A benchmark script (this one by default) in one of its child roles, talking JSON lines
    over stdout; its errors go to our standard error."""

    def __init__(self, role: str, *options: str, script: str = __file__):
        command = [sys.executable, script, "--child", role, *options]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lines: list[dict] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._arrived:
                self.lines.append(json.loads(line))
                self._arrived.notify_all()

    def wait_for(self, event: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for line in self.lines:
                    if line["event"] == event:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise TimeoutError(f"no {event!r} from the {self.process.args[3]} child")
                self._arrived.wait(min(left, 0.5))

    def has(self, event: str) -> dict | None:
        with self._arrived:
            return next((line for line in self.lines if line["event"] == event), None)

    def tell(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def publisher(broker: Broker, messages: int, args: argparse.Namespace, start: float) -> Child:
    child = Child(
        "publish",
        "--url",
        broker.url,
        "--messages",
        str(messages),
        "--nodes",
        str(args.nodes),
        "--start",
        repr(start),
        "--inflight",
        str(args.inflight),
    )
    child.wait_for("ready", timeout=120)
    return child


def wait_for_rows(connection, table: str, expected: int, publisher: Child) -> tuple[int, float]:
    """Poll until the (empty at first) table holds `expected` rows, or a stall; returns (rows,
    epoch seconds then). Polled by the newest id, which costs nothing (a count(*) at every
    poll took a fifth of a core); the rows are then counted."""
    newest, last_change = 0, time.monotonic()
    while True:
        latest = connection.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
        now = time.time()
        if latest != newest:
            newest, last_change = latest, time.monotonic()
        stalled = time.monotonic() - last_change > STALL_SECONDS and publisher.has("done")
        if newest >= expected or stalled:
            rows = count_rows(connection, table)
            if rows >= expected or stalled:  # else ids were skipped: keep polling
                return rows, now
        time.sleep(POLL_SECONDS)


def run_receive(args: argparse.Namespace) -> Result:
    """(b): the broker and a subscriber that parses and drops."""
    broker = Broker(args.broker_queue).start()
    try:
        receiver = Child("receive", "--url", broker.url, "--messages", str(args.messages))
        receiver.wait_for("subscribed", timeout=30)
        start = telemetry_start(args.messages, args.nodes)
        sender = publisher(broker, args.messages, args, start)
        cpu = CpuClock(receiver.process.pid, broker.process.pid, sender.process.pid)
        sender.tell("go")
        result = Result("receive", sent=args.messages)
        try:
            received = receiver.wait_for("received", timeout=600)
            result.stored = received["count"]
            done = sender.wait_for("done", timeout=60)
            result.seconds = received["last"] - done["first"]
        except TimeoutError:
            done = sender.wait_for("done", timeout=60)
            result.note = "not every message arrived"
        result.cpu = cpu.used(("receiver", "mosquitto", "publisher"))
        result.publisher = done
        sender.stop()
        receiver.stop()
        return result
    finally:
        broker.cleanup()


def run_seed(database: Database, args: argparse.Namespace, wal: bool = False) -> Result:
    """(a): one INSERT and one commit per message."""
    messages = min(args.seed_messages, args.messages)
    target = database.seed_database(f"seed_{'wal_' if wal else ''}{os.getpid()}")
    broker = Broker(args.broker_queue).start()
    try:
        options = ["--url", broker.url, "--database", target, *(["--wal"] if wal else [])]
        seeder = Child("seed", *options)
        seeder.wait_for("subscribed", timeout=30)
        connection = Copy({}, target).connect()
        sender = publisher(broker, messages, args, telemetry_start(messages, args.nodes))
        cpu = CpuClock(seeder.process.pid, broker.process.pid, sender.process.pid)
        sender.tell("go")
        rows, finished = wait_for_rows(connection, "seed_reading", messages, sender)
        done = sender.wait_for("done", timeout=60)
        case = "seed-wal" if wal else "seed"
        result = Result(case, sent=messages, stored=rows, seconds=finished - done["first"])
        result.cpu = cpu.used(("subscriber", "mosquitto", "publisher"))
        result.publisher = done
        connection.close()
        sender.stop()
        seeder.stop()
        return result
    finally:
        broker.cleanup()


def driver_rows(copy: Copy, args: argparse.Namespace, postgres: bool) -> list[tuple]:
    """The rows the bridge stores for the same telemetry, energy_used included."""
    rows, previous = [], {}
    start = telemetry_start(args.messages, args.nodes)
    for device, payload in telemetry(args.messages, args.nodes, start):
        ts = datetime.fromisoformat(payload["ts"])
        if not postgres:  # how Django stores a datetime in SQLite: naive UTC text
            ts = str(ts.replace(tzinfo=None))
        energy = payload["energy"]
        used = energy - previous[device] if device in previous else 0.0
        previous[device] = energy
        values = (payload[key] for key in READING_COLUMNS[2:8])
        rows.append((copy.node_ids[device], ts, *values, used))
    return rows


def run_driver(database: Database, args: argparse.Namespace) -> list[Result]:
    """(c): the rows straight into energy_reading, per batch and in one transaction."""
    results = []
    for label, batch in (("driver", args.batch_size), ("driver-one", args.messages)):
        copy = database.fresh(f"driver_{label.replace('-', '_')}_{os.getpid()}")
        postgres = database.kind == "postgres"
        rows = driver_rows(copy, args, postgres)
        connection = copy.connect()
        if not postgres:
            connection.executescript(SQLITE_PRAGMAS)
        started = time.perf_counter()
        for first in range(0, len(rows), batch):
            insert_batch(connection, rows[first : first + batch], postgres)
        seconds = time.perf_counter() - started
        stored = count_rows(connection, "energy_reading")
        connection.close()
        results.append(Result(label, len(rows), stored, seconds))
    return results


def insert_batch(connection, rows: list[tuple], postgres: bool) -> None:
    columns = ", ".join(READING_COLUMNS)
    if postgres:
        sql = f"COPY energy_reading ({columns}) FROM STDIN"
        with connection.transaction(), connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" * len(READING_COLUMNS))
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO energy_reading ({columns}) VALUES ({placeholders})", rows)
    connection.execute("COMMIT")


# --- The bridge ------------------------------------------------------------------------


class Bridge:
    """`manage.py mqtt_bridge` in a subprocess on the site's environment `env`."""

    def __init__(self, env: dict[str, str], log_path: Path, *options: str):
        self.log_path = log_path
        command = [sys.executable, "manage.py", "mqtt_bridge", *options]
        with open(log_path, "ab") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def processes(self) -> list[int]:
        """The bridge and its children (the receiver, multiprocessing's resource tracker)."""
        return [self.pid, *descendants(self.pid)]

    def peak_rss_parts(self) -> str:
        return " + ".join(f"{proc_status_kb(pid, 'VmHWM') / 1024:.0f}" for pid in self.processes())

    def peak_rss_mb(self) -> float | None:
        """VmHWM, the most resident memory a process ever had, summed over the bridge's
        processes."""
        return sum(proc_status_kb(pid, "VmHWM") for pid in self.processes()) / 1024

    def wait_until_listening(self, broker_url: str, copy: Copy, timeout: float = 60) -> float:
        """Until the bridge has subscribed: a status message of the probe meter makes a round
        trip to the database. Returns the seconds it took from start."""
        started = time.monotonic()
        connection = copy.connect()
        client = mqtt_client(f"bench-probe-{os.getpid()}", clean=True)
        client.connect(*broker_address(broker_url))
        client.loop_start()
        try:
            while time.monotonic() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mqtt_bridge exited:\n{self.output()[-3000:]}")
                client.publish(STATUS_TOPIC.format(PROBE_DEVICE), "online", qos=1)
                time.sleep(0.25)
                state = connection.execute(
                    "SELECT link_state FROM energy_node WHERE device_id = "
                    + ("%s" if copy.target.startswith("postgres") else "?"),
                    (PROBE_DEVICE,),
                ).fetchone()
                if state and state[0] == "online":
                    return time.monotonic() - started
            raise TimeoutError(f"mqtt_bridge did not subscribe:\n{self.output()[-3000:]}")
        finally:
            client.disconnect()
            client.loop_stop()
            connection.close()

    def stop(self) -> tuple[float, int]:
        """SIGTERM, as a service manager would; returns (seconds to exit, exit code)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return time.monotonic() - started, code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(child) for child in (task / "children").read_text().split()]
    return [grandchild for child in children for grandchild in [child, *descendants(child)]]


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class CpuClock:
    """CPU seconds (user + system) processes use from now on; an entry may be a list of pids
    (the bridge's processes), counted together."""

    def __init__(self, *pids: int | list[int]):
        self.pids = [pid if isinstance(pid, list) else [pid] for pid in pids]
        self.start = [self.seconds(group) for group in self.pids]

    @staticmethod
    def seconds(pids: list[int]) -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    def used(self, names: tuple[str, ...]) -> dict[str, float]:
        return {
            name: self.seconds(group) - before
            for name, group, before in zip(names, self.pids, self.start, strict=True)
        }


def cpu_seconds(pid: int, thread: str = "") -> float:
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int, since: dict | None = None) -> dict[str, float]:
    """CPU seconds of the bridge's main thread (parsing and ingest), its other threads, and
    its child processes (the receiver: paho), minus `since`."""
    totals = {"main": 0.0, "other": 0.0, "receiver": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        kind = "main" if task.name == str(pid) else "other"
        totals[kind] += cpu_seconds(pid, task.name)
    totals["receiver"] = sum(cpu_seconds(child) for child in descendants(pid))
    return {kind: seconds - (since or {}).get(kind, 0.0) for kind, seconds in totals.items()}


def start_profiler(pid: int, directory: str, name: str) -> subprocess.Popen | None:
    if not directory:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    Path(directory).mkdir(parents=True, exist_ok=True)
    output = Path(directory) / f"{name}.txt"
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--threads",
        "--format",
        "raw",
        "-o",
        str(output),
    ]
    log(f"profiling the bridge into {output}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


CREATE_RULES = """
from energy.models import AlertRule, Node
kinds = [("power", "above", 9e6), ("voltage", "outside", 100.0), ("current", "above", 9e3),
         ("frequency", "below", 41.0), ("power_factor", "below", 0.01)]
rules = []
for node in Node.objects.all():
    for n in range({rules}):
        magnitude, comparison, threshold = kinds[n % len(kinds)]
        rules.append(AlertRule(owner_id=node.owner_id, node=node, name=f"r{{n}}",
            kind="threshold", magnitude=magnitude, comparison=comparison, threshold=threshold,
            threshold_high=900.0 if comparison == "outside" else None, duration=300))
AlertRule.objects.bulk_create(rules)
print(len(rules))
"""


def run_bridge(database: Database, args: argparse.Namespace, rules: int = 0) -> Result:
    copy = database.fresh(f"bridge_{os.getpid()}_{rules}")
    if rules:  # thresholds the telemetry never crosses: every reading judged, no alerts
        made = manage(copy.env, "shell", "-c", CREATE_RULES.format(rules=rules)).split()[-1]
        log(f"  {made} alert rules ({rules} per node)")
    broker = Broker(args.broker_queue).start()
    log_path = Path(tempfile.mkstemp(prefix="flowsuite-bench-bridge-", suffix=".log")[1])
    options = ["--batch-size", str(args.batch_size), "--flush-interval", str(args.flush_interval)]
    bridge = Bridge({**copy.env, "MQTT_URL": broker.url}, log_path, *options)
    try:
        ready = bridge.wait_until_listening(broker.url, copy)
        log(f"  the bridge listens ({ready:.1f} s after its start)")
        profiler = start_profiler(bridge.pid, args.profile, f"bridge-{database.kind}")
        connection = copy.connect()
        start = telemetry_start(args.messages, args.nodes)
        sender = publisher(broker, args.messages, args, start)
        cpu = CpuClock(bridge.processes(), broker.process.pid, sender.process.pid)
        threads = thread_cpu_seconds(bridge.pid)
        sender.tell("go")
        rows, finished = wait_for_rows(connection, "energy_reading", args.messages, sender)
        done = sender.wait_for("done", timeout=60)
        result = Result("bridge", args.messages, rows, finished - done["first"])
        result.cpu = cpu.used(("bridge", "mosquitto", "publisher"))
        result.threads = thread_cpu_seconds(bridge.pid, since=threads)
        result.publisher = done
        result.rss_mb = bridge.peak_rss_mb()
        result.rss_parts = bridge.peak_rss_parts()
        stop_seconds, code = bridge.stop()
        result.note = f"exit {code} in {stop_seconds:.1f} s"
        if profiler:
            profiler.wait(timeout=60)
        connection.close()
        sender.stop()
        report_bridge_log(bridge)
        return result
    finally:
        bridge.kill()
        broker.cleanup()
        log_path.unlink(missing_ok=True)


def report_bridge_log(bridge: Bridge) -> None:
    lines = bridge.output().splitlines()
    errors = [line for line in lines if "ERROR" in line or "Traceback" in line]
    counters = [line for line in lines if "INFO" in line][-2:]
    for line in counters:
        log(f"  bridge: {line[:200]}")
    if errors:
        log(f"  bridge log: {len(errors)} error line(s), e.g. {errors[0][:300]}")


# --- Figures ---------------------------------------------------------------------------


def run_database(kind: str, args: argparse.Namespace) -> tuple[str, dict[str, Result]]:
    database = SQLite() if kind == "sqlite" else PostgreSQL()
    try:
        label = database.label()
        log(f"{label}: migrating a template database with {args.nodes} nodes")
        database.prepare(args.nodes)
        results: dict[str, Result] = {}
        only = set(args.only.split(","))
        if "receive" in only:
            log(f"{label}: (b) receive only, {args.messages:,} messages")
            results["receive"] = run_receive(args)
        if "seed" in only:
            log(f"{label}: (a) the seeds' way, {min(args.seed_messages, args.messages):,}")
            results["seed"] = run_seed(database, args)
            if database.kind == "sqlite":
                log(f"{label}: (a) the same with the site's PRAGMAs (WAL, synchronous=NORMAL)")
                results["seed-wal"] = run_seed(database, args, wal=True)
        if "driver" in only:
            log(f"{label}: (c) the driver's insert ceiling")
            for result in run_driver(database, args):
                results[result.case] = result
        if "bridge" in only:
            log(f"{label}: the bridge, {args.messages:,} messages")
            results["bridge"] = run_bridge(database, args)
            if args.rules:
                log(f"{label}: the bridge with {args.rules} alert rules per node")
                results["bridge-rules"] = run_bridge(database, args, rules=args.rules)
        return label, results
    finally:
        database.cleanup()


def rate(result: Result | None) -> str:
    if result is None:
        return "-"
    if not result.seconds:
        return "did not finish"
    return f"{result.rate:,.0f}/s"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


WIDTH = 24
RATE_ROWS = [
    ("bridge: manage.py mqtt_bridge", "bridge"),
    ("    the same, with alert rules per node", "bridge-rules"),
    ("(a) the seeds' way: INSERT + commit", "seed"),
    ("    the same, WAL + synchronous=NORMAL", "seed-wal"),
    ("(b) receive ceiling: paho, parse only", "receive"),
    ("(c) driver ceiling: commit per batch", "driver"),
    ("    the same in one transaction", "driver-one"),
]


def print_results(columns: list[tuple[str, dict[str, Result]]], args: argparse.Namespace) -> None:
    print(
        f"\n== Ingest: {args.messages:,} telemetry messages from {args.nodes} meters (QoS 1, "
        f"Mosquitto), rows committed per second, first publish to last row"
    )
    line("", lambda results, label: label, columns)
    for title, case in RATE_ROWS:
        line(title, lambda results, label, case=case: rate(results.get(case)), columns)
    print()
    for title, fn in DETAILS:
        line(title, lambda results, label, fn=fn: cell(results.get("bridge"), fn), columns)
    line("(b) receiver CPU s", lambda r, label: cell(r.get("receive"), cpu("receiver")), columns)
    print("\n  targets")
    for title, fn in TARGETS:
        line(title, lambda results, label, fn=fn: fn(results), columns)
    print_notes(columns, args)


def line(title: str, fn, columns) -> None:
    print(
        f"  {title:<40}" + "".join(f"{fn(results, label):>{WIDTH}}" for label, results in columns)
    )


def cell(result: Result | None, fn) -> str:
    return "-" if result is None else fn(result)


def cpu(name: str):
    return lambda result: f"{result.cpu.get(name, 0):.1f}"


def bridge_cpu(result: Result) -> str:
    split = " + ".join(f"{seconds:.1f}" for seconds in result.threads.values())
    return f"{result.cpu['bridge']:.1f} ({split})"


DETAILS = [
    ("bridge: rows stored / sent", lambda r: f"{r.stored:,} / {r.sent:,}"),
    ("bridge: seconds", lambda r: f"{r.seconds:.1f} s"),
    (
        "publisher: all written / acknowledged",
        lambda r: (
            f"{r.publisher['handed'] - r.publisher['first']:.1f} s / "
            f"{r.publisher['acked_at'] - r.publisher['first']:.1f} s"
        ),
    ),
    ("bridge CPU s (main + other threads + receiver)", bridge_cpu),
    ("mosquitto CPU s", cpu("mosquitto")),
    ("bridge: stopped by SIGTERM", lambda r: r.note),
    ("bridge peak RSS MB per process", lambda r: r.rss_parts or "-"),
]


def ratio_target(case: str, target: float, percent: bool):
    def check(results: dict[str, Result]) -> str:
        bridge, other = results.get("bridge"), results.get(case)
        if not (bridge and other and bridge.rate and other.rate):
            return "-"
        value = bridge.rate / other.rate
        shown = f"{value:.0%}" if percent else f"{value:.1f}x"
        return f"{shown} {verdict(value >= target)}"

    return check


def lost_target(results: dict[str, Result]) -> str:
    bridge = results.get("bridge")
    return "-" if bridge is None else f"{bridge.lost:,} {verdict(bridge.lost == 0)}"


def rss_target(results: dict[str, Result]) -> str:
    bridge = results.get("bridge")
    if bridge is None or bridge.rss_mb is None:
        return "-"
    return f"{bridge.rss_mb:.0f} MB {verdict(bridge.rss_mb < RSS_TARGET_MB)}"


TARGETS = [
    (
        f"bridge >= {BRIDGE_VS_RECEIVE_TARGET:.0%} of (b)",
        ratio_target("receive", BRIDGE_VS_RECEIVE_TARGET, percent=True),
    ),
    (
        f"bridge >= {BRIDGE_VS_SEED_TARGET:g}x (a)",
        ratio_target("seed", BRIDGE_VS_SEED_TARGET, percent=False),
    ),
    ("messages lost = 0", lost_target),
    (f"bridge peak RSS (VmHWM) < {RSS_TARGET_MB} MB", rss_target),
    ("with rules >= 80% of without (issue 7)", lambda results: rules_target(results)),
]


def rules_target(results: dict[str, Result]) -> str:
    bridge, ruled = results.get("bridge"), results.get("bridge-rules")
    if not (bridge and ruled and bridge.rate and ruled.rate):
        return "-"
    value = ruled.rate / bridge.rate
    return f"{value:.0%} {verdict(value >= 0.8)}"


def print_notes(columns, args: argparse.Namespace) -> None:
    seed = min(args.seed_messages, args.messages)
    print(
        f"\n  (a) over {seed:,} messages (--seed-messages); plain sqlite3.connect() is a rollback"
        f"\n      journal with synchronous=FULL, an fsync per commit, as the seeds ran it."
        f"\n  (c) commits every {args.batch_size:,} rows (--batch-size, the bridge's too)."
        f"\n  Broker: Mosquitto's defaults but max_queued_messages {args.broker_queue:,}; the"
        f"\n  publisher keeps {args.inflight:,} messages in flight (--inflight)."
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        {"publish": child_publish, "receive": child_receive, "seed": child_seed}[args.child](args)
        return
    args.broker_queue = args.broker_queue or args.messages
    started = time.perf_counter()
    columns = [run_database(kind.strip(), args) for kind in args.databases.split(",")]
    print_results(columns, args)
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
