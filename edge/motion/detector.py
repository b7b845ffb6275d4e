"""Motion in one frame against a running-average background, immune to global lighting
changes.

Per frame, at the processing width: grey, blur, remap the background's grey levels to the
frame's (histogram matching), absolute difference, threshold above the frame's noise floor,
opening and dilation, contours over a minimum area. A frame where most pixels change at once
rebuilds the background instead of reporting motion.
"""

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .settings import MotionSettings

# The background learns this fast while it settles after a rebuild.
SETTLE_LEARNING_RATE = 0.5
# ... and this fast, where nothing moves, while the light drifts.
DRIFT_LEARNING_RATE = 0.3
# The sudden-change test compares every SAMPLE_STEP-th pixel of every SAMPLE_STEP-th row.
SAMPLE_STEP = 4
# The lighting model: the median change of the sampled pixels in each of BANDS bands of
# grey levels (bands with fewer samples borrow from their neighbours).
BAND_SHIFT = 4
BANDS = 256 >> BAND_SHIFT
MIN_BAND_SAMPLES = 16
LEVELS = np.arange(256, dtype=np.float64)
IDENTITY = np.arange(256, dtype=np.uint8)


@dataclass
class MotionResult:
    """What the detector saw in one frame."""

    motion: bool = False
    # Changed-area fraction of the (unmasked) frame after speckle removal, 0..1.
    score: float = 0.0
    # [[x, y, w, h]] of the moving blobs, in source-frame pixels.
    boxes: list[list[int]] = field(default_factory=list)
    # The frame was taken as the new background (start, lighting change, new frame size).
    recalibrated: bool = False


class MotionDetector:
    """`process(frame_bgr) -> MotionResult`, one frame after another from one camera."""

    def __init__(self, settings: MotionSettings | None = None):
        self.settings = settings or MotionSettings()
        self._source_shape = None
        self._background = None
        self._settling = 0
        self.recalibrations = 0

    def process(self, frame_bgr: np.ndarray) -> MotionResult:
        if frame_bgr.shape != self._source_shape:
            self._set_geometry(frame_bgr.shape)
        grey = self._prepare(frame_bgr)
        sudden_change = self._sudden_change(grey)
        if self._background is None or sudden_change:
            return self._recalibrate(grey)
        changed = self._changed_pixels(grey)
        if cv2.countNonZero(changed) > self.settings.lighting_change_fraction * self._area:
            return self._recalibrate(grey)
        if self._settling:
            self._settling -= 1
            cv2.accumulateWeighted(grey, self._background, SETTLE_LEARNING_RATE)
            return MotionResult()
        self._learn(grey)
        return self._blobs(changed)

    def _learn(self, grey: np.ndarray) -> None:
        cv2.accumulateWeighted(grey, self._background, self.settings.learning_rate)
        if self._drift > self.settings.lighting_drift_levels:
            # The light is changing: catch up where nothing moves, so that what the tone map
            # cannot model (one colour channel clipping before the others) stays small.
            still = cv2.bitwise_not(self._foreground)
            cv2.accumulateWeighted(grey, self._background, DRIFT_LEARNING_RATE, mask=still)

    def _set_geometry(self, shape):
        height, width = shape[:2]
        process_width = min(self.settings.process_width, width)
        process_height = max(1, round(height * process_width / width))
        self._source_shape = shape
        self._size = (process_width, process_height)
        self._scale = (width / process_width, height / process_height)
        self._keep = self._keep_mask()
        # max(1, ...): masks may cover the whole view (then nothing ever counts as motion).
        self._area = max(
            1, cv2.countNonZero(self._keep) if self._keep is not None else self._pixels
        )
        self._min_blob = self.settings.min_area_fraction * self._area
        self._background = None
        self._previous_sample = None
        self._foreground = None
        self._drift = 0.0
        self._kernel = _square(self.settings.open_size)
        self._dilate_kernel = _square(3)

    @property
    def _pixels(self) -> int:
        return self._size[0] * self._size[1]

    def _keep_mask(self) -> np.ndarray | None:
        """255 where detection happens, 0 inside the mask polygons (None: no masks)."""
        if not self.settings.masks:
            return None
        keep = np.full((self._size[1], self._size[0]), 255, np.uint8)
        scale = np.array(self._scale, np.float64)
        polygons = [
            np.round(np.array(p, np.float64) / scale).astype(np.int32) for p in self.settings.masks
        ]
        cv2.fillPoly(keep, polygons, 0)
        return keep

    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        # Shrinking first makes everything after it cheap; INTER_AREA also averages out noise.
        small = cv2.resize(frame_bgr, self._size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        blur = self.settings.blur_size
        if blur > 1:
            grey = cv2.GaussianBlur(grey, (blur, blur), 0)
        return grey

    def _sudden_change(self, grey: np.ndarray) -> bool:
        sample = grey[::SAMPLE_STEP, ::SAMPLE_STEP].astype(np.int16)
        previous, self._previous_sample = self._previous_sample, sample
        if previous is None or not self.settings.sudden_change_levels:
            return False
        shift = _median(sample - previous + 255, 511) - 255
        return abs(shift) > self.settings.sudden_change_levels

    def _recalibrate(self, grey: np.ndarray) -> MotionResult:
        self._background = grey.astype(np.float32)
        self._foreground = None
        self._settling = self.settings.settle_frames
        self.recalibrations += 1
        return MotionResult(recalibrated=True)

    def _changed_pixels(self, grey: np.ndarray) -> np.ndarray:
        background = cv2.convertScaleAbs(self._background)
        if self.settings.compensate_lighting:
            background = cv2.LUT(background, self._tone_map(background, grey))
        difference = cv2.absdiff(grey, background)
        threshold = self.settings.pixel_threshold + self._noise_floor(difference)
        _, changed = cv2.threshold(difference, threshold, 255, cv2.THRESH_BINARY)
        if self._keep is not None:
            changed = cv2.bitwise_and(changed, self._keep)
        self._foreground = changed
        return changed

    def _tone_map(self, background: np.ndarray, grey: np.ndarray) -> np.ndarray:
        """The lookup table that brings the background to the frame's lighting.

        For each band of background grey levels, the median change of the sampled pixels in
        that band: any global change of brightness (gain, gamma, offset, clipping) is
        followed level by level, and a moving object, a minority in each band, does not bend
        it (matching whole histograms would: a dark object shifts every level above it).
        """
        before = background[::SAMPLE_STEP, ::SAMPLE_STEP]
        after = grey[::SAMPLE_STEP, ::SAMPLE_STEP]
        if self._foreground is not None:
            # What changed in the last frame (the moving object, its ghost) says nothing
            # about the light.
            still = self._foreground[::SAMPLE_STEP, ::SAMPLE_STEP] == 0
            before, after = before[still], after[still]
        before, after = before.ravel(), after.ravel()
        bands = before >> BAND_SHIFT
        # Changes beyond +-127 levels in one step are left to the sudden-change test.
        change = np.clip(after.astype(np.int16) - before, -127, 127) + 127
        counts = np.bincount(bands.astype(np.int32) * 255 + change, minlength=BANDS * 255)
        cumulative = np.cumsum(counts.reshape(BANDS, 255), axis=1)
        populated = cumulative[:, -1] >= MIN_BAND_SAMPLES
        if not populated.any():
            return IDENTITY
        samples = cumulative[populated, -1]
        medians = np.argmax(cumulative[populated] >= samples[:, None] / 2, axis=1) - 127
        self._drift = float(np.abs(medians) @ samples / samples.sum())
        centres = (np.flatnonzero(populated) << BAND_SHIFT) + (1 << BAND_SHIFT) / 2
        mapped = LEVELS + np.interp(LEVELS, centres, medians)
        return np.maximum.accumulate(mapped.clip(0, 255)).astype(np.uint8)

    def _noise_floor(self, difference: np.ndarray) -> int:
        """Half of the (sampled, unmasked) pixels differ by no more than this."""
        sample = difference[::SAMPLE_STEP, ::SAMPLE_STEP]
        if self._keep is not None:
            sample = sample[self._keep[::SAMPLE_STEP, ::SAMPLE_STEP] > 0]
        return _median(sample, 256)

    def _blobs(self, changed: np.ndarray) -> MotionResult:
        if self._kernel is not None:
            changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, self._kernel)
        changed_pixels = cv2.countNonZero(changed)
        if changed_pixels < self._min_blob:
            return MotionResult(score=changed_pixels / self._area)
        boxes = [self._to_source(box) for box in self._boxes(changed)]
        return MotionResult(motion=bool(boxes), score=changed_pixels / self._area, boxes=boxes)

    def _boxes(self, changed: np.ndarray):
        """Boxes around the pieces that the dilation joins, each holding at least the minimum
        area of changed pixels (counted before the dilation, which would inflate them)."""
        joined = changed
        if self.settings.dilate_iterations:
            iterations = self.settings.dilate_iterations
            joined = cv2.dilate(changed, self._dilate_kernel, iterations=iterations)
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if cv2.countNonZero(changed[y : y + h, x : x + w]) >= self._min_blob:
                yield x, y, w, h

    def _to_source(self, box) -> list[int]:
        x, y, w, h = box
        sx, sy = self._scale
        height, width = self._source_shape[:2]
        left, top = int(x * sx), int(y * sy)
        right, bottom = min(width, math.ceil((x + w) * sx)), min(height, math.ceil((y + h) * sy))
        return [left, top, right - left, bottom - top]


def _square(size: int) -> np.ndarray | None:
    return np.ones((size, size), np.uint8) if size > 1 else None


def _median(values: np.ndarray, levels: int) -> int:
    """The median of small non-negative integers, by counting (cheaper than sorting)."""
    cumulative = np.cumsum(np.bincount(values.ravel(), minlength=levels))
    return int(np.searchsorted(cumulative, cumulative[-1] / 2)) if cumulative[-1] else 0
