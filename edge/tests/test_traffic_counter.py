"""The traffic counter: the line-crossing rule on hand-made tracks, then the whole counter on
generated clips whose truth comes from the vehicles' paths."""

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.traffic import (
    Counter,
    CounterSettings,
    Line,
    LineRule,
    LineState,
    dry_run,
    lines_from_config,
    parse_line,
)
from edge.traffic.synthetic import (
    LANE_HEIGHT,
    ROAD_TOP,
    TrafficScene,
    Vehicle,
    standard_lines,
    traffic_scene,
    write_clip,
)

ROOT = Path(__file__).resolve().parents[2]
# Left to right across the view at y = 240: going up the image is "in".
ACROSS = Line(1, "North", (0, 240), (640, 240))


def crossings_of(path, line=ACROSS, margin=8.0, finish=False):
    rule, state = LineRule(line, margin), LineState()
    found = [d for point in path if (d := rule.step(state, point))]
    if finish and (d := rule.finish(state)):
        found.append(d)
    return found


def vertical(*ys, x=320.0):
    return [(x, float(y)) for y in ys]


# --- the rule, on hand-made tracks ---


def test_a_track_going_up_across_the_line_goes_in_and_down_goes_out():
    assert crossings_of(vertical(*range(300, 180, -10))) == ["in"]
    assert crossings_of(vertical(*range(180, 300, 10))) == ["out"]


def test_in_is_from_the_right_of_the_line_to_its_left_as_drawn():
    # The same line drawn the other way round swaps the directions.
    reversed_line = Line(1, "North", (640, 240), (0, 240))

    assert crossings_of(vertical(*range(300, 180, -10)), reversed_line) == ["out"]


def test_a_track_wobbling_on_the_line_counts_once():
    path = vertical(300, 260, 244, 236, 245, 234, 246, 238, 243, 200, 180)

    assert crossings_of(path) == ["in"]


def test_a_vehicle_stopping_on_the_line_rolling_back_then_going_on_counts_once():
    path = vertical(300, 270, 250, 241, *[238] * 40, 240, 242, 244, 245, 240, 230, 220, 200)

    assert crossings_of(path) == ["in"]


def test_a_track_that_turns_back_before_clearing_the_band_does_not_count():
    assert crossings_of(vertical(300, 260, 245, 236, 235, 250, 280, 300)) == []


def test_crossing_the_line_s_extension_does_not_count():
    short = Line(2, "Short", (100, 240), (300, 240))

    assert crossings_of(vertical(*range(300, 180, -10), x=400), short) == []
    assert crossings_of(vertical(*range(300, 180, -10), x=200), short) == ["in"]


def test_a_track_lost_and_found_again_beyond_the_line_counts_once():
    # Seen at 270, hidden for a while, found at 205: one step across the line.
    path = vertical(300, 285, 270, 205, 190, 175)

    assert crossings_of(path) == ["in"]


def test_a_track_lost_and_found_beyond_the_extension_does_not_count():
    short = Line(2, "Short", (100, 240), (300, 240))
    path = [(250, 300), (280, 270), (420, 205), (440, 190)]  # met y=240 at x ~ 340

    assert crossings_of(path, short) == []


def test_a_vehicle_that_clearly_turns_back_counts_the_way_back_once():
    path = vertical(300, 260, 220, 200, 260, 300, 200, 300)

    assert crossings_of(path) == ["in", "out"]


def test_a_track_ending_past_the_middle_of_the_line_counts_at_its_end():
    path = vertical(300, 270, 250, 236)  # left the view 4 px beyond the line

    assert crossings_of(path) == []
    assert crossings_of(path, finish=True) == ["in"]
    assert crossings_of(vertical(300, 270, 250, 244), finish=True) == []


# --- settings and lines ---


def test_a_line_from_the_command_line():
    line = parse_line("North gate:0,240.5,640,240")

    assert line == Line("North gate", "North gate", (0, 240.5), (640, 240))
    for bad in ("North", "North:1,2,3", "North:a,b,c,d", ":1,2,3,4", "N:1,1,1,1"):
        with pytest.raises(ValueError):
            parse_line(bad)


def test_settings_and_lines_from_the_server_s_config():
    config = {
        "camera": {"id": 1, "name": "Main St", "intersection": "Main x 2nd"},
        "version": 7,
        "width": 640,
        "height": 480,
        "source": "rtsp://camera",
        "interval_minutes": 5,
        "min_blob_area": 300,
        "sensitivity": 0.7,
        "size_classes": [{"class": "car", "min_area": 2000}, {"class": "bike", "min_area": 0}],
        "masks": [[[0, 0], [100, 0], [100, 50]]],
        "lines": [{"id": 3, "name": "North", "x1": 0, "y1": 240, "x2": 640, "y2": 240}],
    }

    settings = CounterSettings.from_config(config)

    assert (settings.min_blob_area, settings.sensitivity) == (300, 0.7)
    assert settings.vehicle_class(1999) == "bike" and settings.vehicle_class(2000) == "car"
    assert lines_from_config(config) == [Line(3, "North", (0, 240), (640, 240))]
    with pytest.raises(ValueError, match=r"unknown traffic counter setting\(s\): sensitivty"):
        CounterSettings.from_config({"sensitivty": 0.5})
    with pytest.raises(ValueError, match="sensitivity must be in 0..1"):
        CounterSettings.from_config({"sensitivity": 3})


# --- the counter on generated clips ---


def count(scene, settings=None, lines=None, on_frame=None, size=(640, 480)):
    """Count `scene` (640x480) as a camera of `size` would see it, its lines scaled."""
    sx, sy = size[0] / 640, size[1] / 480
    lines = [
        Line(
            line.id,
            line.name,
            (line.p1[0] * sx, line.p1[1] * sy),
            (line.p2[0] * sx, line.p2[1] * sy),
        )
        for line in lines or scene.lines
    ]
    counter = Counter(lines, settings or CounterSettings(), size)
    names = {line.id: line.name for line in scene.lines}
    counts = {}
    index = 0
    for index, frame in enumerate(scene.frames()):
        if on_frame:
            on_frame(counter, index)
        if size != (640, 480):
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        for crossing in counter.process(frame, index, index / 25):
            key = (names[crossing.line], crossing.direction, crossing.vehicle_class)
            counts[key] = counts.get(key, 0) + 1
    for crossing in counter.finish(index, index / 25):
        key = (names[crossing.line], crossing.direction, crossing.vehicle_class)
        counts[key] = counts.get(key, 0) + 1
    return counts, counter


def by_line(counts: dict) -> dict:
    """{(line, direction): n} whatever the class."""
    totals = {}
    for (line, direction, _), n in counts.items():
        totals[line, direction] = totals.get((line, direction), 0) + n
    return totals


def classes_agree(counts: dict, truth: dict) -> float:
    """The share of the true crossings counted with their class. A bicycle is told from a
    motorbike by its pace against the traffic's, which the generated scenes do not model
    (their motorbikes drive at any speed): there, both are two-wheelers."""
    counts = _two_wheelers(counts)
    agreed = sum(min(n, counts.get(key, 0)) for key, n in _two_wheelers(truth).items())
    return agreed / sum(truth.values())


def _two_wheelers(counts: dict) -> dict:
    merged: dict = {}
    for (line, direction, name), n in counts.items():
        name = "two-wheeler" if name in ("bicycle", "motorbike") else name
        merged[(line, direction, name)] = merged.get((line, direction, name), 0) + n
    return merged


def flat(truth):
    return {
        (line, direction, name): n
        for line, directions in truth.items()
        for direction, classes in directions.items()
        for name, n in classes.items()
    }


@pytest.mark.parametrize(
    "conditions",
    [
        {"seed": 13},
        {"seed": 14, "shadow": (30, 16), "lighting": (1.0, 0.6, 1.2)},
        {"seed": 12, "red_lights": 2, "red_seconds": (3.0, 4.0), "noise": 8.0},
    ],
    ids=["traffic", "long-shadows-and-a-ramp", "red-lights-and-noise"],
)
def test_the_counter_counts_each_vehicle_once_per_line_direction_and_class(conditions):
    scene = traffic_scene(seconds=15, vehicles_per_minute=40, **conditions)

    counts, _ = count(scene)

    truth = flat(scene.truth())
    assert by_line(counts) == by_line(truth)
    assert sum(truth.values()) >= 12
    # A motorbike close behind a car, a car under a long shadow: a class may be off.
    assert classes_agree(counts, truth) >= 0.8


def one_car(path: list[float], lane: int = 2, size=(96, 42)) -> TrafficScene:
    vehicle = Vehicle(1, "car", size, lane, 15, np.array(path, np.float64), (40, 40, 200))
    return TrafficScene(
        frame_count=15 + len(path) + 10, vehicles=[vehicle], lines=standard_lines(), noise=4.0
    )


def test_a_car_stopping_on_the_line_for_3_s_rolling_back_then_going_on_counts_once_per_line():
    to_the_line = list(np.arange(-60, 440, 6.0))
    stop = [440.0] * 75 + list(np.linspace(440, 434, 8)) + [434.0] * 10
    scene = one_car(to_the_line + stop + list(np.linspace(434, 720, 60)))

    counts, _ = count(scene)

    assert counts == {("A", "in", "car"): 1, ("C", "in", "car"): 1, ("B", "out", "car"): 1}
    assert counts == flat(scene.truth())


def test_westbound_traffic_crossing_c_s_extension_is_not_counted_on_c():
    scene = one_car(list(np.arange(700, -60, -7.0)), lane=1)

    counts, counter = count(scene)

    assert counts == {("B", "in", "car"): 1, ("A", "out", "car"): 1}
    assert counter.movements() == [(2, 1, "car")]


def test_masked_areas_are_ignored():
    scene = traffic_scene(seed=13, seconds=15, vehicles_per_minute=40)
    eastbound_half = [
        [0, ROAD_TOP + 2 * LANE_HEIGHT],
        [640, ROAD_TOP + 2 * LANE_HEIGHT],
        [640, 480],
        [0, 480],
    ]

    counts, _ = count(scene, CounterSettings(masks=[eastbound_half]))

    westbound = {
        k: n
        for k, n in by_line(flat(scene.truth())).items()
        if k[1] == ("in" if k[0] == "B" else "out")
    }
    assert by_line(counts) == westbound
    assert westbound and not any(key[0] == "C" for key in counts)


def test_a_new_line_takes_effect_for_the_vehicles_that_cross_it_afterwards():
    scene = traffic_scene(seed=13, seconds=12, vehicles_per_minute=60)
    a, b, c = scene.lines
    halfway = scene.frame_count // 2

    def configure(counter, index):
        if index == halfway:
            counter.update([a, b], CounterSettings())

    counts, counter = count(scene, lines=[a], on_frame=configure)

    later = {}
    for line, direction, vehicle_class, frame in scene.crossings():
        if line == "B" and frame > halfway + 5:
            key = (line, direction, vehicle_class)
            later[key] = later.get(key, 0) + 1
    assert [line.name for line in counter.lines] == ["A", "B"]
    assert {k: n for k, n in by_line(counts).items() if k[0] == "A"} == {
        k: n for k, n in by_line(flat(scene.truth())).items() if k[0] == "A"
    }
    assert {k: n for k, n in by_line(counts).items() if k[0] == "B"} == by_line(later)
    assert later


def test_a_dry_run_prints_each_crossing_and_a_summary(tmp_path):
    scene = one_car(list(np.arange(-60, 720, 8.0)))
    clip = write_clip(scene, tmp_path / "road.avi")
    lines = [parse_line("A:200,110,200,470"), parse_line("B:440,470,440,110")]
    out = io.StringIO()

    summary = dry_run(str(clip), lines, CounterSettings(), out=out)

    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    *crossings, last = printed
    assert [(c["line"], c["direction"], c["class"]) for c in crossings] == [
        ("A", "in", "car"),
        ("B", "out", "car"),
    ]
    assert all(c["type"] == "crossing" for c in crossings)
    assert crossings[0]["time"] == pytest.approx(crossings[0]["frame"] / 25)
    assert last == summary
    assert summary["type"] == "summary"
    assert summary["counts"] == {
        "A": {"in": {"car": 1}, "out": {}},
        "B": {"in": {}, "out": {"car": 1}},
    }
    assert summary["movements"] == [{"from": "A", "to": "B", "class": "car", "count": 1}]
    assert summary["frames"] == scene.frame_count and summary["fps"] > 0


@pytest.mark.parametrize("out", ["frames", "seen.mp4"])
def test_a_dry_run_writes_what_the_counter_sees(tmp_path, out):
    scene = one_car(list(np.arange(-60, 720, 8.0)))
    clip = write_clip(scene, tmp_path / "road.avi")
    target = tmp_path / out

    result = subprocess.run(
        [sys.executable, "-m", "edge", "traffic", "--dry-run", "--fast", "--source", str(clip)]
        + ["--line", "A:200,110,200,470", "--annotate", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    pictures = _frames_of(target)
    assert len(pictures) == scene.frame_count
    # Drawn at the counter's size (320 px wide), enlarged to 640 so labels can be read.
    assert pictures[0].shape[:2] == (480, 640)
    # The line (red) is drawn on every frame, and the car's track box (green) once it is seen.
    red = [(p[:, :, 2] > 200) & (p[:, :, 1] < 100) & (p[:, :, 0] < 100) for p in pictures]
    assert all(mask[110:470, 195:205].sum() > 100 for mask in red[:10])
    green = [((p[:, :, 1] > 160) & (p[:, :, 2] < 110) & (p[:, :, 0] < 110)).sum() for p in pictures]
    assert max(green) > 200 and green[0] < 50


def _frames_of(target: Path) -> list:
    if target.is_dir():
        return [cv2.imread(str(path)) for path in sorted(target.glob("*.jpg"))]
    capture = cv2.VideoCapture(str(target))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def test_the_traffic_package_does_not_import_django():
    code = "import sys, edge.traffic, edge.traffic.synthetic; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("size", [(320, 240), (1280, 720)], ids=["320x240", "1280x720"])
def test_a_camera_of_any_resolution_counts_with_the_defaults(size):
    """Nothing in the defaults is in pixels of one resolution: the same road filmed by a
    320x240 camera or a 1280x720 one counts the same, with only the lines drawn on it."""
    scene = traffic_scene(seconds=15, vehicles_per_minute=40, seed=13)

    counts, _ = count(scene, size=size)

    truth = flat(scene.truth())
    assert by_line(counts) == by_line(truth)
    assert classes_agree(counts, truth) >= 0.8
