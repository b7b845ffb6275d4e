"""Frames with motion become events: a start after a few motion frames, an end after a quiet
spell, JPEG snapshots (the best frame first), and throttling (a per-minute cap and a cool-down,
instead of the seed's sleep(60))."""

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from .detector import MotionResult
from .settings import MotionSettings


@dataclass
class MotionEvent:
    event_id: str  # uuid4 with dashes, made when the event starts: the idempotency key
    started_at: datetime  # aware, UTC
    ended_at: datetime
    start_frame: int
    end_frame: int
    score: float  # max changed-area fraction over the event (0..1)
    boxes: list[list[int]]  # [[x, y, w, h]] of the best frame, in source-frame pixels
    frame_width: int
    frame_height: int
    snapshots: list[bytes]  # JPEG bytes, the best frame first, at most max_snapshots


@dataclass
class _Frame:
    index: int
    at: datetime
    image: np.ndarray
    result: MotionResult


@dataclass
class _Ongoing:
    event_id: str
    first: _Frame
    last: _Frame
    best: _Frame
    # Frames kept for the extra snapshots: every `stride`-th motion frame; when the list
    # grows past twice what is needed, every other one goes and the stride doubles, so they
    # stay spread over the whole event whatever its length.
    spread: list[_Frame] = field(default_factory=list)
    stride: int = 1
    seen: int = 0


class EventBuilder:
    """Feed it every frame with `push()`; it returns the events that have just ended.
    `finish()` closes the event still open when the source ends.

    Counters for the agent's reports: `frames`, `events`, `throttled` (events not started
    because of the per-minute cap or the cool-down; motion that goes on past the throttle
    starts one then), `recalibrations` (background rebuilds: the first frame, lighting changes).
    """

    def __init__(self, settings: MotionSettings | None = None):
        self.settings = settings or MotionSettings()
        self.frames = self.events = self.throttled = self.recalibrations = 0
        self._streak: deque[_Frame] = deque(maxlen=self.settings.min_motion_frames)
        self._quiet = 0
        self._ongoing: _Ongoing | None = None
        self._suppressed = False
        self._starts: deque[datetime] = deque()
        self._last_end: datetime | None = None

    def push(
        self, frame_bgr: np.ndarray, result: MotionResult, at: datetime, index: int
    ) -> list[MotionEvent]:
        self.frames += 1
        self.recalibrations += result.recalibrated
        if not result.motion:
            return self._quiet_frame()
        self._quiet = 0
        frame = _Frame(index, at, frame_bgr.copy(), result)
        if self._ongoing:
            return self._continue(frame)
        self._streak.append(frame)
        if len(self._streak) == self._streak.maxlen:
            self._try_start(at)
        return []

    def finish(self) -> list[MotionEvent]:
        """The event still open, closed at its last motion frame (the source has ended)."""
        return [self._close()] if self._ongoing else []

    def stats(self) -> dict:
        return {
            "frames": self.frames,
            "events": self.events,
            "throttled": self.throttled,
            "recalibrations": self.recalibrations,
        }

    def _quiet_frame(self) -> list[MotionEvent]:
        self._streak.clear()
        self._quiet += 1
        if self._quiet < self.settings.end_after_frames:
            return []
        self._suppressed = False
        return [self._close()] if self._ongoing else []

    def _continue(self, frame: _Frame) -> list[MotionEvent]:
        self._keep(frame)
        age = (frame.at - self._ongoing.first.at).total_seconds()
        if age < self.settings.max_event_seconds:
            return []
        # Cut, not ended: the motion goes on, so no cool-down before the next part.
        return [self._close(cool_down=False)]

    def _try_start(self, at: datetime) -> None:
        if not self._allowed(at):
            if not self._suppressed:
                self._suppressed = True
                self.throttled += 1
            return
        # Motion that was throttled and goes on starts an event once the throttle allows it.
        self._suppressed = False
        self._starts.append(at)
        first = self._streak[0]
        self._ongoing = _Ongoing(str(uuid.uuid4()), first=first, last=first, best=first)
        for frame in self._streak:
            self._keep(frame)
        self._streak.clear()

    def _allowed(self, at: datetime) -> bool:
        while self._starts and (at - self._starts[0]).total_seconds() >= 60:
            self._starts.popleft()
        if len(self._starts) >= self.settings.max_events_per_minute:
            return False
        cooling = (
            self._last_end
            and (at - self._last_end).total_seconds() < self.settings.cooldown_seconds
        )
        return not cooling

    def _keep(self, frame: _Frame) -> None:
        event = self._ongoing
        event.last = frame
        if frame.result.score > event.best.result.score:
            event.best = frame
        event.seen += 1
        if (event.seen - 1) % event.stride:
            return
        event.spread.append(frame)
        if len(event.spread) > 2 * self.settings.max_snapshots:
            event.spread = event.spread[::2]
            event.stride *= 2

    def _close(self, cool_down: bool = True) -> MotionEvent:
        event, self._ongoing = self._ongoing, None
        if cool_down:
            self._last_end = event.last.at
        self.events += 1
        height, width = event.best.image.shape[:2]
        return MotionEvent(
            event_id=event.event_id,
            started_at=event.first.at,
            ended_at=event.last.at,
            start_frame=event.first.index,
            end_frame=event.last.index,
            score=round(event.best.result.score, 6),
            boxes=event.best.result.boxes,
            frame_width=width,
            frame_height=height,
            snapshots=[self._jpeg(f.image) for f in self._snapshot_frames(event)],
        )

    def _snapshot_frames(self, event: _Ongoing) -> list[_Frame]:
        others = [f for f in event.spread if f is not event.best]
        wanted = self.settings.max_snapshots - 1
        if len(others) > wanted:
            others = [others[i * len(others) // wanted] for i in range(wanted)]
        return [event.best, *others]

    def _jpeg(self, image: np.ndarray) -> bytes:
        ok, encoded = cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality]
        )
        if not ok:
            raise ValueError("the frame could not be encoded as JPEG")
        return encoded.tobytes()
