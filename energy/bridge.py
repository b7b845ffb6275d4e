"""The MQTT bridge: meters' messages from the broker into the one ingest service.

Two processes. The receiver (energy.receiver, a child process) runs paho: it
reads the socket, acknowledges each QoS 1 message and sends (topic, payload, received time) to
the bridge in chunks over a pipe. The bridge's reader thread queues them; its main thread
parses them and hands them to `ingest()` in batches of what has arrived, at most `batch_size`,
at least every `flush_interval` seconds. Receiving and storing each get a core: in one process
they took turns under one GIL. The subscription is QoS 1 on a persistent session (a stable
client id, clean session off), so what meters publish while the bridge restarts is kept by the
broker and delivered when it returns; the ingest service drops re-deliveries.

Topics (see the README):
    flowsuite/energy/<device_id>/telemetry   JSON object of magnitudes, optional "ts"
    flowsuite/energy/<device_id>/status      "online" / "offline" (retained; the last will)
    energy/consumption                       a bare number in kW (the older seed), mapped
                                             to the node ENERGY_LEGACY_DEVICE_ID
"""

import contextlib
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection

from flowsuite import live
from flowsuite.mqtt import Broker

from . import ingest, nodes, receiver, worker

log = logging.getLogger("energy.bridge")

TELEMETRY = "flowsuite/energy/+/telemetry"
STATUS = "flowsuite/energy/+/status"
LEGACY = "energy/consumption"
MAX_PAYLOAD = 8 * 1024
RETRY_DELAYS = (0.5, 1, 2, 5, 10, 30)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The receiver sends a chunk at this many messages, or after LINGER seconds.
CHUNK = 500
LINGER = 0.005
SWITCH_INTERVAL = 0.0005  # seconds; see Bridge.run
# A refused message is logged once per reason per this many seconds, with the count since.
REFUSAL_LOG_INTERVAL = 60.0


# Reasons that differ only in their numbers ("voltage 1500 is outside 0..1000 V") are one.
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


class RefusalLog:
    """Refusals counted by reason and logged one line per reason per interval: the first at
    once, then, once the interval is over, how many more there were (a broken meter sending
    ten messages a second must not write ten lines a second). Reasons that differ only in
    their numbers count as one, under the first one's words."""

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.totals: Counter = Counter()
        self._reasons: dict[str, str] = {}  # the reason without its numbers -> as first seen
        self._unlogged: Counter = Counter()
        self._quiet_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def refused(self, reason: str, where: str = "", *, traceback: bool = False) -> None:
        reason = self._reasons.setdefault(_NUMBER.sub("#", reason), reason)
        with self._lock:
            self.totals[reason] += 1
            now = self.clock()
            if now < self._quiet_until.get(reason, -1.0):
                self._unlogged[reason] += 1
                return
            self._quiet_until[reason] = now + self.interval
            more = self._unlogged.pop(reason, 0)
        where = f" ({where})" if where else ""
        if more:
            log.warning(
                "bridge: refused %d more message(s)%s: %s",
                more + 1,
                where,
                reason,
                exc_info=traceback,
            )
        else:
            log.warning(
                "bridge: refused a message%s: %s (more are counted for %g s)",
                where,
                reason,
                self.interval,
                exc_info=traceback,
            )

    def flush(self, *, everything: bool = False) -> None:
        """Log the counts of reasons whose interval is over (all of them: `everything`)."""
        with self._lock:
            now = self.clock()
            due = [
                (reason, count)
                for reason, count in self._unlogged.items()
                if everything or now >= self._quiet_until[reason]
            ]
            for reason, _count in due:
                del self._unlogged[reason]
                self._quiet_until[reason] = now + self.interval
        for reason, count in due:
            log.warning("bridge: refused %d more message(s): %s", count, reason)

    def summary(self) -> str:
        with self._lock:
            return "; ".join(f"{count} {reason}" for reason, count in self.totals.most_common())


class Bridge:
    def __init__(
        self,
        broker: Broker,
        *,
        batch_size: int = 2000,
        flush_interval: float = 0.02,
        stats_interval: float = 60.0,
        client_id: str = "",
        share_group: str = "",
        legacy_device_id: str = "",
        worker_interval: float = 0,
    ):
        self.broker = broker
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.stats_interval = stats_interval
        self.share_group = share_group
        self.legacy_device_id = legacy_device_id
        self.worker_interval = worker_interval
        self.client_id = client_id or f"{settings.MQTT_CLIENT_ID_PREFIX}-energy-bridge"
        # Messages held in memory, at most: past it the receiver stops reading the socket
        # and the broker keeps the rest.
        self.backlog = 2 * batch_size
        self.counters: Counter = Counter()
        self.refusals = RefusalLog()
        self.subscribed = threading.Event()
        self._pending: list[tuple[str, bytes, float]] = []
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def topics(self) -> list[str]:
        topics = [TELEMETRY, STATUS, LEGACY]
        if self.share_group:
            topics = [f"$share/{self.share_group}/{topic}" for topic in topics]
        return topics

    # --- the receiver process and the reader thread -----------------------------------------

    def connect(self) -> None:
        """Start the receiver process (it connects, subscribes and sends what arrives) and
        the thread that queues what it sends."""
        incoming, outgoing = os.pipe()
        subscription = receiver.Subscription(
            self.broker,
            self.client_id,
            tuple(self.topics()),
            mqtt_v5=bool(self.share_group),
            chunk=CHUNK,
            linger=LINGER,
            backlog=2 * CHUNK,
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", "energy.receiver", str(outgoing)],
            stdin=subprocess.PIPE,
            pass_fds=[outgoing],
            cwd=PROJECT_ROOT,
        )
        os.close(outgoing)
        self._process.stdin.write(subscription.to_json().encode() + b"\n")
        self._process.stdin.flush()
        self._reader = threading.Thread(
            target=self._read, args=(Connection(incoming, writable=False),), daemon=True
        )
        self._reader.start()

    def disconnect(self) -> None:
        """Stop the receiver and take in everything it still holds."""
        self._stop.set()
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):  # it is gone already
            process.stdin.write(b"stop\n")
            process.stdin.close()
        while self._reader.is_alive():
            self._reader.join(0.05)
            self.flush()  # what it forwards while stopping may exceed the backlog
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _read(self, incoming: Connection) -> None:
        try:
            while True:
                event = incoming.recv()
                if event[0] == "messages":
                    self._queue(event[1])
                elif event[0] == "stopped":
                    return
                else:
                    self._on_connection_event(*event)
        except (EOFError, OSError):
            if not self._stop.is_set():
                log.error("bridge: the receiver process is gone")
        finally:
            incoming.close()
            self.subscribed.clear()

    def _queue(self, messages: list) -> None:
        with self._lock:
            while len(self._pending) >= self.backlog and not self._stop.is_set():
                self._lock.wait(0.5)
            self._pending += messages
            waiting = len(self._pending)
        if waiting >= self.batch_size:
            self._wake.set()

    def _on_connection_event(self, kind: str, *details) -> None:
        if kind == "connected":
            session = "resumed" if details[0] else "new"
            log.info("bridge: connected to %s (session %s)", self.broker, session)
        elif kind == "subscribed":
            log.info("bridge: subscribed to %s with QoS 1", ", ".join(self.topics()))
            self.subscribed.set()
        elif kind == "refused":
            log.error("bridge: broker %s refused the connection: %s", self.broker, details[0])
        elif kind == "disconnected":
            self.subscribed.clear()
            if not self._stop.is_set():
                self.counters["disconnects"] += 1
                log.warning(
                    "bridge: disconnected from %s (%s); reconnecting", self.broker, details[0]
                )

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    # --- the bridge's main thread ------------------------------------------------------------

    def run(self) -> None:
        """Connect and process messages until stop(); flushes what it holds before returning.

        Two stages: this thread parses and checks a batch while the writer thread stores the
        previous one (waiting on the database, it leaves the CPU to the parsing)."""
        # The live sender's thread waits on Redis between short steps, and each step waits
        # for the GIL while ingest runs: at Python's 5 ms switch interval, a live event took
        # several of them to leave. 0.5 ms keeps it moving for little overhead.
        sys.setswitchinterval(SWITCH_INTERVAL)
        live.start_sender_loop()
        self.connect()
        background = None
        if self.worker_interval:
            background = worker.Worker(self.worker_interval)
            background.start()
        prepared: queue.Queue = queue.Queue(maxsize=1)
        writer = threading.Thread(target=self._write, args=(prepared,), name="bridge-writer")
        writer.start()
        next_stats = time.monotonic() + self.stats_interval
        try:
            while not self._stop.is_set():
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                for messages in self._take_batches():
                    prepared.put(self._prepare(messages))
                self.refusals.flush()
                if time.monotonic() >= next_stats:
                    self.log_stats()
                    next_stats = time.monotonic() + self.stats_interval
        finally:
            prepared.put(None)
            writer.join()
            if background:
                background.stop()
            self.disconnect()
            self.flush()
            live.stop_sender_loop()
            self.refusals.flush(everything=True)
            self.log_stats()
            log.info("bridge: stopped")

    def _write(self, prepared: queue.Queue) -> None:
        try:
            while (batch := prepared.get()) is not None:
                try:
                    self._store(batch)
                except Exception:  # the next batch must still be stored
                    log.exception("bridge: could not store a batch")
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def flush(self) -> None:
        """Store what is waiting, here and now, at most batch_size at a time."""
        for messages in self._take_batches():
            self.process(messages)

    def _take_batches(self):
        while True:
            with self._lock:
                messages = self._pending[: self.batch_size]
                del self._pending[: self.batch_size]
                self._lock.notify_all()
            if not messages:
                return
            yield messages

    def process(self, messages: list[tuple[str, bytes, float]]) -> None:
        """Parse, check and store messages, here and now."""
        self._store(self._prepare(messages))

    def _prepare(self, messages: list[tuple[str, bytes, float]]):
        """The messages parsed and checked, without the database: (readings, statuses)."""
        readings, statuses = [], []
        for topic, payload, received in messages:
            self.counters["received"] += 1
            try:
                parsed = self._parse(topic, payload, received)
            except Exception:  # a bug, not the payload's fault: still not the bridge's end
                self._internal(topic)
                continue
            if parsed is None:
                continue
            kind, device_id, data = parsed
            (statuses if kind == "status" else readings).append((device_id, data))
        if not readings:
            return None, statuses
        try:
            return ingest.prepare(readings), statuses
        except Exception:  # find the reading at fault and check the others again without it
            sound = []
            for reading in readings:
                try:
                    ingest.prepare([reading])
                except Exception:
                    self._internal(f"from {reading[0]!r}")
                else:
                    sound.append(reading)
            return (ingest.prepare(sound) if sound else None), statuses

    def _internal(self, where: str) -> None:
        self.counters["internal"] += 1
        self.refusals.refused("internal error", where, traceback=True)

    def _store(self, prepared) -> None:
        readings, statuses = prepared
        if readings:
            self._ingest(readings)
        for device_id, (state, at) in statuses:
            self._with_retries(lambda d=device_id, s=state, a=at: self._set_link_state(d, s, a))

    def _parse(self, topic: str, payload: bytes, received: float):
        """("telemetry" | "status", device_id, data), or None for a rejected message."""
        if len(payload) > MAX_PAYLOAD:
            return self._malformed(topic, f"payload larger than {MAX_PAYLOAD} bytes")
        if topic == LEGACY:
            return self._parse_legacy(payload, received)
        parts = topic.split("/")
        if len(parts) != 4:
            return self._malformed(topic, "unexpected topic")
        device_id, kind = parts[2], parts[3]
        if kind == "status":
            state = payload.decode("utf-8", "replace").strip().strip('"').lower()
            if state not in ("online", "offline"):
                return self._malformed(topic, "status is neither online nor offline")
            return "status", device_id, (state, datetime.fromtimestamp(received, UTC))
        try:
            data = ingest.parse_json(payload, max_bytes=MAX_PAYLOAD)
        except ingest.Reject as reason:
            return self._malformed(topic, str(reason))
        if not isinstance(data, dict):
            return self._malformed(topic, "not a JSON object")
        data.setdefault("ts", received)
        return "telemetry", device_id, data

    def _parse_legacy(self, payload: bytes, received: float):
        if not self.legacy_device_id:
            return self._malformed(LEGACY, "ENERGY_LEGACY_DEVICE_ID is not set")
        try:
            kilowatts = float(payload.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            return self._malformed(LEGACY, "not a number of kW")
        return "telemetry", self.legacy_device_id, {"power": kilowatts * 1000, "ts": received}

    def _malformed(self, topic: str, reason: str) -> None:
        self.counters["malformed"] += 1
        self.refusals.refused(reason, topic)
        return None

    def _ingest(self, readings: "ingest.Prepared") -> None:
        result = self._with_retries(lambda: ingest.store(readings, source="mqtt"))
        if result is None:
            self.counters["failed"] += len(readings.messages)
            return
        self.counters["stored"] += result.accepted
        self.counters["duplicates"] += result.duplicates
        self.counters["ignored_fields"] += result.ignored_fields
        self.counters["flushes"] += 1
        for rejection in result.rejected:
            key = "unknown_device" if rejection.reason == "unknown device" else "rejected"
            self.counters[key] += 1
            self.refusals.refused(rejection.reason, f"from {rejection.device_id!r}")

    def _set_link_state(self, device_id: str, state: str, at: datetime) -> None:
        if nodes.set_link_state(device_id, state, at) is None:
            self.counters["unknown_device"] += 1
            log.warning("bridge: status %s from unknown device %r", state, device_id)
        else:
            self.counters["status"] += 1
            log.info("bridge: %s is %s", device_id, state)

    def _with_retries(self, work):
        """Run `work`; while the database is unreachable, retry with backoff (the batch is
        kept, not lost). Any other error is logged and the batch counted as failed."""
        # The connection is kept from batch to batch (closed on a database error below):
        # close_old_connections() closed it after each one where CONN_MAX_AGE is 0.
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                return work()
            except IntegrityError:
                log.exception("bridge: could not store a batch")
                return None
            except DatabaseError as error:
                connection.close()
                if delay is None or self._stop.is_set() and attempt >= 2:
                    log.error("bridge: database error, giving the batch up: %s", error)
                    return None
                log.warning("bridge: database error (%s); retrying in %s s", error, delay)
                time.sleep(delay)
            except Exception:
                log.exception("bridge: could not process a batch")
                return None
        return None

    def log_stats(self) -> None:
        counts = " ".join(f"{key}={value}" for key, value in sorted(self.counters.items()))
        log.info("bridge: stats %s", counts or "nothing yet")
        if refused := self.refusals.summary():
            log.info("bridge: refused so far: %s", refused)
