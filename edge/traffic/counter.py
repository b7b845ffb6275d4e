"""The counter: frames in, one Crossing per vehicle, line and direction out."""

import math
import statistics
from datetime import datetime

import cv2
import numpy as np

from .background import Background
from .classes import Calibration
from .crossing import Crossing, LineRule
from .settings import CounterSettings, Line
from .tracker import Track, Tracker

# Defaults relative to the frame, so that a 320x240 camera and a 1280x720 one both count out
# of the box: blobs smaller than this share of the frame are noise (400 px at 640x480) ...
MIN_BLOB_SHARE = 400 / (640 * 480)
# ... and a track has crossed a line this share of the frame's width beyond it (8 px at 640).
CROSSING_MARGIN_SHARE = 8 / 640


class Counter:
    """Counts vehicles crossing `lines` on one camera's frames.

    `frame_size` (width, height) is the frame the lines, masks and areas are given in (the
    camera's configured resolution); frames of another size are handled by scaling.

        counter = Counter([Line(3, "North", (0, 240), (640, 240))], CounterSettings())
        for index, (frame, at) in enumerate(frames):
            for crossing in counter.process(frame, index, at):
                ...
        counter.finish(index, at)  # the tracks still in view when the source ends
    """

    def __init__(
        self,
        lines: list[Line],
        settings: CounterSettings | None = None,
        frame_size: tuple[int, int] = (640, 480),
        observer=None,
    ):
        self.settings = settings or CounterSettings()
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.frames = 0
        # Told of every frame counted: `observer.observe(small_bgr, index, counter, crossings)`
        # (edge.traffic.annotate.Annotator draws it).
        self.observer = observer
        self._boot: list | None = None
        self._scale = (1.0, 1.0)
        # What a car looks like on this camera, learnt from what it counts.
        self.calibration = Calibration(self.frame_size)
        self._lines = list(lines)
        self._movements: list[tuple] = []
        self._shape = None
        self._background: Background | None = None
        self._tracker = self._new_tracker()
        self._rules = self._make_rules()

    # --- what the agent calls ---

    def process(self, frame_bgr: np.ndarray, index: int, at: datetime | float) -> list[Crossing]:
        """Count on the next frame; return the crossings completed in it (during the first
        `warmup_frames` frames, none: they are kept, then counted at once with their own
        frame numbers and times)."""
        if frame_bgr.shape != self._shape:
            self._set_geometry(frame_bgr.shape)
        small = cv2.resize(frame_bgr, self._size, interpolation=cv2.INTER_AREA)
        if small.ndim == 2:
            small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
        if self._boot is None:
            return self._count(small, index, at)
        self._boot.append((small, index, at))
        return self._start() if len(self._boot) >= self.settings.warmup_frames else []

    def finish(self, index: int, at: datetime | float) -> list[Crossing]:
        """End every track (the source ended): those last seen past a line's middle count."""
        crossings = self._start() if self._boot else []
        for track in self._tracker.finish():
            crossings += self._finish_track(track, index, at)
        return crossings

    def movements(self) -> list[tuple]:
        """(from_line_id, to_line_id, vehicle_class) for each track that crossed one line
        and then another, since the last call."""
        drained, self._movements = self._movements, []
        return drained

    def update(self, lines: list[Line], settings: CounterSettings | None = None) -> None:
        """A new configuration: the background and the tracks are kept; a new line counts
        tracks from where they are now; a removed line's history is dropped."""
        old = self.settings
        self.settings = settings or old
        self._lines = list(lines)
        self._rules = self._make_rules()
        known = set(self._rules)
        for track in self._tracker.tracks:
            track.lines = {k: v for k, v in track.lines.items() if k in known}
            if track.last_line not in known:
                track.last_line = None
        if old.process_width != self.settings.process_width:
            self._shape = None  # rebuilt at the next frame (the background starts again)
            return
        self._tracker.max_missed = self.settings.max_missed_frames
        self._tracker.position_gain = self.settings.position_gain
        self._tracker.velocity_gain = self.settings.velocity_gain
        if self._shape is not None:
            self._set_scale()
            self._background.reconfigure(self.settings, self._keep_mask())

    @property
    def lines(self) -> list[Line]:
        return list(self._lines)

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracker.tracks)

    @property
    def scale(self) -> tuple[float, float]:
        """Frame pixels per processing pixel, across and down."""
        return self._scale

    def class_of(self, track: Track) -> str:
        """The class the track would be counted as now."""
        return self._class_of(track)

    # --- inside ---

    def _start(self) -> list[Crossing]:
        """The background from the first frames (the median of each pixel: what is there
        most of the time, not the vehicles passing), then those frames counted on it."""
        boot, self._boot = self._boot, None
        self._background.start(np.median(np.stack([small for small, _, _ in boot]), axis=0))
        crossings = []
        for small, index, at in boot:
            crossings += self._count(small, index, at)
        return crossings

    def _count(self, small: np.ndarray, index: int, at) -> list[Crossing]:
        self.frames += 1
        blobs = self._background.blobs(small, self._min_area)
        ended = self._tracker.step(blobs, self._size)
        self._background.learn([t.box for t in self._tracker.tracks])
        crossings = []
        for track in self._tracker.tracks:
            if track.measured:
                crossings += self._follow(track, index, at)
        for track in ended:
            crossings += self._finish_track(track, index, at)
        if self.observer is not None:
            self.observer.observe(small, index, self, crossings)
        return crossings

    def _new_tracker(self) -> Tracker:
        s = self.settings
        return Tracker(
            max_missed=s.max_missed_frames,
            position_gain=s.position_gain,
            velocity_gain=s.velocity_gain,
        )

    def _make_rules(self) -> dict:
        margin = self.settings.crossing_margin
        if margin is None:
            margin = CROSSING_MARGIN_SHARE * self.frame_size[0]
        return {line.id: LineRule(line, margin) for line in self._lines}

    def _set_geometry(self, shape) -> None:
        height, width = shape[:2]
        process_width = min(self.settings.process_width, width)
        process_height = max(1, round(height * process_width / width))
        self._shape = shape
        self._size = (process_width, process_height)
        self._tracker = self._new_tracker()
        self._set_scale()
        self._background = Background(self.settings, self._size, self._keep_mask())
        self._boot = []

    def _set_scale(self) -> None:
        if self._shape is None:
            return
        # processing pixels -> the lines' pixels
        self._scale = (self.frame_size[0] / self._size[0], self.frame_size[1] / self._size[1])
        self._area_scale = self._scale[0] * self._scale[1]
        if self.settings.min_blob_area is None:
            width, height = self._size
            self._min_area = MIN_BLOB_SHARE * width * height
        else:
            self._min_area = max(1.0, self.settings.min_blob_area / self._area_scale)

    def _keep_mask(self) -> np.ndarray | None:
        if not self.settings.masks:
            return None
        keep = np.full((self._size[1], self._size[0]), 255, np.uint8)
        scale = np.array(self._scale, np.float64)
        polygons = [
            np.round(np.array(p, np.float64) / scale).astype(np.int32) for p in self.settings.masks
        ]
        cv2.fillPoly(keep, polygons, 0)
        return keep

    def _follow(self, track: Track, index: int, at) -> list[Crossing]:
        sx, sy = self._scale
        point = (track.cx * sx, track.cy * sy)
        crossings = []
        for line_id, rule in self._rules.items():
            length = max(track.w * sx, track.h * sy)
            direction = rule.step(track.line_state(line_id), point, length)
            if direction:
                crossings += self._crossed(track, line_id, direction, index, at)
        if track.hits >= self.settings.min_hits and track.pending:
            crossings += [self._emit(track, *pending) for pending in track.pending]
            track.pending = []
        return crossings

    def _finish_track(self, track: Track, index: int, at) -> list[Crossing]:
        if track.hits < self.settings.min_hits:
            return []
        crossings = [self._emit(track, *pending) for pending in track.pending]
        for line_id, state in track.lines.items():
            rule = self._rules.get(line_id)
            direction = rule.finish(state) if rule else None
            if direction:
                crossings.append(self._emit(track, line_id, direction, index, at))
        return crossings

    def _crossed(self, track: Track, line_id, direction: str, index: int, at) -> list[Crossing]:
        if track.hits < self.settings.min_hits:
            track.pending.append((line_id, direction, index, at))
            return []
        return [self._emit(track, line_id, direction, index, at)]

    def _emit(self, track: Track, line_id, direction: str, index: int, at) -> Crossing:
        vehicle_class = self._class_of(track)
        self.calibration.learn(*self._measures(track), vehicle_class)
        if track.last_line is not None and track.last_line != line_id:
            self._movements.append((track.last_line, line_id, vehicle_class))
        track.last_line = line_id
        return Crossing(track.id, line_id, direction, vehicle_class, index, at)

    def _class_of(self, track: Track) -> str:
        if self.settings.size_classes is not None:
            return self._sized_class(track)
        return self.calibration.classify(*self._measures(track))

    def _measures(self, track: Track) -> tuple[float, float, float]:
        """The track's length along its way, width across it and speed, in frame pixels."""
        sx, sy = self._scale
        width, height = track.w * sx, track.h * sy
        vx, vy = track.vx * sx, track.vy * sy
        along, across = (width, height) if abs(vx) >= abs(vy) else (height, width)
        return along, across, math.hypot(vx, vy)

    def _sized_class(self, track: Track) -> str:
        """The class by the camera's own `size_classes` (blob areas in frame pixels)."""
        if track.areas:
            area = statistics.median(track.areas)
        else:  # never whole in view: at least as large as the most of it seen
            area = track.edge_area or track.w * track.h
        return self.settings.vehicle_class(area * self._area_scale)
