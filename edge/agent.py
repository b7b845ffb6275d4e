"""The motion agent: camera events go into the outbox while the Sender and the Link threads
talk to the server beside; SIGTERM or SIGINT stop it cleanly."""

import logging
import signal
import threading
from collections.abc import Iterable

from .client import Server
from .outbox import Outbox
from .uploader import FrameTap, Link, Sender

log = logging.getLogger("edge.agent")


class Stopping(Exception):
    """Raised in the camera loop (from its frame hook) once a stop was asked for."""


class Agent:
    def __init__(
        self,
        outbox: Outbox,
        *,
        server_url: str,
        key: str,
        heartbeat_every: float = 5.0,
        flush_seconds: float = 5.0,
        upload_timeout: float = 30.0,
    ):
        self.outbox = outbox
        self.flush_seconds = flush_seconds
        self.tap = FrameTap()
        self.sender = Sender(outbox, Server(server_url, key, timeout=upload_timeout))
        # Heartbeats and frames are small and soon stale: a short timeout.
        link_server = Server(server_url, key, timeout=min(heartbeat_every, 5.0))
        self.link = Link(outbox, link_server, self.tap, heartbeat_every=heartbeat_every)
        self._stop = threading.Event()
        # Where a signal may interrupt the main thread at once: in the camera loop, but not
        # while an event is being written to the outbox.
        self._interruptible = False

    def on_frame(self, frame, timestamp=None) -> None:
        """The camera loop's hook for every frame read (`iter_events(on_frame=...)`)."""
        if self._stop.is_set():
            raise Stopping
        self.tap.on_frame(frame, timestamp)

    def request_stop(self, *_signal) -> None:
        """The SIGTERM and SIGINT handler: leave the camera loop (at once, unless an event is
        being kept: then right after), send what can be sent in `flush_seconds`, end. A second
        signal ends at once."""
        if self._stop.is_set():
            raise KeyboardInterrupt
        log.info("stopping")
        self._stop.set()
        # A camera being reopened sleeps and never reaches the next frame: do not wait for it.
        if self._interruptible:
            raise Stopping

    def handle_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def run(self, events: Iterable) -> dict[str, int]:
        """Keep every event of `events` and send them; return the outbox's figures at the end."""
        self.sender.start()
        self.link.start()
        events = iter(events)
        try:
            self._interruptible = True
            for event in events:
                self.keep(event)
                if self._stop.is_set():
                    break
        except (Stopping, KeyboardInterrupt):
            pass
        finally:
            self._interruptible = False
            _close(events)  # releases the camera
            self.shut_down()
        return self.figures()

    def keep(self, event) -> None:
        self._interruptible = False
        try:
            kept = self.outbox.put(event)
        finally:
            self._interruptible = not self._stop.is_set()
        if kept:
            log.info("event %s (score %.3f) kept for sending", event.event_id, event.score)
            self.sender.wake()

    def shut_down(self) -> None:
        self.link.stop()
        self.sender.stop(self.flush_seconds)
        figures = self.figures()
        log.info(
            "stopped: %(sent)d sent, %(pending)d waiting in the outbox, "
            "%(rejected)d rejected, %(dropped)d dropped",
            figures,
        )

    def figures(self) -> dict[str, int]:
        return {**self.outbox.counters(), "pending": self.outbox.pending()}


def _close(events) -> None:
    close = getattr(events, "close", None)
    if close:
        close()
