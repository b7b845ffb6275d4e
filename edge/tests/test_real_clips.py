"""The counter on real camera footage: the clips in traffic/clips, counted by hand (their
ground_truth.json), each counted with its default settings and compared per direction."""

import json
from pathlib import Path

import cv2
import pytest

from edge.traffic import Counter, CounterSettings, Line
from edge.traffic.classes import NOT_MOTOR

CLIPS = Path(__file__).resolve().parents[2] / "traffic" / "clips"
TRUTH = json.loads((CLIPS / "ground_truth.json").read_text())
# Off by one vehicle at most per direction, the target for directions of under 20 vehicles:
# the hand counts are exact, but a motion counter may still lose a car cut by a frame edge or
# split a long vehicle in two.
TOLERANCE = 1


def motor_vehicles_counted(clip: str) -> dict[str, int]:
    """Count the whole clip on its hand-counted line: motor vehicles per "in" / "out"."""
    truth = TRUTH[clip]
    p1, p2 = truth["line"]
    capture = cv2.VideoCapture(str(CLIPS / clip))
    fps = capture.get(cv2.CAP_PROP_FPS) or truth["fps"]
    counter = Counter([Line("L", "L", p1, p2)], CounterSettings(), tuple(truth["resolution"]))
    crossings, index = [], -1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        crossings += counter.process(frame, index, index / fps)
    capture.release()
    assert index + 1 == truth["frames"], f"{clip}: {index + 1} frames decoded"
    crossings += counter.finish(index, index / fps)
    counted = {"in": 0, "out": 0}
    for crossing in crossings:
        if crossing.vehicle_class not in NOT_MOTOR:
            counted[crossing.direction] += 1
    return counted


@pytest.fixture(scope="module")
def counted() -> dict[str, dict[str, int]]:
    # Each clip is counted once for all its directions (a few seconds per clip).
    return {clip: motor_vehicles_counted(clip) for clip in TRUTH}


CASES = [
    pytest.param(clip, direction, id=f"{clip.removesuffix('.mp4')}-{direction}")
    for clip, truth in TRUTH.items()
    for direction in truth["counts"]
]


@pytest.mark.parametrize(("clip", "direction"), CASES)
def test_the_counter_counts_each_direction_of_a_real_clip_as_a_person_did(counted, clip, direction):
    # On the street clip this also says the parked cars are not counted: the silver sedan
    # parked at the line's lower end and the ~7 others never move, and a counter that took
    # one of them for a vehicle would overshoot a direction's 4.
    truth = TRUTH[clip]
    named = Line("L", "L", *truth["line"]).direction_of(truth["direction_vectors_image"][direction])
    expected = truth["counts"][direction]
    got = counted[clip][named]
    assert abs(got - expected) <= TOLERANCE, (
        f"{clip} {direction} ({named!r}): counted {got}, counted by hand {expected}"
    )
