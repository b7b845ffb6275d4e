"""The agent's traffic: against a small stand-in server that records what it is sent and
answers as it is told, and against the real site (see the live tests below)."""

import contextlib
import email.parser
import email.policy
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from edge import outbox as outbox_module
from edge.agent import Agent
from edge.client import Server
from edge.outbox import Outbox
from edge.tests.test_outbox import motion_event
from edge.uploader import FrameTap, Link, Sender
from flowsuite.testing import free_port


class StandIn(ThreadingHTTPServer):
    """Records every request; answers events with the statuses queued in `answers` (201
    once they run out), heartbeats and frames with `stream`."""

    daemon_threads = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []
        self.stream = {"stream": False, "stream_fps": 2}
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def events(self, status: int | None = None) -> list[dict]:
        return [
            r
            for r in self.requests
            if r["path"].endswith("/events/") and status in (None, r["status"])
        ]

    def delivered(self) -> list[str]:
        return [r["fields"]["event_id"] for r in self.events(201)]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        record = {"path": self.path, "headers": dict(self.headers), "at": time.monotonic()}
        if self.path.endswith("/events/"):
            record.update(parse_form(self.headers["Content-Type"], body))
            status, headers = self.server.answers.pop(0) if self.server.answers else (201, {})
            answer = {"id": len(self.server.requests), "duplicate": False}
        elif self.path.endswith("/heartbeat/"):
            record["json"] = json.loads(body)
            status, headers, answer = 200, {}, self.server.stream
        else:
            record["jpeg"] = body
            status, headers, answer = 200, {}, {"stream": self.server.stream["stream"]}
        record["status"] = status
        self.server.requests.append(record)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        payload = json.dumps(answer).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def parse_form(content_type: str, body: bytes) -> dict:
    """multipart/form-data read back with the standard library's e-mail parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields, files = {}, []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            files.append((name, part.get_filename(), part.get_content_type(), part.get_content()))
        else:
            fields[name] = part.get_content()
    return {"fields": fields, "files": files}


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(outbox_module, "FIRST_RETRY", 0.05)


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def sender_for(outbox, url: str, key: str = "fsd_test") -> Sender:
    sender = Sender(outbox, Server(url, key, timeout=5), idle_wait=0.05)
    sender.start()
    return sender


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never came true")
        time.sleep(0.02)


def test_an_event_is_posted_as_the_contract_says(outbox, stand_in):
    event = motion_event()
    outbox.put(event)

    sender = sender_for(outbox, stand_in.url)
    wait_until(lambda: outbox.counters()["sent"] == 1)
    sender.stop(0)

    (posted,) = stand_in.events()
    assert posted["path"] == "/api/surveillance/device/events/"
    assert posted["headers"]["Authorization"] == "Bearer fsd_test"
    assert posted["fields"]["event_id"] == event.event_id
    assert json.loads(posted["fields"]["boxes"]) == event.boxes
    assert posted["files"] == [
        ("snapshots", "snapshot-0.jpg", "image/jpeg", event.snapshots[0]),
        ("snapshots", "snapshot-1.jpg", "image/jpeg", event.snapshots[1]),
    ]
    assert outbox.pending() == 0


def test_a_busy_server_gets_the_events_again_in_order_and_none_overtakes(outbox, stand_in):
    events = [motion_event() for _ in range(3)]
    for event in events:
        outbox.put(event)
    stand_in.answers = [(503, {}), (500, {}), (408, {})]

    sender = sender_for(outbox, stand_in.url)
    wait_until(lambda: outbox.counters()["sent"] == 3)
    sender.stop(0)

    tried = [r["fields"]["event_id"] for r in stand_in.events()]
    assert tried == [events[0].event_id] * 4 + [events[1].event_id, events[2].event_id]
    assert stand_in.delivered() == [e.event_id for e in events]


def test_a_rate_limited_agent_waits_as_long_as_retry_after_says(outbox, stand_in):
    outbox.put(motion_event())
    stand_in.answers = [(429, {"Retry-After": "0.5"})]

    sender = sender_for(outbox, stand_in.url)
    wait_until(lambda: outbox.counters()["sent"] == 1)
    sender.stop(0)

    refused, accepted = stand_in.events()
    assert accepted["at"] - refused["at"] >= 0.5


def test_an_event_the_server_refuses_for_good_is_dropped_and_counted(outbox, stand_in):
    bad, good = motion_event(), motion_event()
    outbox.put(bad)
    outbox.put(good)
    stand_in.answers = [(400, {})]

    sender = sender_for(outbox, stand_in.url)
    wait_until(lambda: outbox.counters()["sent"] == 1)
    sender.stop(0)

    assert stand_in.delivered() == [good.event_id]
    assert outbox.counters() == {"sent": 1, "rejected": 1, "dropped": 0}


def test_a_refused_key_keeps_the_events_for_when_the_key_is_fixed(outbox, stand_in):
    outbox.put(motion_event())
    stand_in.answers = [(401, {}), (403, {})]

    sender = sender_for(outbox, stand_in.url)
    wait_until(lambda: outbox.counters()["sent"] == 1)
    sender.stop(0)

    assert outbox.counters()["rejected"] == 0


def test_events_wait_while_the_server_is_away_and_leave_when_it_returns(outbox):
    port = free_port()
    events = [motion_event() for _ in range(3)]
    sender = sender_for(outbox, f"http://127.0.0.1:{port}")
    for event in events:
        outbox.put(event)
        sender.wake()
    wait_until(lambda: outbox.next_due() is None)  # tried, failed, waiting for a retry
    assert outbox.pending() == 3

    server = StandIn(port)
    try:
        wait_until(lambda: outbox.counters()["sent"] == 3)
        sender.stop(0)
        assert server.delivered() == [e.event_id for e in events]
        assert len(server.events()) == 3
    finally:
        server.stop()


def test_stopping_keeps_what_could_not_be_sent_on_disk(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    outbox.put(motion_event())
    sender = sender_for(outbox, f"http://127.0.0.1:{free_port()}")
    wait_until(lambda: outbox.next_due() is None)

    started = time.monotonic()
    sender.stop(flush_seconds=5)

    assert time.monotonic() - started < 1  # it does not wait for a retry it cannot make
    assert not sender.is_alive()
    outbox.close()
    assert Outbox(path).pending() == 1


# --- heartbeats and the live stream ---------------------------------------------------------


def camera_frame(width=1280, height=720):
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


def test_heartbeats_report_the_agents_health(outbox, stand_in):
    outbox.put(motion_event())
    tap = FrameTap()
    link = Link(outbox, Server(stand_in.url, "fsd_test"), tap, heartbeat_every=0.1)
    link.start()
    for _ in range(5):
        tap.on_frame(camera_frame(64, 48))
    wait_until(lambda: len(stand_in.requests) >= 2)
    link.stop()

    first = stand_in.requests[0]
    assert first["path"] == "/api/surveillance/device/heartbeat/"
    assert set(first["json"]) == {
        "fps",
        "outbox_pending",
        "outbox_dropped",
        "events_sent",
        "version",
    }
    assert first["json"]["outbox_pending"] == 1
    assert first["json"]["version"] == "1"


def test_frames_are_pushed_only_while_someone_watches_and_at_the_given_rate(outbox, stand_in):
    tap = FrameTap()
    link = Link(outbox, Server(stand_in.url, "fsd_test"), tap, heartbeat_every=0.2)
    stand_in.stream = {"stream": True, "stream_fps": 5}
    link.start()
    feeding = threading.Event()

    def camera():
        while not feeding.is_set():
            tap.on_frame(camera_frame())
            time.sleep(0.01)

    threading.Thread(target=camera, daemon=True).start()
    wait_until(lambda: len(frames(stand_in)) >= 5)
    first_push = frames(stand_in)[0]["at"]
    stand_in.stream = {"stream": False, "stream_fps": 5}
    time.sleep(0.6)  # the next frame's answer, or the next heartbeat, says nobody watches
    count = len(frames(stand_in))
    time.sleep(0.5)
    feeding.set()
    link.stop()

    assert len(frames(stand_in)) == count  # stopped
    pushed = frames(stand_in)
    assert (pushed[4]["at"] - first_push) >= 4 / 5 - 0.05  # at most 5 a second
    jpeg = pushed[0]["jpeg"]
    assert pushed[0]["headers"]["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)  # scaled down to 640 wide


def frames(stand_in) -> list[dict]:
    return [r for r in stand_in.requests if r["path"].endswith("/frames/")]


def test_the_agent_keeps_every_event_and_sends_them(tmp_path, stand_in):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    agent = Agent(outbox, server_url=stand_in.url, key="fsd_test", heartbeat_every=0.1)
    events = [motion_event() for _ in range(3)]

    figures = agent.run(iter(events))

    assert figures == {"sent": 3, "rejected": 0, "dropped": 0, "pending": 0}
    assert stand_in.delivered() == [e.event_id for e in events]


# --- against the real site ------------------------------------------------------------------


class Relay:
    """A TCP relay from a port of its own to the live server, standing in for the network:
    down until `start()`, down again after `stop()`; with `swallow_answers` the requests reach
    the server but its answers are lost on the way back."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.swallow_answers = False
        self.connections = 0
        self._listener = None
        self._sockets = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source, target, is_answer: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if is_answer and self.swallow_answers:
                    break
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def real_event():
    event = motion_event(at=datetime.now(UTC) - timedelta(minutes=5))
    event.snapshots = [cv2.imencode(".jpg", camera_frame(160, 120))[1].tobytes()] * 2
    return event


@pytest.fixture
def camera(operator, settings, tmp_path):
    from surveillance.cameras import camera_create

    settings.MEDIA_ROOT = tmp_path / "media"
    return camera_create(owner=operator, name="Yard gate")


def stored_event_ids(camera) -> list[str]:
    from surveillance.models import MotionEvent

    rows = MotionEvent.objects.filter(camera=camera).order_by("id")
    return [str(event_id) for event_id in rows.values_list("event_id", flat=True)]


@pytest.mark.django_db(transaction=True)
def test_events_made_while_the_site_is_down_arrive_once_each_in_order(
    live_server, camera, tmp_path
):
    camera, raw_key = camera
    relay = Relay(urlsplit(live_server.url).port)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sender = sender_for(outbox, relay.url, raw_key)
    events = [real_event() for _ in range(4)]
    for event in events:
        outbox.put(event)
        sender.wake()
    wait_until(lambda: outbox.next_due() is None)  # tried: nobody answered

    assert outbox.pending() == 4
    assert stored_event_ids(camera) == []

    relay.start()  # the site is back
    wait_until(lambda: outbox.pending() == 0)
    sender.stop(0)
    relay.stop()

    assert stored_event_ids(camera) == [e.event_id for e in events]
    assert outbox.counters() == {"sent": 4, "rejected": 0, "dropped": 0}


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_answer_was_lost_is_sent_again_but_stored_once(
    live_server, camera, tmp_path
):
    from surveillance.models import Snapshot

    camera, raw_key = camera
    relay = Relay(urlsplit(live_server.url).port)
    relay.start()
    relay.swallow_answers = True
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    first, second = real_event(), real_event()
    outbox.put(first)
    outbox.put(second)
    sender = sender_for(outbox, relay.url, raw_key)
    # No answer: it waits to send it again. (The test polls the agent, not the database: the
    # live server's SQLite locks a table that is read while it is written.)
    wait_until(lambda: outbox.next_due() is None)

    relay.swallow_answers = False
    wait_until(lambda: outbox.pending() == 0)
    sender.stop(0)
    relay.stop()

    assert relay.connections >= 3  # the first event at least twice
    assert stored_event_ids(camera) == [first.event_id, second.event_id]
    assert Snapshot.objects.filter(event__camera=camera).count() == 4
    assert outbox.counters()["sent"] == 2


@pytest.mark.django_db(transaction=True)
def test_the_agent_heartbeat_marks_the_camera_online_with_its_health(live_server, camera, tmp_path):
    camera, raw_key = camera
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    link = Link(outbox, Server(live_server.url, raw_key), FrameTap(), heartbeat_every=60)
    link.start()
    wait_until(lambda: link.heartbeats == 1)
    link.stop()

    camera.refresh_from_db()
    assert camera.is_online
    assert camera.health["version"] == "1"
    assert camera.health["outbox_pending"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_agent_streams_to_the_site_only_while_the_live_view_is_open(
    live_server, camera, tmp_path, monkeypatch
):
    from django.core.cache import cache

    from surveillance import streaming

    camera, raw_key = camera
    relayed = []
    monkeypatch.setattr(streaming, "relay_frame", lambda camera, jpeg: relayed.append(jpeg))
    tap = FrameTap()
    link = Link(Outbox(tmp_path / "o.sqlite3"), Server(live_server.url, raw_key), tap)
    link.heartbeat_every = 0.2
    streaming.mark_watched(camera.pk)
    link.start()
    frame = camera_frame()
    wait_until(lambda: tap.on_frame(frame) or len(relayed) >= 2)
    cache.delete(f"surveillance:watched:{camera.pk}")  # the viewer closed the page
    wait_until(lambda: not link.streaming)
    link.stop()

    picture = cv2.imdecode(np.frombuffer(relayed[0], np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (360, 640, 3)
