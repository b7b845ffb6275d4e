"""Counting lines and the counter's settings: every knob with its default and what it does."""

import math
import re
from dataclasses import asdict, dataclass, field, fields


@dataclass
class Line:
    """A counting line from `p1` to `p2` in the camera frame's pixels (y grows downwards).

    A vehicle crossing from the right of the line to its left, seen standing on `p1` looking
    towards `p2`, goes "in"; the other way goes "out". Only crossings of the segment count,
    not of its extension.
    """

    id: int | str
    name: str
    p1: tuple[float, float]
    p2: tuple[float, float]

    def __post_init__(self):
        self.p1 = (float(self.p1[0]), float(self.p1[1]))
        self.p2 = (float(self.p2[0]), float(self.p2[1]))
        if math.dist(self.p1, self.p2) < 1:
            raise ValueError(f"line {self.name!r}: its two points are the same")

    def direction_of(self, vector: tuple[float, float]) -> str:
        """The direction ("in" or "out") of a vehicle travelling along `vector` (image
        pixels, y down) across the line."""
        (x1, y1), (x2, y2) = self.p1, self.p2
        return "in" if (x2 - x1) * vector[1] - (y2 - y1) * vector[0] < 0 else "out"


LINE_TEXT = re.compile(r"^\s*(?P<name>[^:]+?)\s*:(?P<coords>[^:]+)$")


def parse_line(text: str) -> Line:
    """A line from the command line's `NAME:x1,y1,x2,y2` (frame pixels); its id is its name."""
    match = LINE_TEXT.match(text)
    numbers = match and [part.strip() for part in match["coords"].split(",")]
    try:
        x1, y1, x2, y2 = (float(n) for n in numbers)
    except (TypeError, ValueError):
        raise ValueError(
            f"a line is NAME:x1,y1,x2,y2 in the clip's pixels (e.g. North:0,240,640,240), "
            f"not {text!r}"
        ) from None
    return Line(id=match["name"], name=match["name"], p1=(x1, y1), p2=(x2, y2))


def lines_from_config(config: dict) -> list[Line]:
    """The lines of the server's camera config (`{"lines": [{"id", "name", "x1", ...}]}`)."""
    return [
        Line(
            id=line["id"],
            name=line["name"],
            p1=(line["x1"], line["y1"]),
            p2=(line["x2"], line["y2"]),
        )
        for line in config.get("lines", [])
    ]


def default_size_classes() -> list[dict]:
    # As the server's default: pixel areas at 640x480.
    return [
        {"class": "motorbike", "min_area": 0},
        {"class": "car", "min_area": 2500},
        {"class": "truck", "min_area": 12000},
    ]


# Keys of the server's camera config that are not analysis variables: from_config() skips them.
SERVER_KEYS = {"camera", "version", "width", "height", "source", "interval_minutes", "lines"}


@dataclass
class CounterSettings:
    """How frames become blobs, blobs become tracks and tracks become counts.

    Areas, masks and distances are in pixels of the camera's frame (the `frame_size` given to
    the Counter); the counter works on a frame shrunk to `process_width` and scales back.
    Frame counts assume 15-30 fps; at a lower frame rate lower `max_missed_frames`.
    """

    # --- the server's analysis variables ---
    # Blobs smaller than this (frame pixels) are noise, not vehicles. None: a share of the
    # frame (400 px at 640x480, 100 at 320x240).
    min_blob_area: float | None = None
    # 0..1: higher finds fainter vehicles (a grey car on grey asphalt), and more noise. A
    # pixel is foreground when its colour differs from the background by more than
    # `30 + 50 * (1 - sensitivity)` levels (summed over B, G and R) above the frame's median
    # difference (the noise floor, which sensor noise raises for every pixel at once).
    sensitivity: float = 0.5
    # [{"class": name, "min_area": frame pixels}]: a vehicle is of the class with the largest
    # `min_area` not above its blob area (the median over its track). None: classes learnt
    # from the vehicles the camera sees (edge.traffic.classes).
    size_classes: list[dict] | None = None
    # Polygons [[x, y], ...] (frame pixels) where nothing is detected (trees, a sidewalk).
    masks: list[list[list[float]]] = field(default_factory=list)

    # --- background ---
    # Width the frame is shrunk to first (aspect kept): everything after costs a quarter of
    # the full frame at 320 for 640x480. Cars stay 40+ pixels long.
    process_width: int = 320
    # Share of the frame mixed into the background per frame where nothing moves (follows
    # slow light changes the global gain does not explain: a shadow of a building turning).
    learning_rate: float = 0.02
    # ... and under blobs and tracked vehicles: a vehicle waiting at a red light stays
    # foreground for minutes (0.0002: a third faded after 90 s at 25 fps), while a parked car
    # or the ghost of one that stood there at start fades in the end.
    foreground_learning_rate: float = 0.0002
    # Frames kept at start: their median (what each pixel shows most of the time, not the
    # vehicles passing) is the first background, then they are counted on it, so that the
    # vehicles in view from the first frame count and none is left in the background.
    warmup_frames: int = 30
    # Shadows: a pixel darker than the background by a ratio in [shadow_min_ratio,
    # shadow_max_ratio], the same in B, G and R within `shadow_chroma`, and uniform over its
    # 5x5 neighbourhood (a shadow keeps the asphalt's texture, a dark car does not) is a
    # shadow, not part of the vehicle.
    shadow_suppression: bool = True
    shadow_min_ratio: float = 0.3
    shadow_max_ratio: float = 0.88
    shadow_chroma: float = 0.12
    shadow_texture: float = 0.035

    # --- blobs (processing-width pixels) ---
    # An opening removes speckles of this size, a closing joins the parts of one vehicle
    # (windows, a roof of the asphalt's colour) across gaps up to about this size.
    open_size: int = 3
    close_size: int = 5

    # --- tracker ---
    # A track is unseen for at most this many frames (an occlusion by a pole, a passing
    # truck) before it ends; it is found again near where its velocity takes it.
    max_missed_frames: int = 12
    # Frames a new track must be seen before it counts (flickers, noise).
    min_hits: int = 3
    # Position smoothing: the share of a new measurement in a track's position (0..1) and
    # in its velocity.
    position_gain: float = 0.6
    velocity_gain: float = 0.3

    # --- counting ---
    # A track has crossed a line when it is this far (frame pixels) beyond it; a vehicle
    # wobbling or stopping within this band is not counted again. A crossing in the opposite
    # direction of one already counted needs three times this, or half the vehicle's length.
    # None: 1/80 of the frame's width (8 px at 640).
    crossing_margin: float | None = None

    def __post_init__(self):
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid counter settings: " + "; ".join(problems))
        if self.size_classes is not None:
            self.size_classes = sorted(self.size_classes, key=lambda c: c["min_area"])

    def _problems(self):
        if self.min_blob_area is not None and self.min_blob_area < 0:
            yield "min_blob_area must be at least 0"
        if not 0 <= self.sensitivity <= 1:
            yield "sensitivity must be in 0..1"
        if self.size_classes is not None and not self.size_classes:
            yield "size_classes needs at least one class"
        for entry in self.size_classes or []:
            if not isinstance(entry, dict) or set(entry) != {"class", "min_area"}:
                yield 'each size class is {"class": name, "min_area": pixels}'
            elif not isinstance(entry["min_area"], int | float) or entry["min_area"] < 0:
                yield f"size class {entry['class']!r}: min_area must be a number >= 0"
        for polygon in self.masks:
            if len(polygon) < 3 or any(len(point) != 2 for point in polygon):
                yield "each mask is a polygon of at least 3 [x, y] points"
        if self.process_width < 32:
            yield "process_width must be at least 32"
        for name in ("learning_rate", "foreground_learning_rate", "position_gain", "velocity_gain"):
            if not 0 <= getattr(self, name) <= 1:
                yield f"{name} must be in 0..1"
        if not 0 < self.shadow_min_ratio < self.shadow_max_ratio < 1:
            yield "0 < shadow_min_ratio < shadow_max_ratio < 1"
        for name in ("max_missed_frames", "min_hits", "warmup_frames"):
            if getattr(self, name) < 1:
                yield f"{name} must be at least 1"
        if self.crossing_margin is not None and self.crossing_margin < 0:
            yield "crossing_margin must be at least 0"

    @classmethod
    def from_config(cls, config: dict) -> "CounterSettings":
        """Settings from the server's camera config (min_blob_area, sensitivity,
        size_classes, masks; its other keys, `SERVER_KEYS`, are skipped) or from a dict of
        any of the fields above. An unknown key is an error (a typo would otherwise keep the
        default silently)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k not in SERVER_KEYS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown traffic counter setting(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def vehicle_class(self, area: float) -> str:
        """The size class of a blob of `area` frame pixels."""
        chosen = self.size_classes[0]["class"]
        for entry in self.size_classes:
            if area >= entry["min_area"]:
                chosen = entry["class"]
        return chosen
