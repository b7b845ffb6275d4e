"""Motion false alarms: events on generated clips where nothing moves (brightness ramps,
sensor noise, auto-exposure jumps) [target 0], and on clips where something does [1 each].

Each clip is 640x480 at 25 fps, `--frames` long (150: 6 s), rendered with `--seeds`
different scenes (3); the figures are summed over the seeds. For every clip:

- the detector (`edge.motion.iter_events`, default settings): events, throttled events and
  background rebuilds;
- the seed's loop (raspberry/main.py): reads two frames, grey absdiff mean > 10 takes a
  photo (one post and one Discord notice each), after 5 photos sleeps 60 s (in clip time):
  photos taken, and frame pairs over its threshold.

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/motion_false_alarms.py [--frames 150] [--seeds 3]

About half a minute with the defaults.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge.motion import EventBuilder, MotionSettings, iter_events  # noqa: E402 (needs ROOT)
from edge.motion.synthetic import (  # noqa: E402
    Mover,
    brightness_ramp,
    exposure_jump,
    render_clip,
    timed,
)

FPS = 25


def clips(frames: int) -> list[tuple[str, int, dict]]:
    """(name, events expected, render_clip arguments)."""
    middle = frames // 2
    small = Mover(
        start=(0, 200), end=(620, 230), size=(16, 16), first_frame=20, last_frame=frames - 20
    )
    person = Mover(
        start=(60, 300), end=(520, 270), size=(40, 80), first_frame=20, last_frame=frames - 20
    )
    return [
        ("still scene, sensor noise (sigma 4)", 0, {}),
        ("heavy sensor noise (sigma 12)", 0, {"noise": 12.0}),
        ("brightness ramp 1 -> 0.5 -> 1.3 -> 1", 0, {"lighting": brightness_ramp(frames)}),
        ("deep ramp 1 -> 0.3 -> 1.6 -> 1", 0, {"lighting": brightness_ramp(frames, 0.3, 1.6)}),
        ("auto-exposure jump x1.7 in 2 frames", 0, {"lighting": exposure_jump(middle)}),
        ("exposure change x1.7 over 1 s", 0, {"lighting": exposure_jump(middle, frames=25)}),
        ("auto-exposure drop x0.5", 0, {"lighting": exposure_jump(middle, 0.5, -5.0)}),
        ("small object (16x16) crossing", 1, {"movers": [small]}),
        (
            "person crossing, exposure jump halfway",
            1,
            {"movers": [person], "lighting": exposure_jump(middle)},
        ),
    ]


def detector_figures(frames: list[np.ndarray]) -> dict:
    builder = EventBuilder(MotionSettings())
    events = list(iter_events(timed(frames, FPS), builder.settings, builder=builder))
    return {
        "events": len(events),
        "throttled": builder.throttled,
        "rebuilds": builder.recalibrations,
    }


def seed_figures(frames: list[np.ndarray]) -> dict:
    """The seed's loop, frame1 and frame2 read one after the other on every pass."""
    photos = over = count = 0
    index = 0
    while index + 1 < len(frames):
        first, second = frames[index], frames[index + 1]
        index += 2
        grey = cv2.cvtColor(cv2.absdiff(first, second), cv2.COLOR_BGR2GRAY)
        if np.mean(grey) <= 10:
            continue
        over += 1
        photos += 1
        count += 1
        if count == 5:
            count = 0
            index += 60 * FPS  # time.sleep(60)
    return {"photos": photos, "pairs": over}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{args.seeds} scenes x {args.frames} frames (640x480, {FPS} fps) per clip, summed")
    print("| clip | expected | events | throttled | rebuilds | seed: photos | seed: pairs > 10 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    misses = 0
    for name, expected, arguments in clips(args.frames):
        ours, seeds = {}, {}
        for seed in range(args.seeds):
            frames = render_clip(args.frames, seed=seed, **arguments)
            _add(ours, detector_figures(frames))
            _add(seeds, seed_figures(frames))
        ok = ours["events"] == expected * args.seeds
        misses += not ok
        verdict = "OK" if ok else "MISS"
        print(
            f"| {name} | {expected * args.seeds} | {ours['events']} {verdict} | "
            f"{ours['throttled']} | {ours['rebuilds']} | {seeds['photos']} | {seeds['pairs']} |"
        )
    print(f"detector: {'all clips as expected' if not misses else f'{misses} clip(s) MISS'}")
    return 0


def _add(totals: dict, figures: dict) -> None:
    for key, value in figures.items():
        totals[key] = totals.get(key, 0) + value


if __name__ == "__main__":
    sys.exit(main())
