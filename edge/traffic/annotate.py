"""What the counter sees, drawn: the lines, each track's id, box, class and path, the counts.

    annotator = Annotator("out.mp4")  # or a folder: one JPEG per frame
    counter = Counter(lines, settings, size, observer=annotator)
    ...
    annotator.close()

`Annotator(None)` writes nothing: `last` holds the latest picture (the agent sends it).
Frames are drawn at the size the counter works at (its processing frame, what it really
sees), enlarged to at least `MIN_WIDTH` pixels wide so the labels can be read.
"""

from collections import Counter as Tally
from pathlib import Path

import cv2
import numpy as np

from .classes import NOT_MOTOR

MIN_WIDTH = 640
# Colours (BGR): confirmed tracks, young ones, the lines, a line that just counted.
CONFIRMED = (40, 220, 40)
YOUNG = (0, 200, 255)
LINE = (60, 60, 255)
FLASH = (255, 255, 255)
PATH_POINTS = 40
FLASH_FRAMES = 4


class Annotator:
    """Receives each frame the counter processed (`observe`) and writes it annotated."""

    def __init__(self, out: str | Path | None, fps: float = 10.0):
        self.out = Path(out) if out is not None else None
        self.fps = fps
        self.counts: Tally = Tally()
        self.last: np.ndarray | None = None
        self._writer = None
        self._paths: dict[int, list[tuple[float, float]]] = {}
        self._flash: dict = {}
        if self.out is not None and self.out.suffix == "":
            self.out.mkdir(parents=True, exist_ok=True)

    def observe(self, frame: np.ndarray, index: int, counter, crossings) -> None:
        zoom = max(1.0, MIN_WIDTH / frame.shape[1])
        picture = cv2.resize(frame, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
        for crossing in crossings:
            self.counts[(crossing.line, crossing.direction, crossing.vehicle_class)] += 1
            self._flash[crossing.line] = FLASH_FRAMES
        self._draw_lines(picture, counter, zoom)
        self._draw_tracks(picture, counter, zoom)
        self._draw_counts(picture, counter, index)
        self.last = picture
        self._write(picture, index)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def _draw_lines(self, picture, counter, zoom) -> None:
        sx, sy = counter.scale
        for line in counter.lines:
            flash = self._flash.get(line.id, 0)
            self._flash[line.id] = max(0, flash - 1)
            p1 = _point(line.p1[0] / sx * zoom, line.p1[1] / sy * zoom)
            p2 = _point(line.p2[0] / sx * zoom, line.p2[1] / sy * zoom)
            cv2.line(picture, p1, p2, FLASH if flash else LINE, 2, cv2.LINE_AA)
            _label(picture, str(line.name), p1, LINE)

    def _draw_tracks(self, picture, counter, zoom) -> None:
        alive = set()
        for track in counter.tracks:
            alive.add(track.id)
            path = self._paths.setdefault(track.id, [])
            path.append((track.cx * zoom, track.cy * zoom))
            del path[:-PATH_POINTS]
            colour = CONFIRMED if track.hits >= counter.settings.min_hits else YOUNG
            x1, y1, x2, y2 = (v * zoom for v in track.box)
            cv2.rectangle(picture, _point(x1, y1), _point(x2, y2), colour, 2)
            points = np.array(path, np.int32).reshape(-1, 1, 2)
            cv2.polylines(picture, [points], False, colour, 1, cv2.LINE_AA)
            text = f"{track.id} {counter.class_of(track)}"
            _label(picture, text, _point(x1, y1 - 3), colour)
        self._paths = {k: v for k, v in self._paths.items() if k in alive}

    def _draw_counts(self, picture, counter, index) -> None:
        names = {line.id: line.name for line in counter.lines}
        rows = [f"frame {index}"]
        for line in counter.lines:
            for direction in ("in", "out"):
                by_class = {
                    c: n
                    for (lid, d, c), n in self.counts.items()
                    if (lid, d) == (line.id, direction)
                }
                total = sum(n for c, n in by_class.items() if c not in NOT_MOTOR)
                detail = ", ".join(f"{c} {n}" for c, n in sorted(by_class.items()))
                rows.append(
                    f"{names[line.id]} {direction}: {total}" + (f" ({detail})" * bool(detail))
                )
        for row, text in enumerate(rows):
            _label(picture, text, (6, 16 + 16 * row), (255, 255, 255))

    def _write(self, picture, index) -> None:
        if self.out is None:
            return
        if self.out.suffix == "":
            cv2.imwrite(str(self.out / f"{index:06d}.jpg"), picture)
            return
        if self._writer is None:
            height, width = picture.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.out.suffix == ".mp4" else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.out), fourcc, self.fps, (width, height))
            if not self._writer.isOpened():
                raise OSError(f"cannot write a video to {self.out}")
        self._writer.write(picture)


def _point(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _label(picture, text: str, at: tuple[int, int], colour) -> None:
    x, y = max(0, at[0]), max(12, at[1])
    cv2.putText(picture, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(picture, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
