"""The link of one camera to the site beside its counting: heartbeats, config reloads and
snapshots."""

import logging
import threading
import time
from typing import TYPE_CHECKING

from .. import __version__
from ..client import ApiError, Server
from ..uploader import encode_frame

if TYPE_CHECKING:
    from .camera import CameraWorker

log = logging.getLogger("edge.traffic_agent")

HEARTBEAT_PATH = "/api/traffic/device/heartbeat/"
SNAPSHOT_PATH = "/api/traffic/device/snapshot/"
SNAPSHOT_RETRY = 30.0
MAX_SNAPSHOT_BYTES = 1024 * 1024


class TrafficLink(threading.Thread):
    """Heartbeats (fps, outbox, config version) every `heartbeat_every` seconds, a config
    reload when the site's version differs, a snapshot at start and every `snapshot_every`,
    each followed by what the counter sees once it is drawn (`CounterView`)."""

    def __init__(
        self,
        worker: "CameraWorker",
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
