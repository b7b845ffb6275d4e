"""The live view: frames flow only while someone watches, capped, to people with camera
rights."""

import base64
import time

import pytest
from channels.db import database_sync_to_async

from accounts import roles
from conftest import bearer_client, new_user_cookie, open_live_page
from surveillance import streaming
from surveillance.live import camera_group

from .device_helpers import FRAMES_URL, new_camera, picture

pytestmark = pytest.mark.backend


def test_a_watch_mark_expires_when_the_page_stops_renewing_it(monkeypatch):
    monkeypatch.setattr(streaming, "WATCH_SECONDS", 1)
    assert not streaming.is_watched(7)
    streaming.mark_watched(7)
    assert streaming.is_watched(7)
    assert not streaming.is_watched(8)
    time.sleep(1.1)
    assert not streaming.is_watched(7)


@pytest.mark.django_db
def test_frames_faster_than_the_cap_are_dropped():
    camera, _ = new_camera()
    assert streaming.relay_frame(camera, picture())
    assert not streaming.relay_frame(camera, picture())


@pytest.mark.django_db(transaction=True)
async def test_a_pushed_frame_reaches_the_watching_guard_and_no_one_without_rights(memory_layer):
    camera, key = await database_sync_to_async(new_camera)()
    group = camera_group(camera.pk)
    guard_cookie = await new_user_cookie("gus@example.com", roles.GUARD)
    guard, reply = await open_live_page(guard_cookie, group)
    assert reply["groups"] == [group]
    viewer_cookie = await new_user_cookie("vera@example.com", roles.VIEWER)
    viewer, reply = await open_live_page(viewer_cookie, group)
    assert reply["refused"] == [group]
    frame = picture(320, 240)

    @database_sync_to_async
    def push(body):
        answer = bearer_client(key).generic("POST", FRAMES_URL, body, content_type="image/jpeg")
        return answer.status_code, answer.json()

    assert await push(frame) == (200, {"stream": False})  # nobody watches: not relayed
    assert await guard.receive_nothing(timeout=0.3)

    streaming.mark_watched(camera.pk)
    assert await push(frame) == (200, {"stream": True})
    event = await guard.receive_json_from(timeout=5)
    assert event["type"] == "frame"
    assert base64.b64decode(event["data"]["jpeg"]) == frame
    assert event["data"]["at"]
    assert await viewer.receive_nothing(timeout=0.3)
    await guard.disconnect()
    await viewer.disconnect()
