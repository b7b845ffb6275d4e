"""Motion detection speed: frames per second of the detector alone at 640x480 on one core.

Side by side on the same frames (a generated scene with texture, sensor noise and three
moving objects, rendered before timing and cycled):

- the detector (`edge.motion.MotionDetector`, default settings: processing width 320) [>= 500 fps];
- the seed's algorithm: grey absolute difference of consecutive frames, mean > 10;
- a plain MOG2 (`cv2.createBackgroundSubtractorMOG2()`, defaults) at full resolution.

OpenCV runs single-threaded (`cv2.setNumThreads(1)`), as on a busy Pi core; frames per second
are frames over the process's CPU seconds, so that other load on the machine does not count.
Run from the top of the project (never by the test suite):

    .venv/bin/python bench/motion_fps.py [--frames 2000] [--clip 200] [--process-width 320]

About 20 s with the defaults.
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge.motion import MotionDetector, MotionSettings  # noqa: E402 (needs ROOT on sys.path)
from edge.motion.synthetic import Mover, render_clip  # noqa: E402

TARGET_FPS = 500


def scene(frames: int) -> list[np.ndarray]:
    movers = [
        Mover(start=(40, 300), end=(560, 260), size=(40, 80)),
        Mover(start=(600, 60), end=(100, 120), size=(60, 40), shade=180),
        Mover(start=(300, 20), end=(320, 400), size=(16, 16)),
    ]
    return render_clip(frames, movers=movers, noise=4.0)


def detector_step(settings: MotionSettings):
    detector = MotionDetector(settings)
    return lambda frame: detector.process(frame).motion


def seed_step():
    """The seed's raspberry/main.py: absdiff of two frames, grey, mean > 10."""
    previous = [None]

    def step(frame):
        last, previous[0] = previous[0], frame
        if last is None:
            return False
        grey = cv2.cvtColor(cv2.absdiff(last, frame), cv2.COLOR_BGR2GRAY)
        return np.mean(grey) > 10

    return step


def mog2_step():
    subtractor = cv2.createBackgroundSubtractorMOG2()
    return lambda frame: cv2.countNonZero(subtractor.apply(frame)) > 0


def frames_per_second(step, frames: list[np.ndarray], count: int) -> float:
    for frame in frames[:20]:  # warm-up: the background models start
        step(frame)
    # CPU time of this (single-threaded) process: what one core spends per frame, the same
    # whether or not other processes share the machine.
    started = time.process_time()
    for i in range(count):
        step(frames[i % len(frames)])
    return count / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames timed per method")
    parser.add_argument("--clip", type=int, default=200, help="distinct frames rendered")
    parser.add_argument("--process-width", type=int, default=MotionSettings().process_width)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames = scene(args.clip)
    settings = MotionSettings(process_width=args.process_width)
    rows = [
        (f"detector (width {args.process_width})", detector_step(settings)),
        ("seed: grey absdiff mean > 10", seed_step()),
        ("MOG2, full resolution", mog2_step()),
    ]
    print(f"640x480, one core (cv2.setNumThreads(1)), {args.frames} frames each")
    print("| method | fps | ms/frame |\n| --- | --- | --- |")
    results = {name: frames_per_second(step, frames, args.frames) for name, step in rows}
    for name, fps in results.items():
        print(f"| {name} | {fps:,.0f} | {1000 / fps:.2f} |")
    detector_fps = results[rows[0][0]]
    verdict = "OK" if detector_fps >= TARGET_FPS else "MISS"
    print(f"detector: {detector_fps:,.0f} fps [>= {TARGET_FPS}] {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
