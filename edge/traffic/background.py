"""Foreground blobs of a traffic scene, on a shrunk frame.

A colour background (float32 BGR at the processing size), begun from the median of the first
frames (the counter keeps them, then counts them on it), learns selectively: fast where
nothing moves, very slowly under blobs and tracked vehicles, so that a car waiting at a red
light stays foreground. Global light changes (a cloud, auto-exposure) are followed at once
by scaling the whole background, vehicles' places included, by the median ratio of frame to
background. Shadows (darker by a uniform ratio, same colour, the asphalt's texture kept) are
taken out of the foreground before the blobs are cut.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from .settings import CounterSettings

# The light and noise are measured on every SAMPLE_STEP-th pixel of every SAMPLE_STEP-th row.
SAMPLE_STEP = 4
# The colour difference (summed over B, G, R) below which nothing is foreground, however
# clean the picture.
MIN_THRESHOLD = 12.0


@dataclass
class Blob:
    """A foreground blob at the processing size."""

    x: int
    y: int
    w: int
    h: int
    area: int
    # Partly out of view: at the frame's edge or against a mask.
    cut: bool = False
    # A piece of a blob cut between two vehicles (its area is a share of the blob's).
    split: bool = False

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


class Background:
    """`blobs(small_bgr) -> [Blob]`, then `learn(busy)` once the tracks are known."""

    def __init__(self, settings: CounterSettings, size: tuple[int, int], keep: np.ndarray | None):
        self.size = size  # (width, height) at the processing size
        self.model: np.ndarray | None = None
        self.frames = 0
        self.gain = 1.0
        self._frame: np.ndarray | None = None
        self._busy: np.ndarray | None = None
        self._spread = _kernel(7, cv2.MORPH_RECT)
        self._shadow_box = (5, 5)
        self.reconfigure(settings, keep)

    def reconfigure(self, settings: CounterSettings, keep: np.ndarray | None) -> None:
        """New settings and masks (`keep`: 255 where detection happens, None: everywhere);
        the background learnt so far is kept."""
        self.settings = settings
        self.keep = keep
        # Sums of masked pixels over any box, to tell blobs cut by a mask.
        self._hidden = None if keep is None else cv2.integral(cv2.bitwise_not(keep) // 255)
        self._open = _kernel(settings.open_size, cv2.MORPH_RECT)
        self._close = _kernel(settings.close_size, cv2.MORPH_ELLIPSE)

    def start(self, model: np.ndarray) -> None:
        """Begin from `model` (the median of the first frames: what is there most of the
        time, not the vehicles passing)."""
        self.model = model.astype(np.float32)

    def blobs(self, small_bgr: np.ndarray, min_area: float) -> list[Blob]:
        frame = small_bgr.astype(np.float32)
        self._frame = frame
        self.frames += 1
        if self.model is None:
            self.model = frame.copy()
            return []
        self._follow_light(frame)
        difference = cv2.transform(cv2.absdiff(frame, self.model), np.ones((1, 3), np.float32))
        noise = self._noise_floor(difference)
        threshold = max(MIN_THRESHOLD, noise * (2.5 + 3 * (1 - self.settings.sensitivity)))
        foreground = (difference > threshold).view(np.uint8) * np.uint8(255)
        shadows = None
        if self.settings.shadow_suppression:
            shadows = self._shadows(frame)
            foreground[shadows] = 0
        if self.keep is not None:
            cv2.bitwise_and(foreground, self.keep, dst=foreground)
        if self._open is not None:
            foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self._open)
        if self._close is not None:
            foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, self._close)
        self._busy = foreground if shadows is None else foreground | shadows.view(np.uint8) * 255
        count, _, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
        return [
            Blob(int(x), int(y), int(w), int(h), int(area), self._cut(x, y, w, h))
            for x, y, w, h, area in stats[1:count]
            if area >= min_area
        ]

    def _cut(self, x: int, y: int, w: int, h: int) -> bool:
        width, height = self.size
        if x <= 0 or y <= 0 or x + w >= width or y + h >= height:
            return True
        if self._hidden is None:
            return False
        # The box grown by 2 px holds masked pixels: the mask hides part of the vehicle.
        x1, y1 = max(0, x - 2), max(0, y - 2)
        x2, y2 = min(width, x + w + 2), min(height, y + h + 2)
        hidden = self._hidden
        return bool(hidden[y2, x2] - hidden[y1, x2] - hidden[y2, x1] + hidden[y1, x1] > 0)

    def learn(self, boxes: list[tuple[float, float, float, float]]) -> None:
        """Blend the last frame into the background, slowly under the blobs and `boxes`
        (the tracked vehicles, stopped ones included)."""
        frame, settings = self._frame, self.settings
        if frame is None or self.model is None:
            return
        busy = cv2.dilate(self._busy, self._spread) if self._busy is not None else None
        for x1, y1, x2, y2 in boxes:
            cv2.rectangle(busy, (int(x1), int(y1)), (int(x2), int(y2)), 255, -1)
        if settings.foreground_learning_rate:
            cv2.accumulateWeighted(frame, self.model, settings.foreground_learning_rate)
        still = cv2.bitwise_not(busy)
        cv2.accumulateWeighted(frame, self.model, settings.learning_rate, mask=still)

    def _follow_light(self, frame: np.ndarray) -> None:
        """Scale the background by the median frame/background ratio of the still pixels."""
        step = SAMPLE_STEP
        now = frame[::step, ::step].sum(axis=2)
        before = self.model[::step, ::step].sum(axis=2)
        if self._busy is not None:
            still = self._busy[::step, ::step] == 0
            now, before = now[still], before[still]
        if now.size < 64:
            return
        gain = float(np.median(now / np.maximum(before, 1.0)))
        if 0.2 < gain < 5 and abs(gain - 1) > 0.001:
            self.model *= gain
        self.gain = gain

    def _noise_floor(self, difference: np.ndarray) -> float:
        sample = difference[::SAMPLE_STEP, ::SAMPLE_STEP]
        if self.keep is not None:
            sample = sample[self.keep[::SAMPLE_STEP, ::SAMPLE_STEP] > 0]
        return float(np.median(sample)) if sample.size else 0.0

    def _shadows(self, frame: np.ndarray) -> np.ndarray:
        """True where the frame is the background darkened evenly: a cast shadow."""
        s = self.settings
        ratio = cv2.divide(frame, self.model + 1.0)
        b, g, r = cv2.split(ratio)
        high = cv2.max(cv2.max(b, g), r)
        low = cv2.min(cv2.min(b, g), r)
        mean = (b + g + r) * (1 / 3)
        spread = (
            cv2.boxFilter(mean * mean, -1, self._shadow_box)
            - cv2.boxFilter(mean, -1, self._shadow_box) ** 2
        )
        return (
            (low >= s.shadow_min_ratio)
            & (high <= s.shadow_max_ratio)
            & (high - low <= s.shadow_chroma)
            & (spread <= s.shadow_texture**2)
        )


def _kernel(size: int, shape: int) -> np.ndarray | None:
    return cv2.getStructuringElement(shape, (size, size)) if size > 1 else None
