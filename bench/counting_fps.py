"""Traffic counting speed: frames per second of the counter at 640x480 on one core, tracking
and counting included.

Side by side on the same frames (a generated traffic scene, `edge.traffic.synthetic`: four
lanes, shadows, noise, three counting lines; rendered before timing and cycled):

- the counter (`edge.traffic.Counter`, default settings: processing width 320) [>= 200 fps];
- the counter without shadow suppression (what the shadow test costs);
- a plain MOG2 (`cv2.createBackgroundSubtractorMOG2()`, defaults) plus external contours at
  full resolution, no tracking (the issue's baseline, about 200 fps here).

OpenCV runs single-threaded (`cv2.setNumThreads(1)`), as on a busy Pi core; frames per second
are frames over the process's CPU seconds, so that other load on the machine does not count.
Run from the top of the project (never by the test suite):

    .venv/bin/python bench/counting_fps.py [--frames 3000] [--clip 400] [--process-width 320]

About 30 s with the defaults.
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge.traffic import Counter, CounterSettings  # noqa: E402 (needs ROOT on sys.path)
from edge.traffic.synthetic import traffic_scene  # noqa: E402

TARGET_FPS = 200


def scene_frames(count: int) -> tuple[list[np.ndarray], list]:
    scene = traffic_scene(seed=5, seconds=count / 25, vehicles_per_minute=50)
    return list(itertools.islice(scene.frames(), count)), scene.lines


def counter_step(lines, settings: CounterSettings):
    counter = Counter(lines, settings, (640, 480))
    index = itertools.count()
    crossings = [0]

    def step(frame):
        i = next(index)
        crossings[0] += len(counter.process(frame, i, i / 25))

    return step


def mog2_step():
    subtractor = cv2.createBackgroundSubtractorMOG2()

    def step(frame):
        mask = subtractor.apply(frame)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 400]

    return step


def frames_per_second(step, frames: list[np.ndarray], count: int) -> float:
    for frame in frames[:30]:  # warm-up: the background models start
        step(frame)
    # CPU time of this (single-threaded) process: what one core spends per frame, the same
    # whether or not other processes share the machine.
    started = time.process_time()
    for i in range(count):
        step(frames[(30 + i) % len(frames)])
    return count / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3000, help="frames timed per method")
    parser.add_argument("--clip", type=int, default=400, help="distinct frames rendered")
    parser.add_argument("--process-width", type=int, default=CounterSettings().process_width)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames, lines = scene_frames(args.clip)
    width = args.process_width
    rows = [
        (f"counter (width {width}), tracking + 3 lines", counter_step(lines, _settings(width))),
        (
            f"counter (width {width}), no shadow suppression",
            counter_step(lines, _settings(width, shadow_suppression=False)),
        ),
        ("MOG2 + contours, full resolution, no tracking", mog2_step()),
    ]
    print(f"640x480, one core (cv2.setNumThreads(1)), {args.frames} frames each")
    print("| method | fps (CPU time) | ms/frame |\n| --- | --- | --- |")
    results = {}
    for name, step in rows:
        results[name] = fps = frames_per_second(step, frames, args.frames)
        print(f"| {name} | {fps:,.0f} | {1000 / fps:.2f} |")
    counter_fps = results[rows[0][0]]
    verdict = "OK" if counter_fps >= TARGET_FPS else "MISS"
    print(f"counter: {counter_fps:,.0f} fps [>= {TARGET_FPS}] {verdict}")
    return 0


def _settings(width: int, **changes) -> CounterSettings:
    return CounterSettings(process_width=width, **changes)


if __name__ == "__main__":
    sys.exit(main())
