"""The traffic counter's agent: one process, several cameras.

Each camera has a thread of its own (`CameraWorker`) with its source, its device key, its
configuration pulled from the site, its `edge.traffic.Counter`, its `Intervals` and its on-disk
outbox (`edge.outbox.Outbox`, one SQLite file per camera, delivered by `edge.uploader.Sender`),
plus a `TrafficLink` thread for heartbeats, configuration reloads and snapshots. A camera whose
key is refused or whose server is slow holds up no other camera.

Intervals are aligned to the wall clock (UTC): with 5-minute intervals, 10:00-10:05, 10:05-10:10.
Each is closed at its end and posted even when nothing was counted, with the health of the
camera over it (fps, frames, dropped frames, seconds without frames): zero vehicles and no
picture at all must look different to an analyst. The first interval after a start and the last
one before a stop are posted with their real start or end and `"partial": true`.

Beside the plain snapshot, the link sends what the counter sees (`CounterView`: its processing
frame with its lines, tracks and counts drawn) for the site's line editor. What the counter
learns of the camera (how large a car is there: `counter.calibration`) is kept in the state
folder at each closed interval and at the stop, and taken up again at the next start.
"""

import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import __version__
from .client import ApiError, Server
from .outbox import Entry, Outbox
from .uploader import FrameTap, Sender, encode_frame

log = logging.getLogger("edge.traffic_agent")

CONFIG_PATH = "/api/traffic/device/config/"
COUNTS_PATH = "/api/traffic/device/counts/"
HEARTBEAT_PATH = "/api/traffic/device/heartbeat/"
SNAPSHOT_PATH = "/api/traffic/device/snapshot/"

# A pause between two frames longer than this is a gap in the interval's health.
GAP_SECONDS = 1.0
# With no frame for this long, intervals are closed by the wall clock (a dead camera still
# reports its empty intervals, and their gaps, on time).
IDLE_CLOSE_SECONDS = 2.0
MAX_CONFIG_RETRY = 30.0
SNAPSHOT_RETRY = 30.0
MAX_SNAPSHOT_BYTES = 1024 * 1024
# A kept calibration is a few kilobytes: a larger file is not one.
MAX_CALIBRATION_BYTES = 1024 * 1024


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def aligned_start(at: datetime, length: float) -> datetime:
    """The start of the wall-clock interval of `length` seconds that holds `at` (UTC)."""
    seconds = at.timestamp()
    return datetime.fromtimestamp(math.floor(seconds / length) * length, UTC)


# --- intervals ------------------------------------------------------------------------------


@dataclass
class Report:
    """One closed interval of one camera: what is posted to the counts endpoint."""

    start: datetime
    end: datetime
    config_version: int
    counts: dict[tuple, int]  # (line id, direction, class) -> n
    movements: dict[tuple, int]  # (from line id, to line id, class) -> n
    frames: int
    dropped_frames: int
    gaps_seconds: float
    partial: bool
    key: str = field(default_factory=lambda: str(uuid.uuid4()))

    def fps(self) -> float:
        seen = (self.end - self.start).total_seconds() - self.gaps_seconds
        return round(self.frames / seen, 1) if seen > 0 else 0.0

    def payload(self) -> dict:
        return {
            "key": self.key,
            "start": self.start.isoformat(timespec="milliseconds"),
            "end": self.end.isoformat(timespec="milliseconds"),
            "config_version": self.config_version,
            "counts": [
                {"line": line, "direction": direction, "class": kind, "count": n}
                for (line, direction, kind), n in sorted(self.counts.items(), key=_sort_key)
                if n
            ],
            "movements": [
                {"from_line": first, "to_line": second, "class": kind, "count": n}
                for (first, second, kind), n in sorted(self.movements.items(), key=_sort_key)
                if n
            ],
            "health": {
                "fps": self.fps(),
                "frames": self.frames,
                "dropped_frames": self.dropped_frames,
                "gaps_seconds": round(self.gaps_seconds, 1),
                "partial": self.partial,
            },
        }


def _sort_key(item) -> tuple:
    return tuple(str(part) for part in item[0])


class Intervals:
    """Crossings and frames of one camera summed into wall-clock intervals.

    Pure bookkeeping, driven by the frames' timestamps (`frame(at)`) and, when no frame comes,
    by the wall clock (`idle(now)`); each returns the intervals it closed. A new configuration
    (`reconfigure`) takes effect at the next interval, so every report is counted under one
    configuration.
    """

    def __init__(self, *, length: float, config_version: int, started_at: datetime):
        self.length = float(length)
        self.config_version = config_version
        self._pending: tuple[int, float] | None = None
        self._open(_utc(started_at), partial=False)
        self.last_at = self.start  # the last frame, or where gaps are measured from

    def _open(self, start: datetime, *, partial: bool) -> None:
        if self._pending:
            self.config_version, self.length = self._pending
            self._pending = None
        self.start = start
        self.end = aligned_start(start, self.length) + timedelta(seconds=self.length)
        self.partial = partial or start != aligned_start(start, self.length)
        self.counts: Tally = Tally()
        self.movements: Tally = Tally()
        self.frames = 0
        self.dropped = 0
        self.gaps = 0.0

    def reconfigure(self, *, config_version: int, length: float) -> None:
        """From the next interval on: a new config version and interval length (seconds)."""
        self._pending = (config_version, float(length))

    def frame(self, at: datetime, dropped: int = 0) -> list[Report]:
        """A frame was read at `at` (`dropped` frames were skipped before it)."""
        at = max(_utc(at), self.start)  # a late frame counts in the open interval
        is_gap = (at - self.last_at).total_seconds() > GAP_SECONDS
        closed = self._close_until(at, gap=is_gap)
        if is_gap:
            self.gaps += (at - self.last_at).total_seconds()
        self.frames += 1
        self.dropped += dropped
        self.last_at = at
        return closed

    def idle(self, now: datetime) -> list[Report]:
        """No frame came for a while: close the intervals that ended more than
        IDLE_CLOSE_SECONDS before `now`, their silence counted as gaps."""
        now = _utc(now)
        if (now - self.last_at).total_seconds() < IDLE_CLOSE_SECONDS:
            return []
        return self._close_until(now - timedelta(seconds=IDLE_CLOSE_SECONDS), gap=True)

    def count(self, line, direction: str, vehicle_class: str, n: int = 1) -> None:
        self.counts[(line, direction, vehicle_class)] += n

    def count_movement(self, first, second, vehicle_class: str, n: int = 1) -> None:
        self.movements[(first, second, vehicle_class)] += n

    def finish(self, at: datetime) -> list[Report]:
        """Stop at `at`: the intervals before it, then the open one up to `at`, partial."""
        at = max(_utc(at), self.last_at)
        closed = self._close_until(at, gap=(at - self.last_at).total_seconds() > GAP_SECONDS)
        if at > self.start or self.frames:
            if (at - self.last_at).total_seconds() > GAP_SECONDS:
                self.gaps += (at - self.last_at).total_seconds()
            closed.append(self._report(at, partial=True))
        return closed

    def _close_until(self, at: datetime, *, gap: bool) -> list[Report]:
        closed = []
        while at >= self.end:
            if gap:
                self.gaps += (self.end - max(self.last_at, self.start)).total_seconds()
            closed.append(self._report(self.end, partial=self.partial))
            self._open(self.end, partial=False)
            self.last_at = self.start
        return closed

    def _report(self, end: datetime, *, partial: bool) -> Report:
        length = (end - self.start).total_seconds()
        return Report(
            start=self.start,
            end=end,
            config_version=self.config_version,
            counts=dict(self.counts),
            movements=dict(self.movements),
            frames=self.frames,
            dropped_frames=self.dropped,
            gaps_seconds=min(self.gaps, length),
            partial=partial or length < self.length,
        )


# --- configuration --------------------------------------------------------------------------


def counter_inputs(config: dict) -> tuple[list, object]:
    """The `edge.traffic` lines and settings of the server's camera config."""
    from .traffic import CounterSettings, lines_from_config

    return lines_from_config(config), CounterSettings.from_config(config)


def frame_size(config: dict) -> tuple[int, int]:
    # The lines, masks and areas are in the pixels of this frame size; the Counter scales
    # them to the frames the camera really gives.
    return int(config.get("width") or 640), int(config.get("height") or 480)


def make_counter(config: dict):
    from .traffic import Counter

    lines, settings = counter_inputs(config)
    return Counter(lines, settings, frame_size=frame_size(config))


# --- frames ---------------------------------------------------------------------------------

END = object()


class FrameFeed:
    """Frames for the counter from an iterator of (frame, timestamp).

    `latest_only` (cameras, streams, a file played at its own pace): a reader thread keeps only
    the newest frame, so a counter slower than the camera skips frames (counted as dropped)
    instead of falling further and further behind. Otherwise (`--fast` files, tests) every
    frame in turn, none dropped.
    """

    def __init__(self, frames: Iterable, *, latest_only: bool):
        self.frames = iter(frames)
        self.latest_only = latest_only
        self.error: BaseException | None = None
        if latest_only:
            self._ready = threading.Condition()
            self._newest = None  # (frame, at, number read)
            self._ended = False
            self._taken = 0
            self._stopping = threading.Event()
            threading.Thread(target=self._reader, name="edge-frames", daemon=True).start()

    def next(self, timeout: float):
        """(frame, at, dropped), None if no frame came within `timeout`, or END."""
        if not self.latest_only:
            item = next(self.frames, END)
            return item if item is END else (*item, 0)
        with self._ready:
            self._ready.wait_for(lambda: self._newest is not None or self._ended, timeout)
            item, self._newest = self._newest, None
            if item is None:
                return END if self._ended else None
        frame, at, number = item
        dropped, self._taken = number - self._taken - 1, number
        return frame, at, dropped

    def close(self) -> None:
        if self.latest_only:
            self._stopping.set()
        else:
            _close(self.frames)

    def _reader(self) -> None:
        read = 0
        try:
            for frame, at in self.frames:
                if self._stopping.is_set():
                    break
                read += 1
                with self._ready:
                    self._newest = (frame, at, read)  # an untaken frame is dropped
                    self._ready.notify()
        except Exception as error:  # the camera loop reports it
            self.error = error
        finally:
            _close(self.frames)
            with self._ready:
                self._ended = True
                self._ready.notify()


def _close(iterator) -> None:
    close = getattr(iterator, "close", None)
    if close:
        with contextlib.suppress(ValueError):  # a generator running in another thread
            close()


# --- what the counter sees ------------------------------------------------------------------


class CounterView:
    """The counter's observer: what it sees, drawn (`edge.traffic.annotate.Annotator`) only
    when asked for, since drawing a frame costs most of what counting it does. `ask()` (from
    the link) has the next `frames` counted frames drawn, so that each vehicle's path is in
    the picture; then `on_ready` is called and `take()` gives the picture once. Between, only
    the running counts the picture shows are kept."""

    def __init__(self, on_ready: Callable[[], None] = lambda: None, frames: int | None = None):
        from .traffic.annotate import PATH_POINTS

        self.annotator = None
        self.frames = frames or PATH_POINTS
        self.on_ready = on_ready
        self.drawn = 0
        self._counter = None
        self._asked = threading.Event()
        self._left = 0
        self._lock = threading.Lock()
        self._ready = None

    def ask(self) -> None:
        self._asked.set()

    def take(self):
        """The picture drawn since the last `take()` (a BGR array), or None."""
        with self._lock:
            picture, self._ready = self._ready, None
        return picture

    def observe(self, frame, index: int, counter, crossings) -> None:
        if counter is not self._counter:  # a new counter (a new frame size): new tracks
            self.follow(counter)
        if self._asked.is_set():
            self._asked.clear()
            self._left = self.frames
        if not self._left:
            for crossing in crossings:
                key = (crossing.line, crossing.direction, crossing.vehicle_class)
                self.annotator.counts[key] += 1
            return
        self.annotator.observe(frame, index, counter, crossings)
        self.drawn += 1
        self._left -= 1
        if not self._left:
            with self._lock:
                self._ready = self.annotator.last
            self.on_ready()

    def follow(self, counter) -> None:
        from .traffic.annotate import Annotator

        previous, self.annotator, self._counter = self.annotator, Annotator(None), counter
        if previous is not None:  # the running counts go on
            self.annotator.counts = previous.counts


# --- one camera -----------------------------------------------------------------------------


@dataclass
class CameraSpec:
    """A camera the process runs: its device key and, unless the site's config says it, its
    source (a camera index, a file, an rtsp:// URL, or any iterable of (frame, timestamp))."""

    key: str
    source: object = None


def deliver_report(server: Server, entry: Entry) -> dict:
    return server.request("POST", COUNTS_PATH, json.loads(entry.fields["body"]))


def state_name(key: str) -> str:
    """A camera's file names in the state folder: from its key, without revealing it."""
    return "camera-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def write_atomically(path: Path, text: str) -> None:
    """`text` in `path`, whole or not at all (a power cut leaves the previous file)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class CameraWorker(threading.Thread):
    """One camera: config, frames, counter, intervals into the outbox; a sender and a link
    beside it. `run()` returns when the source ends or `stop` is set."""

    def __init__(
        self,
        spec: CameraSpec,
        *,
        server_url: str,
        state_dir: Path,
        stop: threading.Event,
        max_outbox_bytes: int = 200 * 1024 * 1024,
        heartbeat_every: float = 5.0,
        snapshot_every: float = 300.0,
        flush_seconds: float = 5.0,
        fast: bool = False,
        interval_seconds: float | None = None,
        counter_factory: Callable = make_counter,
        overrides: dict | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        upload_timeout: float = 30.0,
    ):
        name = state_name(spec.key)
        super().__init__(name=f"edge-{name}", daemon=True)
        self.spec = spec
        self.label = name
        self.stop_event = stop
        self.state_dir = Path(state_dir)
        self.config_file = self.state_dir / f"{name}.config.json"
        self.calibration_file = self.state_dir / f"{name}.calibration.json"
        self.outbox = Outbox(self.state_dir / f"{name}.sqlite3", max_bytes=max_outbox_bytes)
        self.server = Server(server_url, spec.key, timeout=upload_timeout)
        self.sender = Sender(
            self.outbox, self.server, send=deliver_report, name=f"edge-sender-{name}"
        )
        self.tap = FrameTap()
        self.link = TrafficLink(
            self,
            Server(server_url, spec.key, timeout=min(heartbeat_every, 5.0)),
            heartbeat_every=heartbeat_every,
            snapshot_every=snapshot_every,
        )
        self.flush_seconds = flush_seconds
        self.fast = fast
        self.interval_seconds = interval_seconds
        self.counter_factory = counter_factory
        self.overrides = overrides or {}  # local counter settings over the site's
        self.clock = clock
        self.config: dict | None = None
        self.offered: dict | None = None  # a newer config from the link, for the next interval
        self.pending_config: dict | None = None  # taken, in effect from the next interval
        self.intervals: Intervals | None = None
        self.counter = None
        self.view = CounterView(on_ready=self.link.wake)
        self.counter_version: int | None = None
        self.index = 0
        self.error: BaseException | None = None
        self.reports_kept = 0
        self.final_figures: dict | None = None

    # --- the loop ---

    def run(self) -> None:
        try:
            self.config = self.first_config()
            if self.config is None:
                return
            camera = self.config.get("camera") or {}
            if camera.get("name"):  # the logs say which camera, not which key
                self.label = f"{camera.get('intersection', '?')} · {camera['name']}"
            self.sender.start()
            self.link.start()
            self.count(self.open_feed())
        except Exception as error:
            self.error = error
            log.error("%s: %s", self.label, error)
        finally:
            self.shut_down()

    def count(self, feed: FrameFeed) -> None:
        try:
            while not self.stop_event.is_set():
                item = feed.next(timeout=0.5)
                if item is END:
                    break
                if item is None:
                    if self.intervals:
                        self.keep(self.intervals.idle(self.clock()))
                    continue
                self.on_frame(*item)
        finally:
            feed.close()
            if self.intervals:
                self.finish()
        if feed.error:
            raise feed.error

    def open_feed(self) -> FrameFeed:
        source = self.spec.source
        if source is None or source == "":
            source = self.config.get("source") or None
        if source is None:
            raise ValueError("no source: give one, or set the camera's source on the site")
        if isinstance(source, str | int | Path):
            from .motion.sources import open_source

            log.info("%s: counting on %s", self.label, source)
            frames = open_source(source, realtime=not self.fast)
            if self.fast:
                frames = ending_now(frames, _clip_seconds(source), self.clock())
            return FrameFeed(frames, latest_only=not self.fast)
        return FrameFeed(source, latest_only=False)

    def on_frame(self, frame, at: datetime, dropped: int = 0) -> None:
        if self.counter is None:
            self.start_counting(frame, at)
        self.take_offered_config()
        self.keep(self.intervals.frame(at, dropped))
        if self.counter_version != self.intervals.config_version:
            self.apply_config()
        for crossing in self.counter.process(frame, self.index, at):
            self.intervals.count(crossing.line, crossing.direction, crossing.vehicle_class)
        for first, second, vehicle_class in self.counter.movements():
            self.intervals.count_movement(first, second, vehicle_class)
        self.index += 1
        self.tap.on_frame(frame, at)

    def finish(self) -> None:
        """The source ended or a stop was asked: tracks still in view are counted, the
        partial interval is kept."""
        end = self.end_time()
        for crossing in self.counter.finish(self.index, end):
            self.intervals.count(crossing.line, crossing.direction, crossing.vehicle_class)
        reports = self.intervals.finish(end)
        self.keep(reports)
        if not reports:  # else keep() saved the calibration with them
            self.save_calibration()

    def start_counting(self, frame, at: datetime) -> None:
        if self.offered is not None:
            self.config, self.offered = self.offered, None
        height, width = frame.shape[:2]
        if frame_size(self.config) != (width, height):
            log.warning(
                "%s: the site says the camera gives %dx%d, it gives %dx%d: lines and areas "
                "are scaled; set the camera's size on the site to draw on its own pixels",
                self.label,
                *frame_size(self.config),
                width,
                height,
            )
        self.counter = self.new_counter()
        self.counter_version = self.config.get("version")
        self.intervals = Intervals(
            length=self.interval_length(self.config),
            config_version=self.counter_version,
            started_at=at,
        )

    def take_offered_config(self) -> None:
        offered, self.offered = self.offered, None
        if offered is None:
            return
        self.pending_config = offered
        self.intervals.reconfigure(
            config_version=offered.get("version"), length=self.interval_length(offered)
        )

    def apply_config(self) -> None:
        """The interval of a new config version began: the counter takes its lines."""
        resized = frame_size(self.pending_config) != frame_size(self.config)
        self.config = self.pending_config
        if resized:  # the Counter keeps the frame size it was made with
            self.counter = self.new_counter()
        else:
            lines, settings = counter_inputs(self.counter_config())
            self.counter.update(lines, settings)
        self.counter_version = self.intervals.config_version
        lines = len(self.config.get("lines", []))
        log.info(
            "%s: config version %s in effect, %d line(s)", self.label, self.counter_version, lines
        )

    def new_counter(self):
        """A counter for the config, watched by the `CounterView`, with what was learnt of
        the camera before (its calibration, when kept for the same frame size)."""
        counter = self.counter_factory(self.counter_config())
        counter.observer = self.view
        if hasattr(counter, "calibration"):
            counter.calibration = self.kept_calibration(counter.frame_size)
        return counter

    def counter_config(self) -> dict:
        return {**self.config, **self.overrides}

    # --- what the counter learnt ---

    def kept_calibration(self, size: tuple[int, int]):
        """The calibration kept in the state folder for this frame size, else a new one; a
        file that cannot be used is said in one line, never stops the camera."""
        from .traffic.classes import Calibration

        try:
            with open(self.calibration_file, "rb") as kept:
                raw = kept.read(MAX_CALIBRATION_BYTES + 1)
            if len(raw) > MAX_CALIBRATION_BYTES:
                raise ValueError("too large")
            data = json.loads(raw)
            calibration = Calibration.from_dict(data, size)
            values = [v for pair in calibration.sizes for v in pair] + list(calibration.speeds)
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError("sizes that are no sizes")
        except FileNotFoundError:
            return Calibration(size)
        except (OSError, ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as error:
            log.warning(
                "%s: the vehicle sizes kept in %s are unreadable (%s): learning them afresh",
                self.label,
                self.calibration_file.name,
                error,
            )
            return Calibration(size)
        if calibration.sizes or calibration.speeds:
            log.info(
                "%s: vehicle sizes of the last run taken up (%d vehicles)",
                self.label,
                len(calibration.sizes),
            )
        else:
            log.info("%s: no vehicle sizes kept for %dx%d: learning them afresh", self.label, *size)
        return calibration

    def save_calibration(self) -> None:
        calibration = getattr(self.counter, "calibration", None)
        if calibration is None:
            return
        try:
            write_atomically(self.calibration_file, json.dumps(calibration.to_dict()))
        except OSError as error:
            log.warning("%s: the vehicle sizes learnt are not kept: %s", self.label, error)

    def interval_length(self, config: dict) -> float:
        return self.interval_seconds or 60.0 * int(config.get("interval_minutes") or 5)

    def end_time(self) -> datetime:
        # A file read fast runs ahead of the wall clock: it ends at its last frame.
        last = self.intervals.last_at
        return last if self.fast else max(last, _utc(self.clock()))

    def keep(self, reports: list[Report]) -> None:
        for report in reports:
            fields = {"event_id": report.key, "body": json.dumps(report.payload())}
            if self.outbox.put_fields(fields, []):
                self.reports_kept += 1
                log.info(
                    "%s: interval %s-%s kept for sending (%d counted, %d frames%s)",
                    self.label,
                    report.start.strftime("%H:%M:%S"),
                    report.end.strftime("%H:%M:%S"),
                    sum(report.counts.values()),
                    report.frames,
                    ", partial" if report.partial else "",
                )
        if reports:
            self.sender.wake()
            self.save_calibration()

    def shut_down(self) -> None:
        if self.link.is_alive():
            self.link.stop()
        if self.sender.is_alive():
            self.sender.stop(self.flush_seconds)
        self.final_figures = self.figures()
        if not self.sender.is_alive():  # else an upload is under way: leave the file open
            self.outbox.close()

    # --- configuration ---

    def first_config(self) -> dict | None:
        """The site's config, or the last one it gave (kept on disk) while it is away; None
        when stopped before any could be had."""
        delay = 1.0
        while not self.stop_event.is_set():
            try:
                return self.fetch_config()
            except ApiError as error:
                cached = self.cached_config()
                if cached is not None:
                    log.warning(
                        "%s: no config from the site (%s): counting with the last one (version %s)",
                        self.label,
                        error,
                        cached.get("version"),
                    )
                    return cached
                log.warning(
                    "%s: no config from the site yet (%s); retry in %.0f s",
                    self.label,
                    error,
                    delay,
                )
            self.stop_event.wait(delay)
            delay = min(delay * 2, MAX_CONFIG_RETRY)
        return None

    def fetch_config(self) -> dict:
        config = self.link.server.request("GET", CONFIG_PATH)
        with contextlib.suppress(OSError):
            self.config_file.write_text(json.dumps(config))
        return config

    def cached_config(self) -> dict | None:
        try:
            return json.loads(self.config_file.read_text())
        except (OSError, ValueError):
            return None

    def offer_config(self, config: dict) -> None:
        """From the link thread: a newer config, taken by the camera loop at its next frame
        and in effect from the next interval."""
        self.offered = config

    def running_version(self):
        if self.counter_version is not None:
            return self.counter_version
        return (self.config or {}).get("version")

    def figures(self) -> dict:
        """Intervals kept, and the outbox's sent, rejected, dropped and pending."""
        if self.final_figures is not None:
            return self.final_figures
        return {
            **self.outbox.counters(),
            "pending": self.outbox.pending(),
            "kept": self.reports_kept,
        }


class TrafficLink(threading.Thread):
    """Heartbeats (fps, outbox, config version) every `heartbeat_every` seconds, a config
    reload when the site's version differs, a snapshot at start and every `snapshot_every`,
    each followed by what the counter sees once it is drawn (`CounterView`)."""

    def __init__(
        self,
        worker: CameraWorker,
        server: Server,
        *,
        heartbeat_every: float = 5.0,
        snapshot_every: float = 300.0,
    ):
        super().__init__(name=f"edge-link-{worker.label}", daemon=True)
        self.worker = worker
        self.server = server
        self.heartbeat_every = heartbeat_every
        self.snapshot_every = snapshot_every
        self.heartbeats = 0
        self.snapshots = 0
        self.annotated_snapshots = 0
        self.fetched_version = None
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=self.server.timeout + 1)

    def wake(self) -> None:
        """From the camera thread: something to send (what the counter sees is drawn)."""
        self._wake.set()

    def run(self) -> None:
        self.fetched_version = self.worker.running_version()
        next_heartbeat = next_snapshot = time.monotonic()
        while not self._stopping.is_set():
            self._wake.clear()
            now = time.monotonic()
            if now >= next_heartbeat:
                self.heartbeat()
                next_heartbeat = now + self.heartbeat_every
            if now >= next_snapshot and self.worker.tap.latest is not None:
                sent = self.snapshot()
                next_snapshot = now + (self.snapshot_every if sent else SNAPSHOT_RETRY)
                if sent:
                    self.worker.view.ask()
            self.annotated_snapshot()
            self._wake.wait(max(min(next_heartbeat, next_snapshot) - time.monotonic(), 0.05))

    def health(self) -> dict:
        outbox = self.worker.outbox
        return {
            "fps": self.worker.tap.fps(),
            "outbox_pending": outbox.pending(),
            "outbox_dropped": outbox.counters()["dropped"],
            "config_version": self.worker.running_version(),
            "version": __version__,
        }

    def heartbeat(self) -> None:
        try:
            answer = self.server.request("POST", HEARTBEAT_PATH, self.health())
        except ApiError as error:
            log.debug("%s: heartbeat not sent: %s", self.worker.label, error)
            return
        self.heartbeats += 1
        version = answer.get("config_version")
        if version is not None and version != self.fetched_version:
            self.reload(version)

    def reload(self, version) -> None:
        try:
            config = self.worker.fetch_config()
        except ApiError as error:
            log.warning("%s: config version %s not fetched: %s", self.worker.label, version, error)
            return  # the next heartbeat tries again
        self.fetched_version = config.get("version")
        log.info(
            "%s: config version %s fetched; in effect from the next interval",
            self.worker.label,
            self.fetched_version,
        )
        self.worker.offer_config(config)

    def snapshot(self) -> bool:
        # Full size: the analysts draw the lines on it in the frame's pixels.
        if not self.send_picture(self.worker.tap.latest, SNAPSHOT_PATH, "snapshot"):
            return False
        self.snapshots += 1
        return True

    def annotated_snapshot(self) -> None:
        """What the counter sees, when drawn: its processing frame, which the site scales to
        the camera's frame as it does the snapshot."""
        picture = self.worker.view.take()
        if picture is None:
            return
        if self.send_picture(picture, SNAPSHOT_PATH + "?annotated=1", "annotated snapshot"):
            self.annotated_snapshots += 1

    def send_picture(self, frame, path: str, what: str) -> bool:
        quality = 85
        jpeg = encode_frame(frame, max_width=frame.shape[1], quality=quality)
        while len(jpeg) > MAX_SNAPSHOT_BYTES and quality > 30:
            quality -= 20
            jpeg = encode_frame(frame, max_width=frame.shape[1], quality=quality)
        try:
            self.server.send("POST", path, jpeg, "image/jpeg")
        except ApiError as error:
            log.debug("%s: %s not sent: %s", self.worker.label, what, error)
            return False
        return True


# --- the process ----------------------------------------------------------------------------


class TrafficAgent:
    """Runs one `CameraWorker` per camera until every source ends or a signal stops it."""

    def __init__(self, cameras: list[CameraSpec], *, server_url: str, state_dir, **options):
        self.stop_event = threading.Event()
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        keys = [camera.key for camera in cameras]
        if len(set(keys)) != len(keys):
            raise ValueError("a device key is given for two cameras")
        self.workers = [
            CameraWorker(
                camera, server_url=server_url, state_dir=state_dir, stop=self.stop_event, **options
            )
            for camera in cameras
        ]

    def request_stop(self, *_signal) -> None:
        """SIGTERM and SIGINT: each camera posts its partial interval, its sender has
        `flush_seconds` to deliver what waits, the rest stays on disk. A second signal
        ends at once."""
        if self.stop_event.is_set():
            raise KeyboardInterrupt
        log.info("stopping")
        self.stop_event.set()

    def handle_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def run(self) -> list[dict]:
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            while worker.is_alive():
                worker.join(timeout=0.2)
        figures = [worker.figures() for worker in self.workers]
        for worker, figure in zip(self.workers, figures, strict=True):
            log.info(
                "%s stopped: %s sent, %s waiting in the outbox, %s rejected, %s dropped",
                worker.label,
                figure.get("sent", "?"),
                figure.get("pending", "?"),
                figure.get("rejected", "?"),
                figure.get("dropped", "?"),
            )
        return figures

    @property
    def errors(self) -> list[BaseException]:
        return [worker.error for worker in self.workers if worker.error]


def ending_now(frames: Iterator, seconds: float | None, now: datetime) -> Iterator:
    """A file read fast, timed as if it had been filmed up to `now`: the site refuses
    intervals in the future, and a clip read fast would run ahead of the wall clock."""
    shift = None
    for frame, at in frames:
        if shift is None:
            shift = (now - timedelta(seconds=seconds or 0)) - at
        yield frame, at + shift


def _clip_seconds(source) -> float | None:
    if isinstance(source, int) or "://" in str(source) or str(source).isdigit():
        return None  # a camera: no end
    import cv2

    capture = cv2.VideoCapture(str(source))
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return frames / fps if frames > 0 and 0 < fps < 1000 else None


def frames_at(frames: Iterable, start: datetime, fps: float) -> Iterator:
    """(frame, timestamp) from bare frames, `fps` apart from `start`: a clip in tests."""
    for index, frame in enumerate(frames):
        yield frame, start + timedelta(seconds=index / fps)
