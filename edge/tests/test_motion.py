"""The motion detector on synthetic clips rendered here: real frames through OpenCV."""

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.motion import (
    EventBuilder,
    MotionDetector,
    MotionSettings,
    SourceError,
    dry_run,
    iter_events,
    open_source,
)
from edge.motion.synthetic import (
    Mover,
    brightness_ramp,
    exposure_jump,
    render_clip,
    timed,
    write_clip,
)

ROOT = Path(__file__).resolve().parents[2]
CROSSING = Mover(start=(60, 300), end=(520, 270), size=(40, 80), first_frame=15, last_frame=75)
FRAMES = 90


@pytest.fixture(scope="module")
def crossing_clip():
    return render_clip(FRAMES, movers=[CROSSING])


def events_of(frames, settings=None, builder=None):
    return list(iter_events(timed(frames), settings or MotionSettings(), builder=builder))


def inside(box, outer, margin=16) -> bool:
    x, y, w, h = box
    ox, oy, ow, oh = outer
    return (
        ox - margin <= x
        and oy - margin <= y
        and x + w <= ox + ow + margin
        and y + h <= oy + oh + margin
    )


def test_a_person_crossing_makes_one_event_boxed_on_their_path(crossing_clip):
    [event] = events_of(crossing_clip)

    assert 15 <= event.start_frame <= 20 and 72 <= event.end_frame <= 76
    assert (event.frame_width, event.frame_height) == (640, 480)
    assert 0.005 < event.score < 0.05
    assert event.boxes and all(inside(box, CROSSING.path_box(FRAMES)) for box in event.boxes)
    assert (event.ended_at - event.started_at).total_seconds() == pytest.approx(
        (event.end_frame - event.start_frame) / 25
    )


@pytest.mark.parametrize(
    "conditions",
    [
        {"lighting": brightness_ramp(120, low=0.4, high=1.5)},
        {"lighting": exposure_jump(50, gain=1.7)},
        {"lighting": exposure_jump(50, gain=1.7, frames=25)},
        {"lighting": exposure_jump(50, gain=0.5, offset=-5)},
        {"noise": 12.0},
    ],
    ids=["brightness-ramp", "exposure-jump", "slow-exposure-change", "exposure-drop", "noise"],
)
def test_lighting_and_noise_with_nothing_moving_make_no_event(conditions):
    frames = render_clip(120, seed=3, **conditions)

    assert events_of(frames) == []


def test_the_seeds_frame_difference_alarms_on_the_exposure_jump_the_detector_ignores():
    frames = render_clip(80, lighting=exposure_jump(50, gain=1.7), seed=3)
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    seed_alarms = sum(np.mean(cv2.absdiff(a, b)) > 10 for a, b in zip(grey, grey[1:], strict=False))

    assert seed_alarms >= 1
    assert events_of(frames) == []


def test_motion_inside_a_mask_is_ignored_and_outside_it_is_not(crossing_clip):
    x, y, w, h = CROSSING.path_box(FRAMES)
    around_path = [
        [x - 10, y - 10],
        [x + w + 10, y - 10],
        [x + w + 10, y + h + 10],
        [x - 10, y + h + 10],
    ]
    elsewhere = [[0, 0], [200, 0], [200, 100], [0, 100]]

    assert events_of(crossing_clip, MotionSettings(masks=[around_path])) == []
    assert len(events_of(crossing_clip, MotionSettings(masks=[elsewhere]))) == 1


@pytest.fixture(scope="module")
def bursts():
    """Eight people passing quickly, one every 0.8 s (20 frames at 25 fps), 8 frames each."""
    movers = [
        Mover(
            start=(60 + 50 * k, 60 + 45 * k),
            end=(140 + 50 * k, 70 + 45 * k),
            size=(40, 60),
            first_frame=15 + 20 * k,
            last_frame=22 + 20 * k,
        )
        for k in range(8)
    ]
    return render_clip(175, movers=movers)


def burst_settings(**throttle) -> MotionSettings:
    return MotionSettings(min_motion_frames=2, end_after_frames=4, **throttle)


def test_without_throttling_every_burst_is_an_event(bursts):
    builder = EventBuilder(burst_settings(max_events_per_minute=100, cooldown_seconds=0))

    events = events_of(bursts, builder.settings, builder)

    assert [e.start_frame for e in events] == [15 + 20 * k for k in range(8)]
    assert builder.throttled == 0


def test_the_per_minute_cap_suppresses_the_rest_of_a_burst_and_counts_it(bursts):
    builder = EventBuilder(burst_settings(max_events_per_minute=3, cooldown_seconds=0))

    events = events_of(bursts, builder.settings, builder)

    assert [e.start_frame for e in events] == [15, 35, 55]
    assert builder.throttled == 5
    assert builder.stats()["throttled"] == 5


def test_a_cool_down_after_each_event_suppresses_the_next_burst_and_counts_it(bursts):
    # Each event ends at frame 22 + 20k; the next person comes 0.52 s later, the one after 1.32 s.
    builder = EventBuilder(burst_settings(max_events_per_minute=100, cooldown_seconds=1.0))

    events = events_of(bursts, builder.settings, builder)

    assert [e.start_frame for e in events] == [15, 55, 95, 135]
    assert builder.throttled == 4


def test_snapshots_are_jpegs_with_the_best_scoring_frame_first(crossing_clip):
    settings = MotionSettings(max_snapshots=3)
    [event] = events_of(crossing_clip, settings)

    detector = MotionDetector(settings)
    results = [detector.process(frame) for frame in crossing_clip]
    during = range(event.start_frame, event.end_frame + 1)
    best = max(during, key=lambda i: results[i].score)
    images = [
        cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) for jpeg in event.snapshots
    ]

    assert len(images) == 3 and all(image.shape == (480, 640, 3) for image in images)
    assert all(jpeg[:2] == b"\xff\xd8" for jpeg in event.snapshots)
    assert event.boxes == results[best].boxes
    assert closest_frame(images[0], crossing_clip, during) == best
    assert all(closest_frame(image, crossing_clip, during) != best for image in images[1:])


def closest_frame(image, frames, indexes) -> int:
    return min(indexes, key=lambda i: np.mean(cv2.absdiff(image, frames[i])))


def test_a_dry_run_on_a_recorded_clip_prints_each_event_and_a_summary(crossing_clip, tmp_path):
    clip = write_clip(crossing_clip, tmp_path / "yard.avi", fps=25)
    out = io.StringIO()

    summary = dry_run(str(clip), MotionSettings(), snapshot_dir=tmp_path / "snaps", out=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [event], last = lines[:-1], lines[-1]
    assert event["type"] == "event" and 15 <= event["start_frame"] <= 20
    assert event["start_seconds"] == pytest.approx(event["start_frame"] / 25)
    assert event["end_seconds"] == pytest.approx(event["end_frame"] / 25)
    assert event["boxes"] and event["score"] > 0
    assert [p.name for p in sorted((tmp_path / "snaps").iterdir())] == sorted(event["snapshots"])
    assert last == summary
    assert summary["type"] == "summary" and summary["frames"] == FRAMES and summary["events"] == 1
    assert (
        summary["throttled"] == 0
        and summary["fps"] > 0
        and summary["clip_seconds"] == pytest.approx(89 / 25)
    )


def test_settings_from_a_config_reject_unknown_keys_by_name():
    settings = MotionSettings.from_dict(
        {"pixel_threshold": 30, "masks": [[[0, 0], [10, 0], [10, 10]]]}
    )
    assert (
        settings.pixel_threshold == 30 and settings.learning_rate == MotionSettings().learning_rate
    )

    with pytest.raises(
        ValueError, match=r"unknown motion setting\(s\): treshold \(known: .*pixel_threshold"
    ):
        MotionSettings.from_dict({"treshold": 30})
    with pytest.raises(ValueError, match="learning_rate must be in"):
        MotionSettings.from_dict({"learning_rate": 2})


def test_a_missing_video_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        open_source(tmp_path / "nothing.avi")


def test_the_motion_package_does_not_import_django():
    code = "import sys, edge.motion, edge.motion.synthetic; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr
