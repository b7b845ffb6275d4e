"""The motion detector's settings: every knob with its default and what it does."""

from dataclasses import asdict, dataclass, field, fields


@dataclass
class MotionSettings:
    """How frames become motion and motion becomes events.

    Frame counts assume a camera at 10-30 fps; on a slower camera lower the `*_frames`
    settings so that an event still starts and ends within about a second.
    """

    # Width in pixels the frame is shrunk to before anything else (aspect kept). Detection
    # cost grows with the square of this: 320 is plenty for people and cars at 640x480;
    # 160 halves the cost again on a Pi and still finds a person across a yard.
    process_width: int = 320

    # Gaussian blur kernel (odd, pixels at the processing width; 0 or 1 = none). Smooths
    # sensor noise and JPEG blocks before the comparison.
    blur_size: int = 5

    # Share of the new frame mixed into the background model on every frame (0..1). 0.05
    # forgets a parked car after about 60 frames; lower keeps slow movers visible longer.
    learning_rate: float = 0.05

    # A pixel has changed when it differs from the background by more than this many grey
    # levels above the frame's noise floor (the median difference of the frame, which sensor
    # noise and uneven light raise for every pixel at once).
    pixel_threshold: int = 20

    # Remap the background's grey levels to the frame's (histogram matching) before
    # comparing, so that brightness ramps, gamma and auto-exposure changes, which move every
    # pixel the same monotonic way, leave no difference behind.
    compensate_lighting: bool = True

    # Morphology at the processing width: an opening of this size (pixels; 0 = none)
    # removes isolated speckles, then this many dilations join the pieces of one object.
    open_size: int = 3
    dilate_iterations: int = 2

    # A blob counts as motion from this share of the (unmasked) frame: 0.0005 is ~150
    # pixels at 640x480, a 12x12 square. Raise it to ignore cats and leaves.
    min_area_fraction: float = 0.0005

    # When more than this share of the frame changes at once, it is a lighting change
    # (lights on, the sun behind a cloud, an exposure jump), not motion: the background is
    # rebuilt from the frame instead of raising an alarm. Something filling most of the
    # view also does this: raise it for a camera close to a door.
    lighting_change_fraction: float = 0.5

    # When the background's grey levels are on average this far from the frame's, the light
    # is changing: the background learns fast where nothing moves, so that what the lighting
    # compensation cannot model (one colour channel clipping before the others) stays small.
    lighting_drift_levels: float = 8.0

    # A frame whose typical pixel (the median over a grid of samples) is this many grey
    # levels brighter or darker than in the previous frame is a sudden lighting change (an
    # auto-exposure jump, a lamp switched on): the background is rebuilt. A moving object
    # does not move the median of a pixel-by-pixel difference; slow ramps stay below it and
    # are matched by `compensate_lighting`. 0 turns it off.
    sudden_change_levels: float = 4.0

    # After a rebuild (and at start), frames during which the background learns fast and
    # nothing is reported: auto-exposure takes a few frames to settle.
    settle_frames: int = 5

    # Polygons excluded from detection, in source-frame pixels: [[[x, y], [x, y], ...], ...]
    # (a road beyond the fence, a tree, a screen showing the time).
    masks: list[list[list[int]]] = field(default_factory=list)

    # Consecutive motion frames needed before an event starts (one-frame flickers, a bird).
    min_motion_frames: int = 3

    # Frames without motion after which the event ends.
    end_after_frames: int = 15

    # An event still going after this many seconds is closed (and sent); the motion, if it
    # goes on, starts the next one.
    max_event_seconds: float = 30.0

    # JPEG snapshots per event: the best-scoring frame first, then frames spread over the
    # event. The server accepts at most SURVEILLANCE_MAX_SNAPSHOTS (5).
    max_snapshots: int = 5
    jpeg_quality: int = 85

    # Throttling (instead of the seed's sleep(60)): at most this many events start in any
    # 60 s, and none within `cooldown_seconds` after the previous one ended. Events not
    # started because of either are counted as throttled.
    max_events_per_minute: int = 6
    cooldown_seconds: float = 5.0

    def __post_init__(self):
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid motion settings: " + "; ".join(problems))

    def _problems(self):
        if self.process_width < 16:
            yield "process_width must be at least 16"
        if self.blur_size > 1 and self.blur_size % 2 == 0:
            yield "blur_size must be odd (or 0 for none)"
        if not 0 < self.learning_rate <= 1:
            yield "learning_rate must be in (0, 1]"
        if not 0 <= self.pixel_threshold <= 255:
            yield "pixel_threshold must be in 0..255"
        for name in ("min_area_fraction", "lighting_change_fraction"):
            if not 0 < getattr(self, name) <= 1:
                yield f"{name} must be in (0, 1]"
        for name in ("min_motion_frames", "end_after_frames", "max_snapshots"):
            if getattr(self, name) < 1:
                yield f"{name} must be at least 1"
        if not 1 <= self.jpeg_quality <= 100:
            yield "jpeg_quality must be in 1..100"
        if self.max_events_per_minute < 1:
            yield "max_events_per_minute must be at least 1"
        for polygon in self.masks:
            if len(polygon) < 3 or any(len(point) != 2 for point in polygon):
                yield "each mask is a polygon of at least 3 [x, y] points"

    @classmethod
    def from_dict(cls, values: dict) -> "MotionSettings":
        """Settings from a config file's mapping; unknown keys are an error (a typo would
        otherwise silently keep the default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            names, known_names = ", ".join(unknown), ", ".join(sorted(known))
            raise ValueError(f"unknown motion setting(s): {names} (known: {known_names})")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)
