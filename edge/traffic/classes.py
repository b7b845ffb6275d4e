"""Vehicle classes learnt per camera: how long and wide a car is here, and what differs.

A camera sees a car as 40x30 px from a freeway gantry at 320x240 and as 200x300 over a parking
aisle, so no size in pixels holds for every camera. The counter learns instead: most of what
crosses a road's counting line is cars, so the most common length (along its way) and width
(across it) of the four-wheelers it has counted are a car's, and every vehicle is classed by
its own against them:

    shorter or narrower than TWO_WHEELER of a car   a bicycle (slower than the traffic now)
                                                    or a motorbike
    under LARGE times a car's length x width        a car (vans and SUVs among them)
    larger                                          a truck; a bus when it is also longer
                                                    for its width than a car by BUS_ELONGATION

Length and width rather than area: seen from the side a cyclist with the rider up is half a
car's area, but always well under half its length; from above or behind, under half its width.
Until LEARNT four-wheelers are counted, the first ones are taken for cars; among the first
few, the commonest size nearest a typical framing's car is. Sizes are the
track's box at the moment it counts (frame pixels). Classes are reported beside the count: a
class error never changes how many vehicles crossed; only bicycles (and pedestrians, which are
never counted) are no motor vehicles.
"""

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np

BICYCLE, BUS, CAR, MOTORBIKE, TRUCK = "bicycle", "bus", "car", "motorbike", "truck"
# Classes that are not motor vehicles: never in a motor-vehicle total.
NOT_MOTOR = frozenset({BICYCLE, "pedestrian"})

TWO_WHEELER = 0.55
LARGE = 2.2
BUS_ELONGATION = 1.4
# A two-wheeler slower than this share of the traffic's median speed is a bicycle.
BICYCLE_SPEED = 0.6
# Four-wheelers counted before the learnt sizes are used, and how many are remembered: sizes
# over a long stretch, speeds over the last few (the traffic's pace now: in a jam a
# motorbike is as slow as the cars around it).
LEARNT = 3
MEMORY = 200
RECENT = 20
# Lengths and widths within this factor of one another are one kind of vehicle (for the most
# common one), and fewer than FEW sizes are few. Before anything is learnt, a car is taken
# to be 1/PRIOR_PARTS of the frame's width long and of its height wide (a road camera's
# usual framing: a 320x240 freeway view's cars are about 40x30).
SAME_SIZE = 1.5
FEW = 10
PRIOR_PARTS = 8


@dataclass
class Calibration:
    """The sizes of the four-wheelers and the speeds of the motor vehicles counted on one
    camera (its state: `to_dict` / `from_dict`, which the agent keeps between runs)."""

    frame_size: tuple[int, int]
    sizes: deque = field(default_factory=lambda: deque(maxlen=MEMORY))  # (length, width)
    speeds: deque = field(default_factory=lambda: deque(maxlen=RECENT))

    def classify(self, length: float, width: float, speed: float) -> str:
        """The class of a vehicle `length` x `width` frame pixels (along and across its way)
        moving `speed` frame pixels per frame."""
        car_length, car_width = self.car_size((length, width))
        if length < TWO_WHEELER * car_length or width < TWO_WHEELER * car_width:
            traffic = self.traffic_speed()
            return BICYCLE if traffic and speed < BICYCLE_SPEED * traffic else MOTORBIKE
        if length * width < LARGE * car_length * car_width:
            return CAR
        if length / width >= BUS_ELONGATION * car_length / car_width:
            return BUS
        return TRUCK

    def learn(self, length: float, width: float, speed: float, vehicle_class: str) -> None:
        if vehicle_class in NOT_MOTOR or not all(map(math.isfinite, (length, width, speed))):
            return
        if speed > 0:
            self.speeds.append(float(speed))
        if vehicle_class != MOTORBIKE and length > 0 and width > 0:
            self.sizes.append((float(length), float(width)))

    def car_size(self, seen: tuple[float, float] | None = None) -> tuple[float, float]:
        """A car's (length, width) here: the most common size among the four-wheelers
        counted; while fewer than LEARNT are, among them and the vehicle `seen`, the one
        being classed (the first vehicles are taken for cars)."""
        sizes = list(self.sizes)
        if len(sizes) < LEARNT and seen is not None:
            sizes.append(seen)
        width, height = self.frame_size
        if not sizes:
            return (width / PRIOR_PARTS, height / PRIOR_PARTS)
        lengths, widths = np.asarray(sizes, np.float64).T
        group = _commonest(lengths * widths, width * height / PRIOR_PARTS**2)
        return float(np.median(lengths[group])), float(np.median(widths[group]))

    def traffic_speed(self) -> float | None:
        return statistics.median(self.speeds) if len(self.speeds) >= LEARNT else None

    def to_dict(self) -> dict:
        return {
            "frame_size": list(self.frame_size),
            "sizes": [list(s) for s in self.sizes],
            "speeds": list(self.speeds),
        }

    @classmethod
    def from_dict(cls, data, frame_size: tuple[int, int]) -> "Calibration":
        """A saved calibration; an empty one when it was saved for another frame size or is
        not one."""
        calibration = cls(tuple(frame_size))
        try:
            if [int(v) for v in data["frame_size"]] != [int(v) for v in frame_size]:
                return calibration
            for length, width in data["sizes"][-MEMORY:]:
                calibration.sizes.append((float(length), float(width)))
            for speed in data["speeds"][-RECENT:]:
                calibration.speeds.append(float(speed))
        except (KeyError, TypeError, ValueError):
            return cls(tuple(frame_size))
        return calibration


def _commonest(areas: np.ndarray, prior: float) -> np.ndarray:
    """Which of `areas` are the largest group within SAME_SIZE of one another; while there
    are few, of the groups one short of the largest or larger the one nearest `prior` (two
    trucks and a car, or a car and a motorbike, early on say little)."""
    logs = np.log(np.maximum(areas, 1e-6))
    near = np.abs(logs[:, None] - logs[None, :]) < 2 * math.log(SAME_SIZE)
    members = near.sum(axis=1)
    slack = 1 if len(areas) < FEW else 0
    candidates = np.flatnonzero(members >= members.max() - slack)
    return near[candidates[np.argmin(np.abs(logs[candidates] - math.log(prior)))]]
