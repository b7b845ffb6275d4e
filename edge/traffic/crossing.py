"""When a track has crossed a line: a state machine per track and line, with no video in it.

A track's positions are fed one after another (`LineRule.step`). Its side of the line is
only taken as changed once it is `margin` pixels beyond the line (hysteresis): a vehicle that
stops, wobbles or rolls back on the line stays on the side it came from until it has clearly
left it. A change of side counts when the track's path met the line between the segment's
two points (where the sign of its distance last changed, interpolated between two positions
however far apart: a track lost for a few frames and found again beyond the line counts),
and at most once per direction.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

from .settings import Line

IN, OUT = "in", "out"


@dataclass
class Crossing:
    """One vehicle across one line."""

    track_id: int
    line: int | str  # Line.id
    direction: str  # "in" | "out"
    vehicle_class: str
    frame: int
    at: datetime | float


@dataclass
class LineState:
    """What one track has done about one line."""

    side: int = 0  # +1 right of the line, -1 left, 0 not yet clear of the band
    # The side of the line (+1, -1) the track was first seen on, within the band or not ...
    born: int = 0
    # ... and whether that says where it comes from (it came into view whole, there).
    trust_birth: bool = False
    last_distance: float | None = None
    last_point: tuple[float, float] | None = None
    # Where along the line (0 = p1, 1 = p2) the path last changed sign; None: never.
    zero_at: float | None = None
    counted: set[str] = field(default_factory=set)

    def absorb(self, other: "LineState") -> None:
        """Take over what a duplicate track of the same vehicle counted."""
        self.counted |= other.counted


class LineRule:
    """The geometry of one line and the hysteresis rule that turns positions into crossings.

    Positions and `margin` are in the line's pixels. `side` > 0 right of the line (as drawn,
    from p1 to p2 on screen), < 0 left; from right to left is "in".
    """

    def __init__(self, line: Line, margin: float):
        self.line = line
        self.margin = margin
        (x1, y1), (x2, y2) = line.p1, line.p2
        self._origin = (x1, y1)
        self._d = (x2 - x1, y2 - y1)
        self._length = math.hypot(*self._d)

    def distance(self, point: tuple[float, float]) -> float:
        """Signed distance of `point` from the line's infinite extension (> 0: right)."""
        (dx, dy), (x1, y1) = self._d, self._origin
        return (dx * (point[1] - y1) - dy * (point[0] - x1)) / self._length

    def along(self, point: tuple[float, float]) -> float:
        """Where `point` projects on the line: 0 at p1, 1 at p2."""
        (dx, dy), (x1, y1) = self._d, self._origin
        return (dx * (point[0] - x1) + dy * (point[1] - y1)) / self._length**2

    def step(self, state: LineState, point: tuple[float, float], length: float = 0.0) -> str | None:
        """Feed the track's next position; return "in" or "out" when this step counts.

        `length`: the vehicle's extent across the line, for the reversal margin.
        """
        distance = self.distance(point)
        previous = state.last_distance
        if previous is not None and (distance > 0) != (previous > 0):
            fraction = previous / (previous - distance)
            (px, py) = state.last_point
            met = (px + fraction * (point[0] - px), py + fraction * (point[1] - py))
            state.zero_at = self.along(met)
        state.last_distance, state.last_point = distance, point
        if previous is None:
            state.born = 1 if distance > 0 else -1
        zone = 1 if distance > self.margin else -1 if distance < -self.margin else 0
        if zone == 0 or zone == state.side:
            return None
        if state.side == 0:  # first clear of the band: where it comes from ...
            state.side = zone
            if not state.trust_birth or state.born == zone or state.zero_at is None:
                return None
            # ... unless it came into view within the band on the other side and crossed
            return self._count(state, IN if zone < 0 else OUT)
        direction = IN if state.side > 0 else OUT
        reverse = (OUT if direction == IN else IN) in state.counted
        if reverse and abs(distance) < max(3 * self.margin, length / 2):
            return None  # back over a line it crossed: only when clearly back
        state.side = zone
        return self._count(state, direction)

    def finish(self, state: LineState) -> str | None:
        """The track ends (left the view, lost): it counts if it was last seen past the
        line's middle, coming from a clear side, within the segment."""
        if state.side == 0 or state.last_distance is None:
            return None
        if (state.last_distance > 0) == (state.side > 0):
            return None
        return self._count(state, IN if state.side > 0 else OUT)

    @staticmethod
    def _count(state: LineState, direction: str) -> str | None:
        if state.zero_at is None or not 0.0 <= state.zero_at <= 1.0:
            return None  # crossed the extension, not the segment
        if direction in state.counted:
            return None
        state.counted.add(direction)
        return direction
