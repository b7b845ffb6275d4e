"""One camera: its thread, from the site's config and the frames to intervals in the outbox,
with a sender and a link beside it."""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..client import Server
from ..outbox import Entry, Outbox
from ..uploader import FrameTap, Sender
from .config import CameraState, counter_inputs, frame_size, make_counter, state_name
from .frames import END, FrameFeed, _clip_seconds, ending_now
from .intervals import Intervals, Report, _utc
from .link import TrafficLink
from .view import CounterView

log = logging.getLogger("edge.traffic_agent")

COUNTS_PATH = "/api/traffic/device/counts/"


@dataclass
class CameraSpec:
    """A camera the process runs: its device key and, unless the site's config says it, its
    source (a camera index, a file, an rtsp:// URL, or any iterable of (frame, timestamp))."""

    key: str
    source: object = None


def deliver_report(server: Server, entry: Entry) -> dict:
    return server.request("POST", COUNTS_PATH, json.loads(entry.fields["body"]))


class CameraWorker(CameraState, threading.Thread):
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
            from ..motion.sources import open_source

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

    def figures(self) -> dict:
        """Intervals kept, and the outbox's sent, rejected, dropped and pending."""
        if self.final_figures is not None:
            return self.final_figures
        return {
            **self.outbox.counters(),
            "pending": self.outbox.pending(),
            "kept": self.reports_kept,
        }
