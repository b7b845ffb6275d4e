"""Synthetic camera clips for the tests and benchmarks: nothing downloaded, nothing committed.

A textured scene (blotches, walls, a fence), sensor noise on every frame, global lighting
(a gain and an offset per frame: ramps, an auto-exposure jump, clipping at white) and moving
objects, each a textured rectangle sliding from one point to another:

    frames = render_clip(100, movers=[Mover(start=(40, 300), end=(560, 300))])
    write_clip(frames, "walk.avi")
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
# Noise is drawn once into a field a little larger than the frame; each frame takes a
# window at a random offset (drawing fresh noise costs more than the rest of a frame).
NOISE_MARGIN = 32
NOISE_FIELDS = 4

Lighting = Callable[[int], tuple[float, float]]


@dataclass
class Mover:
    """A textured rectangle whose top-left corner slides from `start` (at `first_frame`) to
    `end` (at `last_frame`, default the clip's last frame), in frame pixels."""

    start: tuple[float, float]
    end: tuple[float, float]
    size: tuple[int, int] = (40, 80)
    first_frame: int = 0
    last_frame: int | None = None
    shade: float = 60.0

    def box_at(self, index: int, frames: int) -> tuple[int, int, int, int] | None:
        last = self.last_frame if self.last_frame is not None else frames - 1
        if not self.first_frame <= index <= last:
            return None
        t = (index - self.first_frame) / max(1, last - self.first_frame)
        x = self.start[0] + t * (self.end[0] - self.start[0])
        y = self.start[1] + t * (self.end[1] - self.start[1])
        return round(x), round(y), self.size[0], self.size[1]

    def path_box(self, frames: int) -> tuple[int, int, int, int]:
        """The box [x, y, w, h] that holds the whole path."""
        boxes = [self.box_at(i, frames) for i in range(frames)]
        boxes = [b for b in boxes if b]
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right = max(b[0] + b[2] for b in boxes)
        bottom = max(b[1] + b[3] for b in boxes)
        return left, top, right - left, bottom - top


def steady(index: int) -> tuple[float, float]:
    return 1.0, 0.0


def brightness_ramp(frames: int, low: float = 0.5, high: float = 1.3) -> Lighting:
    """Gain from 1 down to `low`, up to `high` and back to 1 over the clip (clouds, dusk
    and a lamp warming up, compressed into seconds)."""
    keys = np.interp(
        np.arange(frames), [0, frames / 3, 2 * frames / 3, frames - 1], [1, low, high, 1]
    )
    return lambda index: (float(keys[min(index, frames - 1)]), 0.0)


def exposure_jump(at: int, gain: float = 1.7, offset: float = 10.0, frames: int = 2) -> Lighting:
    """Auto-exposure: at frame `at` the gain jumps to `gain` within `frames` frames (bright
    areas clip at white), as a camera does when a cloud covers the sun."""

    def lighting(index: int) -> tuple[float, float]:
        t = min(1.0, max(0.0, (index - at + 1) / frames))
        return 1.0 + t * (gain - 1.0), t * offset

    return lighting


def scene_texture(width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> np.ndarray:
    """A still scene (float32 BGR, 30..220): soft blotches, fine grain, walls and a fence."""
    rng = np.random.default_rng(seed)
    scene = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((8, 60.0), (40, 25.0), (160, 12.0)):
        coarse = rng.uniform(-1, 1, (cells * height // width + 1, cells, 3)).astype(np.float32)
        scene += weight * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    scene += 125.0
    for _ in range(6):
        x, y = int(rng.integers(0, width - 80)), int(rng.integers(0, height - 80))
        w, h = int(rng.integers(40, 200)), int(rng.integers(30, 160))
        cv2.rectangle(scene, (x, y), (x + w, y + h), rng.uniform(40, 200, 3).tolist(), -1)
    for x in range(0, width, 24):
        cv2.line(scene, (x, height - 120), (x, height - 40), (70, 80, 90), 3)
    return np.clip(scene, 30, 220)


def render_clip(
    frames: int,
    *,
    movers: Sequence[Mover] = (),
    lighting: Lighting = steady,
    noise: float = 4.0,
    seed: int = 0,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> list[np.ndarray]:
    """`frames` uint8 BGR frames of the scene with noise of standard deviation `noise`."""
    rng = np.random.default_rng(seed)
    scene = scene_texture(width, height, seed)
    patches = [_mover_patch(m, rng) for m in movers]
    noise_fields = _noise_fields(width, height, noise, rng)
    clip = []
    for index in range(frames):
        frame = scene.copy()
        for mover, patch in zip(movers, patches, strict=True):
            _paste(frame, patch, mover.box_at(index, frames))
        gain, offset = lighting(index)
        frame *= gain
        frame += offset + _noise_window(noise_fields, width, height, rng)
        clip.append(np.clip(frame, 0, 255).astype(np.uint8))
    return clip


def _mover_patch(mover: Mover, rng: np.random.Generator) -> np.ndarray:
    w, h = mover.size
    grain = rng.uniform(-25, 25, (max(1, h // 4), max(1, w // 4), 3)).astype(np.float32)
    return mover.shade + cv2.resize(grain, (w, h), interpolation=cv2.INTER_NEAREST)


def _paste(frame: np.ndarray, patch: np.ndarray, box) -> None:
    if box is None:
        return
    x, y, w, h = box
    height, width = frame.shape[:2]
    left, top, right, bottom = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if left < right and top < bottom:
        frame[top:bottom, left:right] = patch[top - y : bottom - y, left - x : right - x]


def _noise_fields(width, height, sigma, rng) -> list[np.ndarray]:
    shape = (height + NOISE_MARGIN, width + NOISE_MARGIN, 3)
    return [rng.normal(0, sigma, shape).astype(np.float32) for _ in range(NOISE_FIELDS)]


def _noise_window(fields, width, height, rng) -> np.ndarray:
    field = fields[int(rng.integers(len(fields)))]
    x, y = (int(v) for v in rng.integers(0, NOISE_MARGIN, 2))
    return field[y : y + height, x : x + width]


def write_clip(frames: Sequence[np.ndarray], path: str | Path, fps: float = 25.0) -> Path:
    """Write the frames to a video file (MJPG in .avi, which OpenCV can write without
    FFmpeg's encoders) and return its path."""
    path = Path(path)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def timed(frames: Sequence[np.ndarray], fps: float = 25.0) -> list[tuple[np.ndarray, datetime]]:
    """The frames with timestamps `fps` apart, as `open_source()` gives them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [(frame, start + timedelta(seconds=i / fps)) for i, frame in enumerate(frames)]


def write_demo_clip(path: str | Path, seconds: float = 60.0, fps: float = 25.0) -> Path:
    """A clip standing in for a camera on the demo site: someone crosses the yard every few
    seconds, now and then the light changes (which must not raise an event)."""
    segment = int(4 * fps)  # rendered 4 s at a time: a minute of frames would not fit in memory
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    try:
        for number in range(max(1, round(seconds * fps / segment))):
            for frame in render_clip(segment, **_demo_segment(number, segment)):
                writer.write(frame)
    finally:
        writer.release()
    return path


def _demo_segment(number: int, frames: int) -> dict:
    if number % 4 == 1:  # a walker, left to right
        return {"movers": [Mover(start=(-40, 260), end=(640, 230), first_frame=10)]}
    if number % 4 == 3:  # a van, right to left, bigger and faster
        van = Mover(start=(640, 300), end=(-160, 300), size=(160, 90), first_frame=30, shade=170)
        return {"movers": [van], "lighting": exposure_jump(frames // 2, gain=1.3, frames=8)}
    if number % 8 == 2:
        return {"lighting": brightness_ramp(frames, low=0.8, high=1.15)}
    return {}
