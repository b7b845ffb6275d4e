"""Generated traffic scenes with exact ground truth, for the tests and benchmarks.

A straight road across a 640x480 view seen from above: four lanes (the two upper ones
westbound, the two lower ones eastbound), textured asphalt, lane marks, a sidewalk with
pedestrians (who cross the counting lines' extensions, never the lines). Vehicles
(motorbikes, cars, trucks: textured boxes with windows, sized for the default size classes)
follow each other closely at varied speeds; red lights stop them with the first one's
centre on a counting line (it may roll back a little before going on) and queue the others.
Each vehicle casts a shadow attached to it; the light can ramp; sensor noise on every frame.

    scene = traffic_scene(seed=1, seconds=60)
    for frame in scene.frames():   # rendered one at a time
        ...
    scene.truth()      # {"A": {"in": {"car": 12, ...}, "out": {...}}, ...}
    write_clip(scene, "traffic.avi")

The truth comes from the vehicles' paths alone: a vehicle counts for a line when its centre
ends on the other side of the line from where it started and its path met the segment.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .settings import Line

WIDTH, HEIGHT = 640, 480
FPS = 25.0
ROAD_TOP, LANE_HEIGHT, LANE_COUNT = 110, 90, 4
ROAD_BOTTOM = ROAD_TOP + LANE_HEIGHT * LANE_COUNT
# Lanes 0 and 1 go west (x decreasing), 2 and 3 east.
LANE_DIRECTION = (-1, -1, 1, 1)
CLASSES = {
    # width x height in frame pixels; areas 648 .. 880, 3,192 .. 5,060, 15,200 .. 18,400.
    "motorbike": [(36, 18), (44, 20)],
    "car": [(84, 38), (96, 42), (110, 46)],
    "truck": [(200, 76), (230, 80)],
}
PAINTS = [
    (235, 235, 235),
    (190, 190, 195),
    (40, 40, 45),
    (40, 40, 200),
    (160, 80, 30),
    (70, 120, 60),
    (30, 160, 220),
    (120, 110, 100),
]
# Vehicles leave a jam gap of this many pixels (queues) plus their speed times a headway.
JAM_GAP = (10, 24)
HEADWAY_FRAMES = (3, 10)
ACCELERATION = 0.25  # pixels per frame per frame
NOISE_MARGIN = 32
NOISE_FIELDS = 4


def standard_lines() -> list[Line]:
    """A (x=200) and B (x=440) across the whole road, C (x=320) across the eastbound lanes
    only. Eastbound traffic goes "in" across A and C and "out" across B; westbound the
    other way round, and it crosses C's extension, which does not count."""
    return [
        Line(1, "A", (200, ROAD_TOP), (200, ROAD_BOTTOM)),
        Line(2, "B", (440, ROAD_BOTTOM), (440, ROAD_TOP)),
        Line(3, "C", (320, ROAD_TOP + 2 * LANE_HEIGHT), (320, ROAD_BOTTOM)),
    ]


@dataclass
class Vehicle:
    id: int
    vehicle_class: str
    size: tuple[int, int]
    lane: int
    first_frame: int
    # The centre's x at each frame from first_frame on; y is the lane's centre.
    xs: np.ndarray
    paint: tuple[int, int, int]

    @property
    def y(self) -> float:
        return ROAD_TOP + LANE_HEIGHT * (self.lane + 0.5)

    @property
    def last_frame(self) -> int:
        return self.first_frame + len(self.xs) - 1

    def centre_at(self, index: int) -> tuple[float, float] | None:
        if not self.first_frame <= index <= self.last_frame:
            return None
        return float(self.xs[index - self.first_frame]), self.y


@dataclass
class Pedestrian:
    first_frame: int
    x0: float
    speed: float
    y: float
    size: tuple[int, int] = (16, 30)


@dataclass
class TrafficScene:
    """A generated clip: `frames()` renders it lazily, `truth()` says what crossed."""

    frame_count: int
    vehicles: list[Vehicle]
    lines: list[Line]
    seed: int = 0
    noise: float = 4.0
    shadow: tuple[int, int] = (10, 8)
    shadow_darkness: float = 0.55
    lighting: tuple[float, ...] = (1.0,)
    pedestrians: list[Pedestrian] = field(default_factory=list)
    fps: float = FPS

    def truth(self) -> dict:
        """{line name: {"in": {class: n}, "out": {class: n}}} of vehicles whose centre
        crossed the segment (zero counts left out)."""
        counts = {line.name: {"in": {}, "out": {}} for line in self.lines}
        for vehicle in self.vehicles:
            for line, direction, _ in _crossings(vehicle, self.lines):
                by_class = counts[line.name][direction]
                by_class[vehicle.vehicle_class] = by_class.get(vehicle.vehicle_class, 0) + 1
        return counts

    def crossings(self) -> list[tuple[str, str, str, int]]:
        """(line name, direction, class, frame) of every true crossing, in frame order."""
        found = [
            (line.name, direction, vehicle.vehicle_class, frame)
            for vehicle in self.vehicles
            for line, direction, frame in _crossings(vehicle, self.lines)
        ]
        return sorted(found, key=lambda c: c[3])

    def movements(self) -> dict:
        """{(from line name, to line name, class): n}: each pair of lines crossed one after
        the other by one vehicle."""
        movements: dict = {}
        for vehicle in self.vehicles:
            crossed = sorted(_crossings(vehicle, self.lines), key=lambda c: c[2])
            for (a, _, _), (b, _, _) in zip(crossed, crossed[1:], strict=False):
                key = (a.name, b.name, vehicle.vehicle_class)
                movements[key] = movements.get(key, 0) + 1
        return movements

    def frames(self) -> Iterator[np.ndarray]:
        """The clip's uint8 BGR frames, rendered one at a time."""
        rng = np.random.default_rng(self.seed + 7919)
        road = road_texture(self.seed)
        patches = {v.id: _vehicle_patch(v, rng) for v in self.vehicles}
        noise_fields = [
            rng.normal(0, self.noise, (HEIGHT + NOISE_MARGIN, WIDTH + NOISE_MARGIN, 3)).astype(
                np.float32
            )
            for _ in range(NOISE_FIELDS)
        ]
        gains = np.interp(
            np.arange(self.frame_count),
            np.linspace(0, self.frame_count - 1, len(self.lighting)),
            self.lighting,
        )
        by_start = sorted(self.vehicles, key=lambda v: v.first_frame)
        for index in range(self.frame_count):
            frame = road.copy()
            visible = [v for v in by_start if v.first_frame <= index <= v.last_frame]
            for vehicle in visible:
                self._shade(frame, _box(vehicle, index), self.shadow)
            for vehicle in visible:
                _paste(frame, patches[vehicle.id], _box(vehicle, index))
            for person in self.pedestrians:
                self._draw_pedestrian(frame, person, index)
            lit = frame.astype(np.float32)
            lit *= gains[index]
            if self.noise:
                x, y = (int(v) for v in rng.integers(0, NOISE_MARGIN, 2))
                lit += noise_fields[int(rng.integers(NOISE_FIELDS))][y : y + HEIGHT, x : x + WIDTH]
            yield np.clip(lit, 0, 255).astype(np.uint8)

    def timed(self) -> Iterator[tuple[np.ndarray, float]]:
        """(frame, seconds into the clip), as the counter's dry run takes them."""
        for index, frame in enumerate(self.frames()):
            yield frame, index / self.fps

    def _shade(self, frame: np.ndarray, box, offset) -> None:
        x, y, w, h = box
        _darken(frame, (x + offset[0], y + offset[1], w, h), self.shadow_darkness)

    @staticmethod
    def _draw_pedestrian(frame: np.ndarray, person: Pedestrian, index: int) -> None:
        if index < person.first_frame:
            return
        x = person.x0 + person.speed * (index - person.first_frame)
        w, h = person.size
        top = int(person.y - h / 2)
        cv2.rectangle(frame, (int(x), top), (int(x) + w, top + h), (60, 50, 140), -1)
        cv2.circle(frame, (int(x) + w // 2, top + 5), 5, (40, 60, 90), -1)


def traffic_scene(
    *,
    seed: int = 0,
    seconds: float = 60.0,
    vehicles_per_minute: float = 40.0,
    speed: tuple[float, float] = (3.0, 9.0),
    red_lights: int = 2,
    red_seconds: tuple[float, float] = (2.0, 5.0),
    shadow: tuple[int, int] = (10, 8),
    shadow_darkness: float = 0.55,
    lighting: tuple[float, ...] = (1.0,),
    noise: float = 4.0,
    pedestrians: int = 4,
    headway: tuple[float, float] = HEADWAY_FRAMES,
    mix: dict | None = None,
    lines: list[Line] | None = None,
) -> TrafficScene:
    """A scene: vehicles arrive for `seconds` (then the clip runs until the last has left)
    at `vehicles_per_minute` over the four lanes, each at a speed drawn from `speed`
    (pixels per frame at 25 fps), with `red_lights` red phases per lane that stop the first
    vehicle on the line (eastbound on B, westbound on A); `lighting` is the gain at evenly
    spaced times (e.g. (1, 0.5, 1.3, 1) for a ramp); a vehicle keeps a gap of 10-24 px plus
    its speed times a quarter of `headway` frames behind the one ahead (3: bumper to bumper
    at speed; 40: spaced out)."""
    rng = np.random.default_rng(seed)
    mix = mix or {"motorbike": 0.15, "car": 0.7, "truck": 0.15}
    lines = lines or standard_lines()
    arrive_frames = int(seconds * FPS)
    per_lane = vehicles_per_minute / 60 / FPS / LANE_COUNT
    vehicles: list[Vehicle] = []
    for lane in range(LANE_COUNT):
        stop_x = 440 if LANE_DIRECTION[lane] > 0 else 200
        reds = _red_phases(rng, red_lights, red_seconds, arrive_frames)
        vehicles += _simulate_lane(
            rng, lane, stop_x, reds, per_lane, arrive_frames, speed, headway, mix, len(vehicles)
        )
    frame_count = max(v.last_frame for v in vehicles) + 10 if vehicles else arrive_frames
    walkers = [
        Pedestrian(
            first_frame=int(rng.integers(0, max(1, frame_count - 200))),
            x0=float(rng.choice([-20, WIDTH])),
            speed=0.0,
            y=float(rng.uniform(70, 95)),
        )
        for _ in range(pedestrians)
    ]
    for walker in walkers:
        walker.speed = float(rng.uniform(1.2, 2.2)) * (1 if walker.x0 < 0 else -1)
    return TrafficScene(
        frame_count=frame_count,
        vehicles=vehicles,
        lines=lines,
        seed=seed,
        noise=noise,
        shadow=shadow,
        shadow_darkness=shadow_darkness,
        lighting=tuple(lighting),
        pedestrians=walkers,
    )


def _red_phases(rng, count: int, seconds: tuple[float, float], frames: int) -> list:
    phases = []
    for _ in range(count):
        start = int(rng.uniform(0.15, 0.85) * frames)
        length = int(rng.uniform(*seconds) * FPS)
        rollback = float(rng.choice([0.0, 0.0, 4.0, 7.0]))
        phases.append((start, start + length, rollback))
    return phases


def _simulate_lane(rng, lane, stop_x, reds, rate, arrive_frames, speed, headway, mix, first_id):
    """Positions of the lane's vehicles frame by frame, along the lane (u: how far the front
    has come from the entry edge), following each other and stopping at red lights."""
    direction = LANE_DIRECTION[lane]
    classes = list(mix)
    weights = np.array([mix[c] for c in classes], np.float64)
    arrivals = np.flatnonzero(rng.random(arrive_frames) < rate)
    arrivals = arrivals[arrivals >= 15]
    specs = []
    for number, frame in enumerate(arrivals):
        vehicle_class = str(rng.choice(classes, p=weights / weights.sum()))
        sizes = CLASSES[vehicle_class]
        size = sizes[int(rng.integers(len(sizes)))]
        top = speed[1] * (0.75 if vehicle_class == "truck" else 1.0)
        specs.append(
            {
                "id": first_id + number + 1,
                "class": vehicle_class,
                "size": size,
                "arrive": int(frame),
                "speed": float(rng.uniform(speed[0], max(speed[0], top))),
                "jam": float(rng.uniform(*JAM_GAP)),
                "headway": float(rng.uniform(*headway)),
                "stop_offset": float(rng.uniform(-5, 5)),
                "paint": PAINTS[int(rng.integers(len(PAINTS)))],
            }
        )
    # The line's place along the lane: the front reaches it when u = stop_u.
    stop_u = stop_x + 1 if direction > 0 else WIDTH - stop_x + 1
    road_length = WIDTH + 2
    active: list[dict] = []
    waiting = list(specs)
    finished = []
    frame = 0
    while waiting or active:
        red = next((p for p in reds if p[0] <= frame < p[1]), None)
        rolling = next((p for p in reds if p[1] <= frame < p[1] + 8 and p[2]), None)
        leader = None
        for spec in active:
            _advance(spec, leader, red, rolling, stop_u)
            leader = spec
        for spec in [s for s in active if s["u"] - s["size"][0] > road_length]:
            active.remove(spec)
            finished.append(spec)
        if waiting and waiting[0]["arrive"] <= frame:
            last = active[-1] if active else None
            spec = waiting[0]
            if last is None or last["u"] - last["size"][0] > spec["jam"] + 2 * last["v"] + 4:
                waiting.pop(0)
                spec.update(u=0.0, v=min(spec["speed"], last["v"]) if last else spec["speed"])
                spec.update(first_frame=frame, path=[0.0], stopped_at_line=False)
                active.append(spec)
        frame += 1
        if frame > arrive_frames * 4 + 5000:
            break
    return [_vehicle(spec, lane, direction) for spec in finished]


def _advance(spec: dict, leader, red, rolling, stop_u: float) -> None:
    u, v = spec["u"], spec["v"]
    w = spec["size"][0]
    target = u + min(spec["speed"], v + ACCELERATION)
    if leader is not None:
        room = leader["u"] - leader["size"][0] - spec["jam"] - v * spec["headway"] / 4
        target = min(target, max(u, room))
    stop_front = stop_u + w / 2 + spec["stop_offset"]
    if red is not None and u <= stop_front:
        target = min(target, stop_front)
        if target >= stop_front - 0.01:
            spec["stopped_at_line"] = True
    if rolling is not None and spec["stopped_at_line"] and v <= 0.01:
        target = u - rolling[2] / 8  # rolls back a little before going on
    elif rolling is None:
        spec["stopped_at_line"] = False if u > stop_front + 1 else spec["stopped_at_line"]
    spec["v"] = max(0.0, target - u)
    spec["u"] = target
    spec["path"].append(target)


def _vehicle(spec: dict, lane: int, direction: int) -> Vehicle:
    w = spec["size"][0]
    u = np.array(spec["path"], np.float64)
    # u is where the front is; the centre is half a length behind it.
    xs = u - w / 2 - 1 if direction > 0 else WIDTH + 1 - u + w / 2
    return Vehicle(
        id=spec["id"],
        vehicle_class=spec["class"],
        size=spec["size"],
        lane=lane,
        first_frame=spec["first_frame"],
        xs=xs,
        paint=spec["paint"],
    )


def _crossings(vehicle: Vehicle, lines: list[Line]):
    """(line, direction, frame) for each line the vehicle's centre ended beyond."""
    y = vehicle.y
    for line in lines:
        (x1, y1), (x2, y2) = line.p1, line.p2
        dx, dy = x2 - x1, y2 - y1
        sides = dx * (y - y1) - dy * (vehicle.xs - x1)
        if (sides[0] > 0) == (sides[-1] > 0):
            continue
        changes = np.flatnonzero((sides[1:] > 0) != (sides[:-1] > 0))
        last = int(changes[-1])
        a, b = sides[last], sides[last + 1]
        x = vehicle.xs[last] + (vehicle.xs[last + 1] - vehicle.xs[last]) * a / (a - b)
        along = (dx * (x - x1) + dy * (y - y1)) / (dx * dx + dy * dy)
        if 0 <= along <= 1:
            yield line, "in" if sides[0] > 0 else "out", vehicle.first_frame + last + 1


def _box(vehicle: Vehicle, index: int) -> tuple[int, int, int, int]:
    x, y = vehicle.centre_at(index)
    w, h = vehicle.size
    return round(x - w / 2), round(y - h / 2), w, h


def road_texture(seed: int = 0) -> np.ndarray:
    """The empty street (uint8 BGR): grass, a sidewalk of tiles, a kerb, asphalt, marks."""
    rng = np.random.default_rng(seed + 101)
    scene = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    scene[:] = (95, 98, 100)
    for cells, weight in ((6, 10.0), (40, 8.0), (200, 9.0)):
        coarse = rng.uniform(-1, 1, (cells * HEIGHT // WIDTH + 1, cells, 1)).astype(np.float32)
        grain = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
        scene += weight * grain[:, :, None]
    scene[: ROAD_TOP - 60] = (60, 120, 70)
    scene[: ROAD_TOP - 60] += rng.uniform(-15, 15, (ROAD_TOP - 60, WIDTH, 1))
    sidewalk = scene[ROAD_TOP - 60 : ROAD_TOP - 4]
    sidewalk[:] = (150, 155, 160)
    sidewalk += rng.uniform(-6, 6, sidewalk.shape[:2] + (1,))
    for x in range(0, WIDTH, 40):
        cv2.line(scene, (x, ROAD_TOP - 60), (x, ROAD_TOP - 4), (120, 125, 130), 1)
    scene[ROAD_TOP - 4 : ROAD_TOP] = (200, 200, 200)
    scene[ROAD_BOTTOM:] = (190, 190, 190)
    middle = ROAD_TOP + 2 * LANE_HEIGHT
    cv2.line(scene, (0, middle - 3), (WIDTH, middle - 3), (40, 190, 220), 2)
    cv2.line(scene, (0, middle + 3), (WIDTH, middle + 3), (40, 190, 220), 2)
    for y in (ROAD_TOP + LANE_HEIGHT, ROAD_TOP + 3 * LANE_HEIGHT):
        for x in range(0, WIDTH, 80):
            cv2.rectangle(scene, (x, y - 2), (x + 40, y + 2), (225, 225, 225), -1)
    return np.clip(scene, 0, 255).astype(np.uint8)


def _vehicle_patch(vehicle: Vehicle, rng: np.random.Generator) -> np.ndarray:
    w, h = vehicle.size
    patch = np.empty((h, w, 3), np.float32)
    patch[:] = vehicle.paint
    grain = rng.uniform(-14, 14, (max(1, h // 4), max(1, w // 4), 1)).astype(np.float32)
    patch += cv2.resize(grain, (w, h), interpolation=cv2.INTER_NEAREST)[:, :, None]
    glass = (45, 40, 35)
    front_is_right = LANE_DIRECTION[vehicle.lane] > 0
    if vehicle.vehicle_class == "motorbike":
        cv2.circle(patch, (w // 2, h // 2), h // 3, (30, 30, 30), -1)  # the rider's helmet
    else:
        window = max(4, w // 6)
        front = w - window - w // 8 if front_is_right else w // 8
        rear = w // 10 if front_is_right else w - w // 10 - window // 2
        cv2.rectangle(patch, (front, 3), (front + window, h - 4), glass, -1)
        cv2.rectangle(patch, (rear, 4), (rear + window // 2, h - 5), glass, -1)
    cv2.rectangle(patch, (0, 0), (w - 1, h - 1), (25, 25, 25), 1)
    return np.clip(patch, 0, 255).astype(np.uint8)


def _clip(frame: np.ndarray, box):
    x, y, w, h = box
    height, width = frame.shape[:2]
    return max(0, x), max(0, y), min(width, x + w), min(height, y + h)


def _paste(frame: np.ndarray, patch: np.ndarray, box) -> None:
    left, top, right, bottom = _clip(frame, box)
    if left < right and top < bottom:
        x, y = box[:2]
        frame[top:bottom, left:right] = patch[top - y : bottom - y, left - x : right - x]


def _darken(frame: np.ndarray, box, factor: float) -> None:
    left, top, right, bottom = _clip(frame, box)
    if left < right and top < bottom:
        frame[top:bottom, left:right] = cv2.convertScaleAbs(
            frame[top:bottom, left:right], alpha=factor
        )


def write_clip(scene: TrafficScene, path: str | Path) -> Path:
    """Write the scene to a video file (MJPG in .avi, which OpenCV writes without FFmpeg's
    encoders), rendering it frame by frame; return the path."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), scene.fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    try:
        for frame in scene.frames():
            writer.write(frame)
    finally:
        writer.release()
    return path
