"""The whole loop, source to events, and the dry run that prints them."""

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from .detector import MotionDetector
from .events import EventBuilder, MotionEvent
from .settings import MotionSettings
from .sources import open_source

FrameCallback = Callable[[np.ndarray, datetime], None]
Source = int | str | Path | Iterable[tuple[np.ndarray, datetime]]


def iter_events(
    source: Source,
    settings: MotionSettings | None = None,
    on_frame: FrameCallback | None = None,
    *,
    builder: EventBuilder | None = None,
    realtime: bool = False,
) -> Iterator[MotionEvent]:
    """Events from `source` as they end (the last one when the source ends).

    `source` is what `open_source()` takes, or any iterable of (frame_bgr, timestamp).
    `on_frame(frame_bgr, timestamp)` is called for every frame read (live view, fps). Pass
    your own `builder` (an EventBuilder with the same settings) to read its counters.
    """
    settings = settings or MotionSettings()
    builder = builder or EventBuilder(settings)
    detector = MotionDetector(settings)
    frames = source if _is_frames(source) else open_source(source, realtime=realtime)
    for index, (frame, at) in enumerate(frames):
        if on_frame:
            on_frame(frame, at)
        yield from builder.push(frame, detector.process(frame), at, index)
    yield from builder.finish()


def dry_run(
    source: Source,
    settings: MotionSettings | None = None,
    snapshot_dir: str | Path | None = None,
    out: TextIO = sys.stdout,
) -> dict:
    """Run the detector over `source` without a server: print one JSON line per event
    (frames, seconds into the clip, score, boxes, snapshot files written to `snapshot_dir`)
    and a summary line; return the summary."""
    settings = settings or MotionSettings()
    builder = EventBuilder(settings)
    clip = _ClipTimes()
    started = time.perf_counter()
    for event in iter_events(source, settings, clip.saw, builder=builder):
        names = _write_snapshots(event, Path(snapshot_dir)) if snapshot_dir else []
        print(json.dumps(_event_line(event, clip.first, names)), file=out, flush=True)
    seconds = time.perf_counter() - started
    summary = _summary(builder, clip, seconds)
    print(json.dumps(summary), file=out, flush=True)
    return summary


class _ClipTimes:
    """The first and last timestamps seen: event times are printed as seconds into the clip."""

    first: datetime | None = None
    last: datetime | None = None

    def saw(self, frame: np.ndarray, at: datetime) -> None:
        self.first = self.first or at
        self.last = at

    @property
    def seconds(self) -> float:
        return (self.last - self.first).total_seconds() if self.first else 0.0


def _is_frames(source: Source) -> bool:
    return not isinstance(source, int | str | Path)


def _event_line(event: MotionEvent, clip_start: datetime, snapshot_names: list[str]) -> dict:
    return {
        "type": "event",
        "event_id": event.event_id,
        "start_frame": event.start_frame,
        "end_frame": event.end_frame,
        "start_seconds": round((event.started_at - clip_start).total_seconds(), 3),
        "end_seconds": round((event.ended_at - clip_start).total_seconds(), 3),
        "score": event.score,
        "boxes": event.boxes,
        "frame_width": event.frame_width,
        "frame_height": event.frame_height,
        "snapshots": snapshot_names,
    }


def _summary(builder: EventBuilder, clip: _ClipTimes, seconds: float) -> dict:
    return {
        "type": "summary",
        **builder.stats(),
        "clip_seconds": round(clip.seconds, 3),
        "seconds": round(seconds, 3),
        "fps": round(builder.frames / seconds, 1) if seconds else 0.0,
    }


def _write_snapshots(event: MotionEvent, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number, jpeg in enumerate(event.snapshots):
        name = f"{event.start_frame:07d}-{event.event_id[:8]}-{number}.jpg"
        (folder / name).write_bytes(jpeg)
        names.append(name)
    return names
