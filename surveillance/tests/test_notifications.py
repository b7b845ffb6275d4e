"""Webhook notices of motion events, sent to a real local HTTP receiver outside the request
path: the Discord shape with the picture attached, the JSON shape, quiet hours, retries."""

import json
import socket
import threading
from datetime import UTC, date, datetime, time, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from energy import worker
from surveillance import events, notifications
from surveillance.models import Camera, Delivery

from .device_helpers import event_fields, new_camera, picture

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint recording each POST (headers, body); answers `statuses` in turn
    (then 204)."""

    def __init__(self, *statuses):
        self.requests = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = receiver.statuses.pop(0) if receiver.statuses else 204
                if code < 300:
                    receiver.requests.append((dict(self.headers), body))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://flowsuite.example.com"


def motion(camera: Camera, at: datetime | None = None, *pictures):
    fields = event_fields(started_at=at or datetime.now(UTC) - timedelta(seconds=5))
    return events.record_event(camera, fields, list(pictures) or [picture()])[0]


def multipart_parts(headers: dict, body: bytes) -> dict:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body
    )
    return {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }


def test_a_discord_webhook_gets_the_snapshot_attached_and_shown_in_the_embed(receiver):
    camera, _ = new_camera("Gate", location="North fence", discord_webhook_url=receiver.url)
    best = picture(640, 480)
    event = motion(camera, None, best, picture())

    assert notifications.deliver_due() == {"sent": 1, "retry": 0, "failed": 0}

    [(headers, body)] = receiver.requests
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(headers, body)
    attachment = parts["files[0]"]
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_payload(decode=True) == best
    filename = attachment.get_filename()
    payload = json.loads(parts["payload_json"].get_payload(decode=True))
    assert payload["attachments"] == [{"id": 0, "filename": filename}]
    [embed] = payload["embeds"]
    assert embed["title"] == "Motion at Gate"
    assert embed["image"] == {"url": f"attachment://{filename}"}
    assert embed["url"].startswith("https://flowsuite.example.com/surveillance/")
    assert embed["timestamp"] == event.started_at.isoformat()
    assert {"name": "Score", "value": "4.2%", "inline": True} in embed["fields"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None
    assert delivery.attempts == 1


def test_a_json_webhook_gets_the_event_and_absolute_picture_links(receiver):
    camera, _ = new_camera("Yard", webhook_url=receiver.url)
    event = motion(camera)

    call_command("surveillance_notify", "--once")

    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["type"] == "motion"
    assert sent["id"] == event.pk
    assert sent["event_id"] == str(event.event_id)
    assert sent["camera"]["name"] == "Yard"
    assert sent["score"] == pytest.approx(0.042)
    assert sent["boxes"] == [[10, 12, 20, 18]]
    snapshot = event.snapshots.get()
    image_path = notifications.snapshot_url("image", snapshot)
    assert sent["snapshots"][0]["image_url"] == notifications.absolute(image_path)
    assert sent["url"].startswith("https://flowsuite.example.com/")


def test_nothing_is_sent_during_the_request_only_by_the_worker(receiver):
    camera, _ = new_camera("Gate", webhook_url=receiver.url)
    motion(camera)
    assert receiver.requests == []
    assert worker.tick()["surveillance"]["sent"] == 1
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("start", "end", "local_clock", "quiet"),
    [
        (time(22), time(6), time(23, 30), True),
        (time(22), time(6), time(3, 0), True),
        (time(22), time(6), time(6, 0), False),
        (time(22), time(6), time(12, 0), False),
        (time(9), time(17), time(12, 0), True),
        (time(9), time(17), time(18, 0), False),
    ],
)
def test_quiet_hours_are_in_the_camera_s_time_zone_and_may_cross_midnight(
    start, end, local_clock, quiet
):
    camera = Camera(time_zone="America/Mexico_City", quiet_start=start, quiet_end=end)
    local = datetime.combine(date(2026, 11, 24), local_clock, ZoneInfo("America/Mexico_City"))
    moment = local.astimezone(UTC)  # as stored: the zone is the camera's to apply
    assert notifications.in_quiet_hours(camera, moment) is quiet


def test_an_event_in_quiet_hours_sends_no_webhook(receiver):
    camera, _ = new_camera(
        "Gate",
        webhook_url=receiver.url,
        discord_webhook_url=receiver.url,
        time_zone="Europe/Madrid",
        quiet_start=time(22),
        quiet_end=time(6),
    )
    night = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 00:30 in Madrid
    day = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    motion(camera, night)
    motion(camera, day)

    notifications.deliver_due()

    assert Delivery.objects.filter(event__started_at=night).count() == 0
    assert Delivery.objects.filter(event__started_at=day).count() == 2
    assert len(receiver.requests) == 2


def test_a_camera_with_notices_off_sends_nothing(receiver):
    camera, _ = new_camera("Gate", webhook_url=receiver.url, notify=False)
    motion(camera)
    assert not Delivery.objects.exists()


def test_a_webhook_is_retried_with_backoff_until_the_receiver_answers():
    failing = Receiver(500, 503)
    try:
        camera, _ = new_camera("Gate", webhook_url=failing.url)
        motion(camera)
        now = datetime.now(UTC)

        assert notifications.deliver_due(now)["retry"] == 1
        delivery = Delivery.objects.get()
        assert delivery.attempts == 1
        assert delivery.last_error == "HTTP 500 Internal Server Error"
        assert delivery.next_attempt_at == now + notifications.RETRY_BASE
        assert notifications.deliver_due(now + timedelta(seconds=29)) == {
            "sent": 0,
            "retry": 0,
            "failed": 0,
        }
        assert notifications.deliver_due(now + timedelta(seconds=30))["retry"] == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + timedelta(seconds=30 + 60)  # doubled

        assert notifications.deliver_due(now + timedelta(seconds=90))["sent"] == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
        assert len(failing.requests) == 1
    finally:
        failing.close()


def test_a_webhook_that_never_answers_is_given_up_after_the_last_attempt():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/hook"  # nobody listens
    camera, _ = new_camera("Gate", webhook_url=url)
    motion(camera)
    later = datetime.now(UTC)
    for _ in range(notifications.MAX_ATTEMPTS):
        later += timedelta(days=1)
        notifications.deliver_due(later)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == notifications.MAX_ATTEMPTS
    assert "refused" in delivery.last_error.lower()


def test_a_receiver_that_says_gone_is_not_asked_again():
    gone = Receiver(404)
    try:
        camera, _ = new_camera("Gate", webhook_url=gone.url)
        motion(camera)
        assert notifications.deliver_due()["failed"] == 1
        assert Delivery.objects.get().last_error == "HTTP 404 Not Found"
    finally:
        gone.close()


def test_a_delivery_claimed_by_one_runner_is_not_sent_by_another(receiver):
    camera, _ = new_camera("Gate", webhook_url=receiver.url)
    motion(camera)
    delivery = Delivery.objects.get()
    now = datetime.now(UTC)
    assert notifications._claim(delivery, now)
    assert not notifications._claim(delivery, now)  # same stale copy: someone has it
    assert notifications.deliver_due(now)["sent"] == 0
    assert receiver.requests == []
