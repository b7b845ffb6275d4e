"""Wall-clock intervals: the crossings and frames of one camera summed per interval, and the
report each closed interval becomes."""

import math
import uuid
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A pause between two frames longer than this is a gap in the interval's health.
GAP_SECONDS = 1.0
# With no frame for this long, intervals are closed by the wall clock (a dead camera still
# reports its empty intervals, and their gaps, on time).
IDLE_CLOSE_SECONDS = 2.0


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def aligned_start(at: datetime, length: float) -> datetime:
    """The start of the wall-clock interval of `length` seconds that holds `at` (UTC)."""
    seconds = at.timestamp()
    return datetime.fromtimestamp(math.floor(seconds / length) * length, UTC)


@dataclass
class Report:
    """One closed interval of one camera: what is posted to the counts endpoint."""

    start: datetime
    end: datetime
    config_version: int
    counts: dict[tuple, int]  # (line id, direction, class) -> n
    movements: dict[tuple, int]  # (from line id, to line id, class) -> n
    frames: int
    dropped_frames: int
    gaps_seconds: float
    partial: bool
    key: str = field(default_factory=lambda: str(uuid.uuid4()))

    def fps(self) -> float:
        seen = (self.end - self.start).total_seconds() - self.gaps_seconds
        return round(self.frames / seen, 1) if seen > 0 else 0.0

    def payload(self) -> dict:
        return {
            "key": self.key,
            "start": self.start.isoformat(timespec="milliseconds"),
            "end": self.end.isoformat(timespec="milliseconds"),
            "config_version": self.config_version,
            "counts": [
                {"line": line, "direction": direction, "class": kind, "count": n}
                for (line, direction, kind), n in sorted(self.counts.items(), key=_sort_key)
                if n
            ],
            "movements": [
                {"from_line": first, "to_line": second, "class": kind, "count": n}
                for (first, second, kind), n in sorted(self.movements.items(), key=_sort_key)
                if n
            ],
            "health": {
                "fps": self.fps(),
                "frames": self.frames,
                "dropped_frames": self.dropped_frames,
                "gaps_seconds": round(self.gaps_seconds, 1),
                "partial": self.partial,
            },
        }


def _sort_key(item) -> tuple:
    return tuple(str(part) for part in item[0])


class Intervals:
    """Crossings and frames of one camera summed into wall-clock intervals.

    Pure bookkeeping, driven by the frames' timestamps (`frame(at)`) and, when no frame comes,
    by the wall clock (`idle(now)`); each returns the intervals it closed. A new configuration
    (`reconfigure`) takes effect at the next interval, so every report is counted under one
    configuration.
    """

    def __init__(self, *, length: float, config_version: int, started_at: datetime):
        self.length = float(length)
        self.config_version = config_version
        self._pending: tuple[int, float] | None = None
        self._open(_utc(started_at), partial=False)
        self.last_at = self.start  # the last frame, or where gaps are measured from

    def _open(self, start: datetime, *, partial: bool) -> None:
        if self._pending:
            self.config_version, self.length = self._pending
            self._pending = None
        self.start = start
        self.end = aligned_start(start, self.length) + timedelta(seconds=self.length)
        self.partial = partial or start != aligned_start(start, self.length)
        self.counts: Tally = Tally()
        self.movements: Tally = Tally()
        self.frames = 0
        self.dropped = 0
        self.gaps = 0.0

    def reconfigure(self, *, config_version: int, length: float) -> None:
        """From the next interval on: a new config version and interval length (seconds)."""
        self._pending = (config_version, float(length))

    def frame(self, at: datetime, dropped: int = 0) -> list[Report]:
        """A frame was read at `at` (`dropped` frames were skipped before it)."""
        at = max(_utc(at), self.start)  # a late frame counts in the open interval
        is_gap = (at - self.last_at).total_seconds() > GAP_SECONDS
        closed = self._close_until(at, gap=is_gap)
        if is_gap:
            self.gaps += (at - self.last_at).total_seconds()
        self.frames += 1
        self.dropped += dropped
        self.last_at = at
        return closed

    def idle(self, now: datetime) -> list[Report]:
        """No frame came for a while: close the intervals that ended more than
        IDLE_CLOSE_SECONDS before `now`, their silence counted as gaps."""
        now = _utc(now)
        if (now - self.last_at).total_seconds() < IDLE_CLOSE_SECONDS:
            return []
        return self._close_until(now - timedelta(seconds=IDLE_CLOSE_SECONDS), gap=True)

    def count(self, line, direction: str, vehicle_class: str, n: int = 1) -> None:
        self.counts[(line, direction, vehicle_class)] += n

    def count_movement(self, first, second, vehicle_class: str, n: int = 1) -> None:
        self.movements[(first, second, vehicle_class)] += n

    def finish(self, at: datetime) -> list[Report]:
        """Stop at `at`: the intervals before it, then the open one up to `at`, partial."""
        at = max(_utc(at), self.last_at)
        closed = self._close_until(at, gap=(at - self.last_at).total_seconds() > GAP_SECONDS)
        if at > self.start or self.frames:
            if (at - self.last_at).total_seconds() > GAP_SECONDS:
                self.gaps += (at - self.last_at).total_seconds()
            closed.append(self._report(at, partial=True))
        return closed

    def _close_until(self, at: datetime, *, gap: bool) -> list[Report]:
        closed = []
        while at >= self.end:
            if gap:
                self.gaps += (self.end - max(self.last_at, self.start)).total_seconds()
            closed.append(self._report(self.end, partial=self.partial))
            self._open(self.end, partial=False)
            self.last_at = self.start
        return closed

    def _report(self, end: datetime, *, partial: bool) -> Report:
        length = (end - self.start).total_seconds()
        return Report(
            start=self.start,
            end=end,
            config_version=self.config_version,
            counts=dict(self.counts),
            movements=dict(self.movements),
            frames=self.frames,
            dropped_frames=self.dropped,
            gaps_seconds=min(self.gaps, length),
            partial=partial or length < self.length,
        )
