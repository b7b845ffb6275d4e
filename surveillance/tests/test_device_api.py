"""The camera agent's endpoints: who may call them, idempotent uploads, the rate limit,
heartbeats and live frames."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from accounts.services import api_token_create, device_key_create
from conftest import bearer_client, client_for, make_user
from surveillance import device_api, streaming
from surveillance.models import MotionEvent, Snapshot

from .device_helpers import (
    EVENTS_URL,
    FRAMES_URL,
    HEARTBEAT_URL,
    event_form,
    new_camera,
    picture,
    post_event,
    upload_file,
)

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_an_event_without_a_device_key_is_refused_with_401():
    answer = post_event(None, event_form())
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == 401


def test_a_revoked_camera_key_is_refused_with_401():
    camera, key = new_camera()
    camera.device_key.revoke()
    answer = post_event(key, event_form())
    assert answer.status_code == 401
    assert not MotionEvent.objects.exists()


def test_a_device_key_of_something_else_than_a_camera_is_refused_with_403():
    _, raw_key = device_key_create(owner=make_user("meter@example.com"), name="meter-7")
    answer = post_event(raw_key, event_form())
    assert answer.status_code == 403
    assert "no camera" in answer.json()["error"]["message"]


def test_a_person_s_token_cannot_post_camera_events():
    person = make_user("person@example.com")
    _, raw_token = api_token_create(user=person, name="script")
    answer = post_event(raw_token, event_form())
    assert answer.status_code == 403


def test_an_event_is_stored_with_its_snapshots_best_first(media):
    camera, key = new_camera()
    best, other = picture(colour=(255, 0, 0)), picture(fmt="PNG", colour=(0, 0, 255))
    form = event_form(upload_file(best), upload_file(other, "b.png", "image/png"))
    answer = post_event(key, form)

    assert answer.status_code == 201
    event = MotionEvent.objects.get()
    assert answer.json() == {"id": event.pk, "event_id": form["event_id"], "duplicate": False}
    assert event.camera == camera
    assert event.score == pytest.approx(0.042)
    assert event.boxes == [[10, 12, 20, 18]]
    assert [s.content_type for s in event.snapshots.all()] == ["image/jpeg", "image/png"]
    assert (media / event.snapshots.first().image.name).read_bytes() == best
    camera.refresh_from_db()
    assert camera.is_online


def test_the_same_event_posted_twice_is_stored_once(media):
    camera, key = new_camera()
    form = event_form()
    first = post_event(key, form)
    form["snapshots"] = [upload_file(picture())]
    again = post_event(key, form)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert MotionEvent.objects.count() == 1
    assert Snapshot.objects.count() == 1
    assert len([p for p in media.rglob("*") if p.is_file()]) == 2  # one picture, one thumbnail


def test_the_same_event_id_from_two_cameras_is_two_events():
    _, gate_key = new_camera("Gate")
    _, yard_key = new_camera("Yard")
    form = event_form()
    assert post_event(gate_key, form).status_code == 201
    form["snapshots"] = [upload_file(picture())]
    assert post_event(yard_key, form).status_code == 201
    assert MotionEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("score", "1.5"),
        ("score", "nan"),
        ("boxes", "[[1, 2, 3]]"),
        ("boxes", "not json"),
        ("event_id", "not-a-uuid"),
        ("ended_at", "2020-01-01T00:00:00+00:00"),
        ("started_at", "2999-01-01T00:00:00+00:00"),
    ],
)
def test_invalid_fields_are_refused_with_400_naming_the_field(field, value):
    _, key = new_camera()
    form = event_form()
    form[field] = value
    answer = post_event(key, form)
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert not MotionEvent.objects.exists()


def test_a_camera_over_its_upload_rate_gets_429_with_retry_after(settings):
    settings.SURVEILLANCE_UPLOADS_PER_MINUTE = 2
    _, key = new_camera("Gate")
    _, other_key = new_camera("Yard")
    answers = [post_event(key, event_form()) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert answers[2].json()["error"]["code"] == "throttled"
    assert MotionEvent.objects.count() == 2
    # Each camera has its own budget.
    assert post_event(other_key, event_form()).status_code == 201


def test_an_upload_retried_after_its_retry_after_is_accepted(settings, monkeypatch):
    settings.SURVEILLANCE_UPLOADS_PER_MINUTE = 60
    camera, key = new_camera("Gate")
    minute = 1_000_000 * 60
    # 20 uploads in the last minute, 55 in this one, 30 s into it: 55 + 20 x 0.5 = 65 > 60.
    cache.set(f"surveillance:uploads:{camera.pk}:{minute // 60 - 1}", 20)
    cache.set(f"surveillance:uploads:{camera.pk}:{minute // 60}", 55)
    now = [minute + 30.0]
    monkeypatch.setattr(device_api.CameraUploadThrottle, "clock", lambda self: now[0])
    refused = post_event(key, event_form())
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])

    now[0] = minute + 30.0 + wait - 1  # a second too soon: refused again
    assert post_event(key, event_form()).status_code == 429
    now[0] = minute + 30.0 + wait
    assert post_event(key, event_form()).status_code == 201


def test_a_heartbeat_marks_the_camera_online_and_says_whether_to_stream():
    camera, key = new_camera()
    agent = bearer_client(key)
    health = {"fps": 12.5, "outbox_pending": 3, "outbox_dropped": 0, "events_sent": 7}

    answer = agent.post(HEARTBEAT_URL, {**health, "version": "1"}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"stream": False, "stream_fps": streaming.STREAM_FPS}
    camera.refresh_from_db()
    assert camera.is_online
    assert camera.health == {**health, "version": "1"}

    streaming.mark_watched(camera.pk)
    assert agent.post(HEARTBEAT_URL, {}, format="json").json()["stream"] is True


def test_a_heartbeat_with_nonsense_is_refused():
    _, key = new_camera()
    answer = bearer_client(key).post(HEARTBEAT_URL, {"fps": "fast"}, format="json")
    assert answer.status_code == 400
    assert "fps" in answer.json()["error"]["fields"]


def post_frame(key, body: bytes, content_type="image/jpeg"):
    return bearer_client(key).generic("POST", FRAMES_URL, body, content_type=content_type)


def test_a_frame_is_answered_stream_false_while_nobody_watches():
    _, key = new_camera()
    answer = post_frame(key, picture())
    assert answer.status_code == 200
    assert answer.json() == {"stream": False}


def test_a_frame_over_1_mb_is_refused_with_413():
    camera, key = new_camera()
    streaming.mark_watched(camera.pk)
    answer = post_frame(key, picture()[:100] + b"\0" * (streaming.MAX_FRAME_BYTES + 1))
    assert answer.status_code == 413


def test_a_frame_that_is_not_a_jpeg_is_refused():
    camera, key = new_camera()
    streaming.mark_watched(camera.pk)
    assert post_frame(key, picture(fmt="PNG")).status_code == 400
    assert post_frame(key, picture(), content_type="text/plain").status_code == 415


def test_the_device_endpoints_are_in_the_openapi_schema(tmp_path):
    admin = make_user("schema@example.com")
    schema = client_for(admin).get("/api/schema/?format=json").json()
    for url in (EVENTS_URL, HEARTBEAT_URL, FRAMES_URL):
        assert url in schema["paths"], url
    upload = schema["paths"][EVENTS_URL]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "200", "401", "403", "413", "429"} <= set(upload["responses"])
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
