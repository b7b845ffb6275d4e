"""The process: one `CameraWorker` per camera, stopped by a signal."""

import logging
import signal
import threading
from pathlib import Path

from .camera import CameraSpec, CameraWorker

log = logging.getLogger("edge.traffic_agent")


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
