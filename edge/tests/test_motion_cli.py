"""`python -m edge motion` through the real command line, on clips made by the synthetic
generator: the dry run, the agent feeding a live site, and a clean stop on SIGTERM."""

import json
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from edge.motion.synthetic import Mover, render_clip, write_clip
from edge.outbox import Outbox
from flowsuite.testing import free_port


def edge_motion(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "motion", *map(str, args)],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_edge_motion(*args) -> subprocess.CompletedProcess:
    process = edge_motion(*args)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def walk_clip(tmp_path_factory):
    """10 s at 25 fps, 320x240: someone crosses from frame 10 to frame 40, then nothing."""
    walker = Mover(start=(20, 100), end=(250, 100), size=(30, 50), first_frame=10, last_frame=40)
    frames = render_clip(250, movers=[walker], width=320, height=240)
    return write_clip(frames, tmp_path_factory.mktemp("clips") / "walk.avi")


def test_the_edge_package_never_imports_django():
    modules = "edge.__main__, edge.agent, edge.client, edge.motion, edge.outbox, edge.uploader"
    code = f"import sys, edge, {modules}; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


def test_a_dry_run_prints_the_events_of_a_clip_and_writes_their_snapshots(walk_clip, tmp_path):
    result = run_edge_motion(
        "--source", walk_clip, "--dry-run", "--snapshots", tmp_path, "--set", "max_snapshots=2"
    )

    assert result.returncode == 0, result.stderr
    *events, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["event"]
    assert summary["type"] == "summary"
    assert summary["frames"] == 250
    assert 5 <= events[0]["start_frame"] <= 20
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(events[0]["snapshots"])
    assert len(events[0]["snapshots"]) == 2


def test_bad_settings_are_refused_before_anything_starts(walk_clip, tmp_path):
    config = tmp_path / "camera.json"
    config.write_text(json.dumps({"min_area_fracton": 0.01}))

    result = run_edge_motion("--source", walk_clip, "--dry-run", "--config", config)

    assert result.returncode == 2
    assert "unknown motion setting(s): min_area_fracton" in result.stderr


def test_the_agent_needs_a_server_and_a_key_unless_it_is_a_dry_run(walk_clip):
    result = run_edge_motion("--source", walk_clip)
    assert result.returncode == 2
    assert "--server and --key" in result.stderr


def test_a_source_that_cannot_be_opened_is_an_error(tmp_path):
    result = run_edge_motion("--source", tmp_path / "missing.avi", "--dry-run")
    assert result.returncode == 1
    assert "no such video file" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_clip_standing_in_for_a_camera_feeds_the_site(
    live_server, operator, settings, walk_clip, tmp_path
):
    from surveillance.cameras import camera_create
    from surveillance.models import MotionEvent

    settings.MEDIA_ROOT = tmp_path / "media"
    camera, raw_key = camera_create(owner=operator, name="Back door")
    config = tmp_path / "camera.json"
    config.write_text(json.dumps({"server": live_server.url, "key": raw_key, "max_snapshots": 2}))

    result = run_edge_motion(
        "--source", walk_clip, "--fast", "--config", config, "--outbox", tmp_path / "outbox"
    )

    assert result.returncode == 0, result.stderr
    event = MotionEvent.objects.get(camera=camera)
    assert event.snapshots.count() == 2
    assert event.frame_width == 320
    assert "stopped: 1 sent, 0 waiting in the outbox" in result.stderr
    camera.refresh_from_db()
    assert camera.health["version"] == "1"  # its heartbeat arrived too


def test_sigterm_stops_the_agent_and_keeps_the_unsent_events_on_disk(walk_clip, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    agent = edge_motion(
        "--source",
        walk_clip,  # read at its own pace: 10 s
        "--server",
        f"http://127.0.0.1:{free_port()}",  # nobody there
        "--key",
        "fsd_x",
        "--outbox",
        outbox,
    )
    for line in agent.stderr:
        if "kept for sending" in line:
            break
    agent.send_signal(signal.SIGTERM)
    _, stderr = agent.communicate(timeout=10)

    assert agent.returncode == 0, stderr
    assert "stopped: 0 sent, 1 waiting in the outbox" in stderr
    assert Outbox(outbox).pending() == 1


def test_the_demo_clip_has_a_walker_and_a_van_and_no_event_for_its_light_changes(tmp_path):
    clip = tmp_path / "yard.avi"
    made = subprocess.run(
        [sys.executable, "-m", "edge", "demo-clip", clip, "--seconds", "16"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr

    result = run_edge_motion("--source", clip, "--dry-run")

    assert result.returncode == 0, result.stderr
    *events, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert summary["frames"] == 400
    # Segments of 4 s: 0 still, 1 a walker, 2 a brightness ramp, 3 a van and an exposure jump.
    assert [round(e["start_seconds"] // 4) for e in events] == [1, 3]
