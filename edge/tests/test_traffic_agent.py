"""The traffic agent: intervals summed by hand (no video), the agent against a stand-in server
that records what it is sent, and against the real site through a relay that goes down."""

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.conf import settings

from edge import outbox as outbox_module
from edge import traffic_agent
from edge.motion.synthetic import Mover, render_clip, write_clip
from edge.outbox import Outbox
from edge.tests.test_agent import Relay, wait_until
from edge.traffic_agent import CameraSpec, CameraWorker, Intervals, TrafficAgent, frames_at
from flowsuite.testing import free_port

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feed(intervals: Intervals, start: float, end: float, fps: float = 10) -> list:
    """Frames every 1/fps seconds from `start` to before `end`; the intervals they closed."""
    closed = []
    for n in range(round((end - start) * fps)):
        closed += intervals.frame(at(start + n / fps))
    return closed


# --- intervals, by hand -------------------------------------------------------------------------


def test_intervals_follow_the_wall_clock_and_the_first_one_starts_when_the_agent_did():
    intervals = Intervals(length=60, config_version=7, started_at=at(20))

    closed = feed(intervals, 20, 50)
    intervals.count(3, "in", "car")
    closed += feed(intervals, 50, 70)
    intervals.count(3, "in", "car")
    intervals.count(4, "out", "truck")
    closed += feed(intervals, 70, 121)

    first, second = (report.payload() for report in closed)
    assert (first["start"], first["end"]) == (
        "2026-11-24T10:00:20.000+00:00",
        "2026-11-24T10:01:00.000+00:00",
    )
    assert first["health"]["partial"] is True
    assert first["counts"] == [{"line": 3, "direction": "in", "class": "car", "count": 1}]
    assert (second["start"], second["end"]) == (
        "2026-11-24T10:01:00.000+00:00",
        "2026-11-24T10:02:00.000+00:00",
    )
    assert second["health"] == {
        "fps": 10.0,
        "frames": 600,
        "dropped_frames": 0,
        "gaps_seconds": 0.0,
        "partial": False,
    }
    assert second["counts"] == [
        {"line": 3, "direction": "in", "class": "car", "count": 1},
        {"line": 4, "direction": "out", "class": "truck", "count": 1},
    ]
    assert second["config_version"] == 7
    assert first["key"] != second["key"]


def test_an_interval_with_nothing_counted_is_still_reported_with_its_health():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))

    (quiet,) = feed(intervals, 0, 61, fps=5)

    assert quiet.payload()["counts"] == []
    assert quiet.payload()["health"]["frames"] == 300
    assert quiet.payload()["health"]["fps"] == 5.0
    assert quiet.partial is False


def test_a_dead_camera_still_closes_its_intervals_on_time_and_shows_the_gap():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))
    feed(intervals, 0, 30)  # then the camera stops

    assert intervals.idle(at(61)) == []  # not yet: a frame may still be on its way
    (half,) = intervals.idle(at(62.5))
    (dark,) = intervals.idle(at(125))
    closed = feed(intervals, 150, 181)  # back at 10:02:30

    assert half.gaps_seconds == pytest.approx(30.1, abs=0.01)
    assert (dark.frames, dark.gaps_seconds, dark.fps()) == (0, 60.0, 0.0)
    (back,) = closed
    assert back.gaps_seconds == pytest.approx(30.0)
    assert back.fps() == pytest.approx(10.0)


def test_a_pause_across_the_end_of_an_interval_is_a_gap_in_both():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))
    feed(intervals, 0, 50)

    before, after = [*intervals.frame(at(70)), *feed(intervals, 70.1, 120.1)]

    assert before.gaps_seconds == pytest.approx(10.1)
    assert after.gaps_seconds == pytest.approx(10.0)


def test_dropped_frames_are_summed_per_interval():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))
    intervals.frame(at(1), dropped=3)
    intervals.frame(at(2), dropped=2)

    (report,) = intervals.frame(at(61), dropped=7)

    assert report.dropped_frames == 5


def test_a_new_config_takes_effect_at_the_next_interval_with_its_length():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))
    feed(intervals, 0, 30)
    intervals.reconfigure(config_version=2, length=300)
    intervals.count(3, "in", "car")

    (old,) = feed(intervals, 30, 61)
    (new,) = feed(intervals, 61, 301)

    assert (old.config_version, old.end) == (1, at(60))
    # From 10:01 the intervals are of 5 minutes, aligned: the first one ends at 10:05.
    assert (new.config_version, new.start, new.end, new.partial) == (2, at(60), at(300), True)
    (aligned,) = feed(intervals, 301, 601)
    assert (aligned.start, aligned.end, aligned.partial) == (at(300), at(600), False)


def test_stopping_reports_the_partial_interval_up_to_the_stop():
    intervals = Intervals(length=60, config_version=1, started_at=at(0))
    feed(intervals, 0, 75)
    intervals.count(3, "out", "motorbike")

    (partial,) = intervals.finish(at(75))

    assert (partial.start, partial.end, partial.partial) == (at(60), at(75), True)
    assert partial.payload()["counts"][0]["count"] == 1


# --- the agent against a stand-in server ------------------------------------------------------


class ScriptedCounter:
    """Stands in for edge.traffic.Counter: every `every`-th frame, one car crosses each line
    "in"; a truck goes from the first line to the second now and then."""

    def __init__(self, config: dict, every: int = 5):
        self.lines = [line["id"] for line in config["lines"]]
        self.every = every
        self.updates = []
        self._movements = []

    def update(self, lines, settings) -> None:
        self.lines = [line.id for line in lines]
        self.updates.append(self.lines)

    def process(self, frame, index, at):
        if index % self.every:
            return []
        if len(self.lines) >= 2 and index % (self.every * 4) == 0:
            self._movements.append((self.lines[0], self.lines[1], "truck"))
        return [crossing(line, index, at) for line in self.lines]

    def finish(self, index, at):
        return []

    def movements(self):
        drained, self._movements = self._movements, []
        return drained


def crossing(line, index, at):
    return SimpleNamespace(
        track_id=index, line=line, direction="in", vehicle_class="car", frame=index, at=at
    )


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(outbox_module, "FIRST_RETRY", 0.05)


def camera_config(version: int = 1, lines=(1,)) -> dict:
    # As the site sends a camera whose blob area and size classes are automatic: left out.
    return {
        "camera": {"id": 1, "name": "North", "intersection": "Main & 1st"},
        "version": version,
        "width": 64,
        "height": 48,
        "source": "",
        "interval_minutes": 1,
        "sensitivity": 0.5,
        "masks": [],
        "lines": [{"id": n, "name": f"L{n}", "x1": 0, "y1": 24, "x2": 64, "y2": 24} for n in lines],
    }


class TrafficStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), TrafficHandler)
        self.config = camera_config()
        self.requests: list[dict] = []
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def posted(self, name: str) -> list:
        return [r["body"] for r in self.requests if r["path"].endswith(f"/{name}/")]


class TrafficHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.headers["Authorization"].removeprefix("Bearer ")
        self.server.requests.append({"path": self.path, "body": None, "key": key})
        self._answer(200, self.server.config)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        is_json = self.headers["Content-Type"] == "application/json"
        self.server.requests.append(
            {
                "path": self.path,
                "body": json.loads(body) if is_json else body,
                "key": self.headers["Authorization"].removeprefix("Bearer "),
            }
        )
        if self.path.endswith("/counts/"):
            self._answer(201, {"stored": 1, "duplicate": False})
        elif self.path.endswith("/heartbeat/"):
            self._answer(200, {"config_version": self.server.config["version"]})
        else:
            self._answer(204, None)

    def _answer(self, status: int, answer):
        self.send_response(status)
        payload = json.dumps(answer).encode() if answer is not None else b""
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = TrafficStandIn()
    yield server
    server.shutdown()
    server.server_close()


def live_frames(stop: threading.Event, fps: float = 50):
    """A camera: small frames at `fps`, timed by the wall clock, until `stop`."""
    frame = np.zeros((48, 64, 3), np.uint8)
    while not stop.is_set():
        yield frame, datetime.now(UTC)
        time.sleep(1 / fps)


def start_worker(url: str, key: str, tmp_path, frames, **options) -> CameraWorker:
    options = {
        "heartbeat_every": 0.2,
        "fast": True,
        "interval_seconds": 1,
        "counter_factory": ScriptedCounter,
        "flush_seconds": 5,
        **options,
    }
    worker = CameraWorker(
        CameraSpec(key=key, source=frames),
        server_url=url,
        state_dir=tmp_path / "state",
        stop=options.pop("stop"),
        **options,
    )
    worker.start()
    return worker


def test_a_config_change_reaches_the_running_agent_at_the_next_interval(stand_in, tmp_path):
    stop = threading.Event()
    worker = start_worker(stand_in.url, "fsd_a", tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: len(stand_in.posted("counts")) >= 1)

    stand_in.config = camera_config(version=2, lines=(1, 2))
    wait_until(lambda: any(r["config_version"] == 2 for r in stand_in.posted("counts")))
    stop.set()
    worker.join(10)

    reports = stand_in.posted("counts")
    old = [r for r in reports if r["config_version"] == 1]
    new = [r for r in reports if r["config_version"] == 2]
    assert {c["line"] for r in old for c in r["counts"]} == {1}
    assert {c["line"] for r in new for c in r["counts"]} == {1, 2}
    assert reports.index(new[0]) == len(old)  # every report of version 1 came before
    assert worker.counter.updates == [[1, 2]]  # reloaded, not restarted
    heartbeats = stand_in.posted("heartbeat")
    assert heartbeats[-1]["config_version"] == 2
    assert set(heartbeats[0]) == {
        "fps",
        "outbox_pending",
        "outbox_dropped",
        "config_version",
        "version",
    }


def test_every_interval_is_posted_with_its_health_and_the_stop_posts_the_partial_one(
    stand_in, tmp_path
):
    stop = threading.Event()
    worker = start_worker(stand_in.url, "fsd_a", tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: len(stand_in.posted("counts")) >= 3)
    stop.set()
    worker.join(10)

    reports = stand_in.posted("counts")
    assert reports[-1]["health"]["partial"] is True
    assert [r["health"]["partial"] for r in reports[1:-1]] == [False] * (len(reports) - 2)
    for earlier, later in zip(reports, reports[1:], strict=False):
        assert earlier["end"] == later["start"]  # no hole, no overlap
    assert all(r["health"]["frames"] > 10 for r in reports[1:-1])
    assert worker.figures() == {
        "sent": len(reports),
        "rejected": 0,
        "dropped": 0,
        "pending": 0,
        "kept": len(reports),
    }
    # The snapshot, a whole JPEG at the frame's size.
    (snapshot, *_) = stand_in.posted("snapshot")
    assert snapshot[:2] == b"\xff\xd8"


def test_one_process_counts_several_cameras_each_with_its_key_and_outbox(stand_in, tmp_path):
    start = datetime.now(UTC) - timedelta(seconds=10)
    frame = np.zeros((48, 64, 3), np.uint8)
    cameras = [
        CameraSpec(key=key, source=frames_at([frame] * 75, start, fps=25))  # 3 s each
        for key in ("fsd_north", "fsd_south")
    ]
    agent = TrafficAgent(
        cameras,
        server_url=stand_in.url,
        state_dir=tmp_path / "state",
        fast=True,
        interval_seconds=1,
        counter_factory=ScriptedCounter,
    )

    figures = agent.run()

    assert agent.errors == []
    for key, figure in zip(("fsd_north", "fsd_south"), figures, strict=True):
        posted = [
            r["body"] for r in stand_in.requests if r["key"] == key and "/counts/" in r["path"]
        ]
        assert 3 <= len(posted) == figure["sent"] <= 4
        assert sum(c["count"] for r in posted for c in r["counts"]) == 15  # every 5th frame
        assert (tmp_path / "state" / f"{traffic_agent.state_name(key)}.sqlite3").exists()


def test_without_the_site_the_agent_counts_with_the_config_it_had_last(stand_in, tmp_path):
    stop = threading.Event()
    worker = start_worker(stand_in.url, "fsd_a", tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: worker.intervals is not None)
    stop.set()
    worker.join(10)

    stop = threading.Event()
    nobody = "http://127.0.0.1:9"  # the site is away
    worker = start_worker(nobody, "fsd_a", tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: worker.reports_kept >= 2)
    stop.set()
    worker.join(10)

    assert worker.config["version"] == 1
    outbox = Outbox(tmp_path / "state" / f"{traffic_agent.state_name('fsd_a')}.sqlite3")
    assert outbox.pending() == worker.reports_kept  # kept for later


# --- against the real site ------------------------------------------------------------------


@pytest.fixture
def traffic_camera(operator, settings, tmp_path):
    from traffic.cameras import camera_create
    from traffic.models import CountLine, Intersection

    settings.MEDIA_ROOT = tmp_path / "media"
    intersection = Intersection.objects.create(name="Main & 1st")
    camera, raw_key = camera_create(
        owner=operator, intersection=intersection, name="North", width=64, height=48
    )
    CountLine.objects.create(camera=camera, name="Main St", x1=0, y1=24, x2=64, y2=24)
    return camera, raw_key


@pytest.mark.django_db(transaction=True)
def test_intervals_made_while_the_site_is_down_arrive_once_each(
    live_server, traffic_camera, tmp_path, monkeypatch
):
    from traffic.models import Upload

    tries = []  # (report key, answered)
    post = traffic_agent.deliver_report

    def deliver(server, entry):
        try:
            answer = post(server, entry)
        except Exception:
            tries.append((entry.event_id, False))
            raise
        tries.append((entry.event_id, True))
        return answer

    monkeypatch.setattr(traffic_agent.camera, "deliver_report", deliver)
    camera, raw_key = traffic_camera
    relay = Relay(urlsplit(live_server.url).port)
    relay.start()
    stop = threading.Event()
    worker = start_worker(relay.url, raw_key, tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: worker.intervals is not None)

    relay.stop()  # the site goes away for a few intervals
    wait_until(lambda: worker.outbox.pending() >= 2)
    relay.swallow_answers = True  # back, but its answers are lost on the way
    relay.start()
    failed_before = len(tries)
    wait_until(lambda: len(tries) > failed_before)  # one reached the site, unanswered
    relay.swallow_answers = False
    wait_until(lambda: worker.outbox.pending() == 0 and worker.reports_kept >= 4)
    stop.set()
    worker.join(15)
    relay.stop()

    figures = worker.figures()
    assert figures["pending"] == 0
    uploads = list(Upload.objects.filter(camera=camera).order_by("start"))
    assert len(uploads) == figures["kept"] == figures["sent"]
    assert sorted(str(u.key) for u in uploads) == sorted({key for key, ok in tries if ok})
    for earlier, later in zip(uploads, uploads[1:], strict=False):
        assert earlier.end == later.start  # every interval, once, none missing
    assert uploads[1].health["frames"] > 10
    lost_answer, answered = tries[failed_before]
    assert not answered and (lost_answer, True) in tries  # sent again, stored once


def while_locked(write):
    """Try a write again while the live server holds the table (its SQLite locks a table
    that is read while written)."""
    from django.db import OperationalError

    for _ in range(100):
        try:
            return write()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    return write()


@pytest.mark.django_db(transaction=True)
def test_a_line_added_on_the_site_is_counted_by_the_running_agent(
    live_server, traffic_camera, tmp_path
):
    from traffic.cameras import config_changed
    from traffic.models import Count, CountLine

    camera, raw_key = traffic_camera
    stop = threading.Event()
    worker = start_worker(live_server.url, raw_key, tmp_path, live_frames(stop), stop=stop)
    wait_until(lambda: worker.figures()["sent"] >= 1)

    added = while_locked(
        lambda: CountLine.objects.create(camera=camera, name="1st Ave", x1=32, y1=0, x2=32, y2=48)
    )
    while_locked(lambda: config_changed(camera.pk))
    wait_until(lambda: worker.counter_version == 2)
    kept = worker.reports_kept
    wait_until(lambda: worker.figures()["sent"] > kept)
    stop.set()
    worker.join(15)

    assert worker.figures()["pending"] == 0
    assert Count.objects.filter(line=added, direction="in", vehicle_class="car").exists()


# --- the command line -----------------------------------------------------------------------


def edge_traffic(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "traffic", *map(str, args)],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_edge_traffic(*args) -> subprocess.CompletedProcess:
    process = edge_traffic(*args)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def crossing_frames():
    """7 s at 25 fps, 640x480: a car drives up across y=240 (in, for a line drawn left to
    right), then a van drives down across it (out)."""
    car = Mover(start=(300, 400), end=(300, 20), size=(60, 50), first_frame=20, last_frame=80)
    van = Mover(start=(100, 20), end=(100, 400), size=(70, 60), first_frame=90, last_frame=140)
    return render_clip(175, movers=[car, van])


@pytest.fixture(scope="module")
def crossing_clip(crossing_frames, tmp_path_factory):
    """The crossing frames as a video file."""
    return write_clip(crossing_frames, tmp_path_factory.mktemp("clips") / "crossing.avi")


def test_the_traffic_agent_never_imports_django():
    code = "import sys, edge.__main__, edge.traffic_agent; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


def test_a_dry_run_prints_each_crossing_and_the_counts_per_line_direction_and_class(
    crossing_clip,
):
    result = run_edge_traffic(
        "--source", crossing_clip, "--line", "North:0,240,640,240", "--dry-run"
    )

    assert result.returncode == 0, result.stderr
    *crossings, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["line"], c["direction"]) for c in crossings] == [("North", "in"), ("North", "out")]
    assert summary["type"] == "summary"
    assert summary["frames"] == 175
    assert summary["counts"] == {"North": {"in": {"car": 1}, "out": {"car": 1}}}


def test_the_command_line_refuses_what_it_cannot_use(crossing_clip):
    bad_line = run_edge_traffic("--source", crossing_clip, "--line", "North:0,240", "--dry-run")
    no_server = run_edge_traffic("--source", crossing_clip, "--key", "fsd_x")
    two_ways = run_edge_traffic("--camera", "fsd_a=0", "--source", "1", "--server", "http://x")

    assert bad_line.returncode == 2
    assert "NAME:x1,y1,x2,y2" in bad_line.stderr
    assert no_server.returncode == 2
    assert "--server and a camera" in no_server.stderr
    assert two_ways.returncode == 2
    assert "--camera KEY=SOURCE" in two_ways.stderr


@pytest.mark.django_db(transaction=True)
def test_a_clip_standing_in_for_a_camera_feeds_the_site(
    live_server, operator, settings, crossing_clip, tmp_path
):
    from traffic.cameras import camera_create
    from traffic.models import Count, CountLine, Intersection, Upload

    settings.MEDIA_ROOT = tmp_path / "media"
    intersection = Intersection.objects.create(name="Main & 1st")
    camera, raw_key = camera_create(owner=operator, intersection=intersection, name="North")
    line = CountLine.objects.create(camera=camera, name="Main St", x1=0, y1=240, x2=640, y2=240)
    cameras = tmp_path / "cameras.json"
    listed = [{"key": raw_key, "source": str(crossing_clip)}]
    cameras.write_text(json.dumps({"server": live_server.url, "cameras": listed}))

    result = run_edge_traffic(
        "--cameras",
        cameras,
        "--set",
        "process_width=240",  # a local setting over the site's
        "--fast",
        "--interval-seconds",
        "2",
        "--state-dir",
        tmp_path / "state",
    )

    assert result.returncode == 0, result.stderr
    uploads = Upload.objects.filter(camera=camera).order_by("start")
    assert 4 <= uploads.count() <= 5  # 7 s in intervals of 2 s, aligned
    assert uploads.last().health["frames"] >= 1
    counts = {(c.direction, c.vehicle_class): c.count for c in Count.objects.filter(line=line)}
    assert counts == {("in", "car"): 1, ("out", "car"): 1}
    assert "0 waiting in the outbox" in result.stderr
    camera.refresh_from_db()
    assert camera.snapshot  # its view, for drawing lines


def test_sigterm_posts_the_partial_interval_and_keeps_the_unsent_ones_on_disk(
    crossing_clip, tmp_path
):
    state = tmp_path / "state"
    state.mkdir()
    name = traffic_agent.state_name("fsd_x")
    # The config it was given last time: it counts with it while the site is away.
    config = camera_config() | {"width": 640, "height": 480}
    (state / f"{name}.config.json").write_text(json.dumps(config))
    agent = edge_traffic(
        "--camera",
        f"fsd_x={crossing_clip}",  # read at its own pace: 7 s
        "--server",
        f"http://127.0.0.1:{free_port()}",  # nobody there
        "--interval-seconds",
        "1",
        "--state-dir",
        state,
    )
    for line in agent.stderr:
        if "kept for sending" in line:
            break
    agent.send_signal(signal.SIGTERM)
    _, stderr = agent.communicate(timeout=15)

    assert agent.returncode == 0, stderr
    with sqlite3.connect(state / f"{name}.sqlite3") as outbox:
        rows = outbox.execute("SELECT fields FROM events ORDER BY seq").fetchall()
    reports = [json.loads(json.loads(fields)["body"]) for (fields,) in rows]
    assert len(reports) >= 2
    assert reports[-1]["health"]["partial"] is True
    assert f"stopped: 0 sent, {len(reports)} waiting in the outbox" in stderr


def test_the_traffic_demo_clip_comes_with_its_lines_and_truth(tmp_path):
    clip = tmp_path / "road.avi"
    made = subprocess.run(
        [sys.executable, "-m", "edge", "traffic-demo-clip", clip, "--seconds", "2"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(clip)
    assert clip.stat().st_size > 0
    assert "--line A:200,110,200,470" in made.stderr
    assert "truth: {" in made.stderr


# --- what the counter sees, and what it learnt of the camera ---------------------------------


def played(frames: list, stop: threading.Event, fps: float = 25.0):
    """A camera filming `frames`: each at its time by the wall clock, then the last one held
    until `stop`."""
    for frame in frames:
        if stop.is_set():
            return
        yield frame, datetime.now(UTC)
        time.sleep(1 / fps)
    while not stop.is_set():
        yield frames[-1], datetime.now(UTC)
        time.sleep(1 / fps)


def road_config() -> dict:
    # The crossing clip's camera as the site sends it: its frame, a line across its road.
    return camera_config() | {
        "width": 640,
        "height": 480,
        "lines": [{"id": 1, "name": "Main St", "x1": 0, "y1": 240, "x2": 640, "y2": 240}],
    }


def is_red(rgb) -> bool:
    red, green, blue = rgb
    return red > 180 and green < 120 and blue < 120


@pytest.mark.django_db(transaction=True)
def test_the_site_gets_what_the_counter_sees_beside_the_snapshot(
    live_server, operator, viewer, settings, crossing_frames, tmp_path
):
    import io

    from PIL import Image

    from conftest import client_for
    from traffic.cameras import camera_create
    from traffic.models import CountLine, Intersection, TrafficCamera

    settings.MEDIA_ROOT = tmp_path / "media"
    intersection = Intersection.objects.create(name="Main & 1st")
    camera, raw_key = camera_create(owner=operator, intersection=intersection, name="North")
    CountLine.objects.create(camera=camera, name="Main St", x1=0, y1=240, x2=640, y2=240)
    stop = threading.Event()
    worker = start_worker(
        live_server.url,
        raw_key,
        tmp_path,
        played(crossing_frames, stop),
        stop=stop,
        counter_factory=traffic_agent.make_counter,
    )
    sent = TrafficCamera.objects.filter(pk=camera.pk).exclude(annotated_snapshot="")
    try:
        wait_until(sent.exists, timeout=20)
        wait_until(lambda: worker.counter.frames >= 100)  # counting goes on, undrawn
    finally:
        stop.set()
        worker.join(15)

    client = client_for(viewer)
    pictures = {}
    for kind in ("snapshot", "annotated-snapshot"):
        answer = client.get(f"/traffic/cameras/{camera.pk}/{kind}/")
        assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
        pictures[kind] = Image.open(io.BytesIO(b"".join(answer.streaming_content))).convert("RGB")
    plain, seen = pictures["snapshot"], pictures["annotated-snapshot"]
    # The counter works at 320x240; the picture of what it sees is enlarged to be read.
    assert plain.size == seen.size == (640, 480)
    # The counter's line, drawn in red across the road where the site has it.
    assert is_red(seen.getpixel((500, 240))) and not is_red(plain.getpixel((500, 240)))
    assert not is_red(seen.getpixel((500, 200)))
    # Drawn for the one picture sent, not on every frame counted.
    assert worker.link.annotated_snapshots == 1
    assert worker.view.drawn == worker.view.frames < worker.counter.frames


def test_what_the_counter_learnt_of_the_camera_is_taken_up_at_the_next_start(
    stand_in, crossing_frames, tmp_path
):
    stand_in.config = road_config()
    state = tmp_path / "state"
    start = datetime.now(UTC) - timedelta(seconds=10)
    first = start_worker(
        stand_in.url,
        "fsd_a",
        tmp_path,
        frames_at(crossing_frames, start, fps=25),
        stop=threading.Event(),
        counter_factory=traffic_agent.make_counter,
    )
    first.join(30)
    kept = state / f"{traffic_agent.state_name('fsd_a')}.calibration.json"
    learnt = first.counter.calibration.to_dict()
    assert len(learnt["sizes"]) == 2  # the car and the van
    assert json.loads(kept.read_text()) == learnt
    assert [p.name for p in state.glob("*.tmp")] == []

    gate = threading.Event()

    def camera_again():  # one frame, then the rest once the counter is looked at
        frames = frames_at(crossing_frames, datetime.now(UTC) - timedelta(seconds=10), fps=25)
        yield next(frames)
        gate.wait(10)
        yield from frames

    second = start_worker(
        stand_in.url,
        "fsd_a",
        tmp_path,
        camera_again(),
        stop=threading.Event(),
        counter_factory=traffic_agent.make_counter,
    )
    wait_until(lambda: second.counter is not None)
    started_with = second.counter.calibration.to_dict()
    gate.set()
    second.join(30)

    assert started_with == learnt
    # The second run goes on from there: both runs' vehicles are remembered.
    assert len(json.loads(kept.read_text())["sizes"]) == 4
    assert second.figures()["rejected"] == 0


def test_a_corrupt_file_of_learnt_sizes_is_said_once_and_the_camera_counts_afresh(
    stand_in, crossing_clip, tmp_path
):
    stand_in.config = road_config()
    state = tmp_path / "state"
    state.mkdir()
    kept = state / f"{traffic_agent.state_name('fsd_x')}.calibration.json"
    kept.write_bytes(b'{"frame_size": [640, 480], "sizes": [[61.0, 5')  # cut short

    result = run_edge_traffic(
        "--camera",
        f"fsd_x={crossing_clip}",
        "--server",
        stand_in.url,
        "--fast",
        "--interval-seconds",
        "2",
        "--state-dir",
        state,
    )

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "unreadable" in line]
    assert len(warnings) == 1 and "learning them afresh" in warnings[0]
    counted = sum(c["count"] for r in stand_in.posted("counts") for c in r["counts"])
    assert counted == 2
    assert len(json.loads(kept.read_text())["sizes"]) == 2  # learnt again, kept whole


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe garbage",
        b"[]",
        b'{"frame_size": [640, 480], "sizes": "car", "speeds": []}',
        b'{"frame_size": [640, 480], "sizes": [[NaN, 30.0]], "speeds": [1e999]}',
        b'{"frame_size": [1e999, 480], "sizes": [], "speeds": []}',
        b'{"frame_size": [640, 480], "sizes": [[-60.0, 50.0]], "speeds": [4.0]}',
        b"[" * 100_000,
    ],
)
def test_no_kept_file_stops_a_camera_from_counting(stand_in, tmp_path, content):
    worker = CameraWorker(
        CameraSpec(key="fsd_x"),
        server_url=stand_in.url,
        state_dir=tmp_path,
        stop=threading.Event(),
    )
    worker.calibration_file.write_bytes(content)

    calibration = worker.kept_calibration((640, 480))

    assert (list(calibration.sizes), list(calibration.speeds)) == ([], [])
    assert calibration.frame_size == (640, 480)
