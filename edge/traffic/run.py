"""The dry run: count on a recorded clip without a server, one JSON line per crossing."""

import json
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from edge.motion.sources import open_source

from .annotate import Annotator
from .counter import Counter
from .crossing import Crossing
from .settings import CounterSettings, Line

Source = int | str | Path | Iterable[tuple[np.ndarray, datetime | float]]


def dry_run(
    source: Source,
    lines: list[Line],
    settings: CounterSettings | None = None,
    out: TextIO = sys.stdout,
    frame_size: tuple[int, int] | None = None,
    annotate: str | Path | None = None,
) -> dict:
    """Count vehicles on `source` (a video file, a camera, or (frame, timestamp) pairs) and
    print one JSON line per crossing, `{"type": "crossing", "frame", "time", "line",
    "direction", "class"}` (time in seconds from the first frame, line by name), then a
    summary `{"type": "summary", "counts": {line: {"in": {class: n}, "out": {...}}},
    "movements": [...], "frames", "seconds", "fps"}`; return the summary.

    Lines are in the clip's pixels unless `frame_size` says in which frame they are drawn.
    `annotate`: a video file (.mp4, .avi) or a folder where each frame is written with what
    the counter saw (edge.traffic.annotate).
    """
    frames = open_source(source) if isinstance(source, int | str | Path) else iter(source)
    names = {line.id: line.name for line in lines}
    counts = {line.name: {"in": {}, "out": {}} for line in lines}
    movements: dict[tuple, int] = {}
    counter = None
    first = index = at = None
    started = time.perf_counter()
    for index, (frame, at) in enumerate(frames):
        if counter is None:
            size = frame_size or (frame.shape[1], frame.shape[0])
            observer = Annotator(annotate, _frame_rate(source)) if annotate else None
            counter, first = Counter(lines, settings, size, observer), at
        crossings = counter.process(frame, index, at)
        _report(crossings, first, names, counts, out)
        _tally_movements(counter, names, movements)
    if counter is not None:
        _report(counter.finish(index, at), first, names, counts, out)
        _tally_movements(counter, names, movements)
    if counter is not None and counter.observer is not None:
        counter.observer.close()
    seconds = time.perf_counter() - started
    frames_done = counter.frames if counter else 0
    summary = {
        "type": "summary",
        "counts": counts,
        "movements": [
            {"from": a, "to": b, "class": c, "count": n} for (a, b, c), n in movements.items()
        ],
        "frames": frames_done,
        "seconds": round(seconds, 3),
        "fps": round(frames_done / seconds, 1) if seconds else 0.0,
    }
    print(json.dumps(summary), file=out, flush=True)
    return summary


def _report(crossings: list[Crossing], first, names: dict, counts: dict, out: TextIO) -> None:
    for crossing in crossings:
        name = names[crossing.line]
        by_class = counts[name][crossing.direction]
        by_class[crossing.vehicle_class] = by_class.get(crossing.vehicle_class, 0) + 1
        line = {
            "type": "crossing",
            "frame": crossing.frame,
            "time": round(_seconds(crossing.at, first), 3),
            "line": name,
            "direction": crossing.direction,
            "class": crossing.vehicle_class,
        }
        print(json.dumps(line), file=out, flush=True)


def _tally_movements(counter: Counter, names: dict, movements: dict) -> None:
    for from_id, to_id, vehicle_class in counter.movements():
        key = (names[from_id], names[to_id], vehicle_class)
        movements[key] = movements.get(key, 0) + 1


def _seconds(at, first) -> float:
    if isinstance(at, datetime):
        return (at - first).total_seconds()
    return float(at) - float(first)


def _frame_rate(source) -> float:
    if isinstance(source, str | Path):
        capture = cv2.VideoCapture(str(source))
        fps = capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        if 1 <= fps <= 120:
            return fps
    return 10.0
