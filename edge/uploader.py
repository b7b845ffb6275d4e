"""The agent's traffic with the server, each in its own thread so a slow upload never holds up
the camera: the Sender delivers the outbox oldest first; the Link sends a heartbeat every few
seconds and, while someone watches the live view, pushes the newest frame."""

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import cv2

from . import __version__
from .client import ApiError, Server
from .outbox import Entry, Outbox

log = logging.getLogger("edge.uploader")

EVENTS_PATH = "/api/surveillance/device/events/"
HEARTBEAT_PATH = "/api/surveillance/device/heartbeat/"
FRAMES_PATH = "/api/surveillance/device/frames/"

# Worth trying again later: the server is busy, down or slow, or we never reached it.
RETRY_STATUSES = {0, 408, 429}


def should_retry(error: ApiError) -> bool:
    # 401/403 are about the key, not the event: an operator who rotates or fixes the key and
    # restarts the agent should find every event still there, so they wait like an outage.
    return error.status in RETRY_STATUSES or error.status >= 500 or error.status in (401, 403)


def deliver(server: Server, entry: Entry) -> dict:
    """Post one event with its snapshots (best first) to the device events endpoint."""
    files = [
        ("snapshots", f"snapshot-{position}.jpg", "image/jpeg", jpeg)
        for position, jpeg in enumerate(entry.snapshots)
    ]
    return server.post_form(EVENTS_PATH, entry.fields, files)


class Sender(threading.Thread):
    """Sends the outbox's events in order, one at a time, retrying with backoff.

    `send(server, entry)` posts one entry (default: a motion event, `deliver`); the traffic
    counter passes its own for interval reports."""

    def __init__(
        self,
        outbox: Outbox,
        server: Server,
        *,
        idle_wait: float = 5.0,
        send: Callable[[Server, Entry], dict] = deliver,
        name: str = "edge-sender",
    ):
        super().__init__(name=name, daemon=True)
        self.outbox = outbox
        self.server = server
        self.send = send
        self.idle_wait = idle_wait
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._failing = False

    def wake(self) -> None:
        """A new event is in the outbox."""
        self._wake.set()

    def stop(self, flush_seconds: float = 5.0) -> None:
        """Send what can be sent within `flush_seconds`, then end; the rest stays on disk."""
        self._deadline = time.monotonic() + flush_seconds
        self._stopping.set()
        self._wake.set()
        # An upload under way may outlast the deadline: it will be sent again at the next
        # start, and the server recognises it by its event_id.
        self.join(timeout=flush_seconds + 1)

    def run(self) -> None:
        while True:
            wait = self.step()
            if self._stopping.is_set() and (wait > 0 or time.monotonic() >= self._deadline):
                return
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def step(self) -> float:
        """Try to send the oldest due event; return how long to wait before the next step."""
        entry = self.outbox.next_due()
        if entry is None:
            wait = self.outbox.wait_time()
            return self.idle_wait if wait is None else min(wait, self.idle_wait) or 0.01
        try:
            self.send(self.server, entry)
        except ApiError as error:
            self._failed(entry, error)
            return 0
        self.outbox.mark_sent(entry)
        if self._failing:
            self._failing = False
            log.info("the server takes events again; %d waiting", self.outbox.pending())
        return 0

    def _failed(self, entry: Entry, error: ApiError) -> None:
        if not should_retry(error):
            self.outbox.mark_rejected(entry, str(error))
            return
        delay = self.outbox.mark_failed(entry, str(error), error.retry_after)
        # One warning when the trouble starts, not one per retry.
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(level, "event %s not sent (%s); retry in %.1f s", entry.event_id, error, delay)
        self._failing = True


class FrameTap:
    """Keeps the newest camera frame and counts frames; `on_frame` is the camera loop's hook."""

    def __init__(self):
        self.latest = None
        self.frames = 0
        self._counted = (0, time.monotonic())

    def on_frame(self, frame, timestamp=None) -> None:
        # Only a reference: frames are encoded when someone watches, not for every frame.
        self.latest = frame
        self.frames += 1

    def fps(self) -> float:
        """Frames per second since the last call."""
        frames, since = self._counted
        now = time.monotonic()
        self._counted = (self.frames, now)
        return round((self.frames - frames) / max(now - since, 1e-6), 1)


def encode_frame(frame, *, max_width: int = 640, quality: int = 70) -> bytes:
    """A frame as a JPEG for the live view, scaled down to at most `max_width` pixels wide."""
    height, width = frame.shape[:2]
    if width > max_width:
        size = (max_width, round(height * max_width / width))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return jpeg.tobytes()


class Link(threading.Thread):
    """The heartbeat every `heartbeat_every` seconds and, while the server says someone is
    watching, the newest frame at most `stream_fps` times a second."""

    def __init__(
        self,
        outbox: Outbox,
        server: Server,
        tap: FrameTap,
        *,
        heartbeat_every: float = 5.0,
        max_width: int = 640,
        quality: int = 70,
    ):
        super().__init__(name="edge-link", daemon=True)
        self.outbox = outbox
        self.server = server
        self.tap = tap
        self.heartbeat_every = heartbeat_every
        self.max_width = max_width
        self.quality = quality
        self.streaming = False
        self.stream_fps = 2.0
        self.heartbeats = 0  # answered ones
        self._pushed_frame = -1
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=self.server.timeout + 1)

    def run(self) -> None:
        next_heartbeat = next_frame = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_heartbeat:
                self.heartbeat()
                next_heartbeat = now + self.heartbeat_every
            if self.streaming and now >= next_frame:
                self.push_frame()
                next_frame = now + 1 / self.stream_fps
            wake_at = min(next_heartbeat, next_frame) if self.streaming else next_heartbeat
            self._stopping.wait(max(wake_at - time.monotonic(), 0.01))

    def health(self) -> dict:
        counters = self.outbox.counters()
        return {
            "fps": self.tap.fps(),
            "outbox_pending": self.outbox.pending(),
            "outbox_dropped": counters["dropped"],
            "events_sent": counters["sent"],
            "version": __version__,
        }

    def heartbeat(self) -> None:
        try:
            answer = self.server.request("POST", HEARTBEAT_PATH, self.health())
        except ApiError as error:
            log.debug("heartbeat not sent: %s", error)
            self.streaming = False
            return
        self.heartbeats += 1
        self._follow(answer)

    def push_frame(self) -> None:
        frame, number = self.tap.latest, self.tap.frames
        if frame is None or number == self._pushed_frame:
            return  # nothing new since the last push
        self._pushed_frame = number
        jpeg = encode_frame(frame, max_width=self.max_width, quality=self.quality)
        try:
            answer = self.server.send("POST", FRAMES_PATH, jpeg, "image/jpeg")
        except ApiError as error:
            log.debug("frame not sent: %s", error)
            self.streaming = False  # until a heartbeat says someone is watching again
            return
        self._follow(answer)

    def _follow(self, answer: dict) -> None:
        streaming = bool(answer.get("stream"))
        if streaming != self.streaming:
            log.info("live view %s", "watched: streaming" if streaming else "closed")
        self.streaming = streaming
        if "stream_fps" in answer:
            with contextlib.suppress(TypeError, ValueError):
                self.stream_fps = min(max(float(answer["stream_fps"]), 0.2), 30.0)
