"""Frames for the counter: a feed that keeps up with the camera, and clips timed for tests and
fast reads."""

import contextlib
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

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
