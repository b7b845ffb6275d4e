"""Frames from a camera index, a video file or a stream URL, each with its timestamp."""

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# What a file's frame rate is taken to be when the container does not say.
DEFAULT_FPS = 25.0
# A live source that stops delivering is reopened after 1, 2, 4 ... at most this many seconds.
MAX_RECONNECT_DELAY = 30.0

Frames = Iterator[tuple[np.ndarray, datetime]]


class SourceError(RuntimeError):
    """The camera, file or stream cannot be opened."""


def open_source(source: int | str | Path, *, realtime: bool = False) -> Frames:
    """Open `source` and return an iterator of (frame_bgr, timestamp).

    `source`: a camera index (0, or "0" from a command line), a video file, or a stream URL
    (rtsp://, http://...). Timestamps are aware UTC datetimes: for a camera or a stream the
    wall clock when the frame was read; for a file the time it was opened plus the frame's
    index over the file's frame rate, so that times are clip times however fast the file is
    read (`realtime=True` paces the reading at that frame rate, for a file standing in for a
    camera). A live source that stops is reopened with backoff; a file ends at its end.
    Raises SourceError when the source cannot be opened.
    """
    if isinstance(source, str) and source.strip().isdigit():
        source = int(source)
    if isinstance(source, int):
        return _live_frames(source)
    if "://" in str(source):
        return _live_frames(str(source))
    if not Path(source).is_file():
        raise SourceError(f"no such video file: {source}")
    return _file_frames(str(source), realtime)


def _capture(source: int | str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open video source {source!r}")
    return capture


def _file_frames(path: str, realtime: bool) -> Frames:
    capture = _capture(path)
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else DEFAULT_FPS

    def frames() -> Frames:
        opened, clock = datetime.now(UTC), time.monotonic()
        try:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                if realtime:
                    time.sleep(max(0.0, clock + index / fps - time.monotonic()))
                yield frame, opened + timedelta(seconds=index / fps)
                index += 1
        finally:
            capture.release()

    return frames()


def _live_frames(source: int | str) -> Frames:
    capture = _capture(source)

    def frames() -> Frames:
        nonlocal capture
        delay = 1.0
        try:
            while True:
                ok, frame = capture.read()
                if ok:
                    delay = 1.0
                    yield frame, datetime.now(UTC)
                    continue
                capture.release()
                capture, delay = _reopen(source, delay)
        finally:
            capture.release()

    return frames()


def _reopen(source: int | str, delay: float) -> tuple[cv2.VideoCapture, float]:
    """Wait and reopen until the source answers again: a camera that drops off (a network
    stream, a loose USB cable) should not end the agent."""
    while True:
        log.warning("video source %r stopped; reopening in %.0f s", source, delay)
        time.sleep(delay)
        delay = min(MAX_RECONNECT_DELAY, delay * 2)
        try:
            return _capture(source), delay
        except SourceError:
            continue
