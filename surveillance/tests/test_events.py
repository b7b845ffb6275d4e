"""record_event, the one place events are written: idempotent even under a race, all or
nothing (rows and files), and announced live only to people with camera rights."""

import pytest
from channels.db import database_sync_to_async

from accounts import roles
from conftest import new_user_cookie, open_live_page
from surveillance import events, notifications
from surveillance.live import EVENTS_GROUP, camera_group
from surveillance.models import MotionEvent, Snapshot
from surveillance.uploads import ImageRejected

from .device_helpers import event_fields, new_camera, picture

pytestmark = pytest.mark.backend


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def files_in(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_an_event_posted_again_after_losing_a_race_returns_the_stored_one(media, monkeypatch):
    camera, _ = new_camera()
    fields = event_fields()
    stored, created = events.record_event(camera, fields, [picture()])
    assert created
    # The second post checked before the first committed: only the unique constraint is left.
    lookups = iter([None])
    real = events._stored
    monkeypatch.setattr(events, "_stored", lambda *a: next(lookups, None) or real(*a))

    again, created = events.record_event(camera, fields, [picture(), picture()])

    assert not created
    assert again == stored
    assert MotionEvent.objects.count() == 1
    assert Snapshot.objects.count() == 1
    assert len(files_in(media)) == 2  # the loser's files were removed


@pytest.mark.django_db
def test_a_failed_write_leaves_neither_rows_nor_files(media, monkeypatch):
    camera, _ = new_camera()

    def broken_queue(event):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(notifications, "queue", broken_queue)
    with pytest.raises(RuntimeError):
        events.record_event(camera, event_fields(), [picture(), picture(fmt="PNG")])

    assert not MotionEvent.objects.exists()
    assert files_in(media) == []


@pytest.mark.django_db
def test_a_bad_snapshot_stores_nothing_of_the_event(media):
    camera, _ = new_camera()
    with pytest.raises(ImageRejected):
        events.record_event(camera, event_fields(), [picture(), b"not a picture"])
    assert not MotionEvent.objects.exists()
    assert files_in(media) == []


# --- live ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_new_event_reaches_guards_live_and_not_people_without_camera_rights(
    channel_layer,
):
    guard_page, guard_reply = await open_live_page(
        await new_user_cookie("gus@example.com", roles.GUARD), EVENTS_GROUP
    )
    viewer_page, viewer_reply = await open_live_page(
        await new_user_cookie("vera@example.com", roles.VIEWER), EVENTS_GROUP, camera_group(1)
    )
    assert guard_reply["groups"] == [EVENTS_GROUP]
    assert viewer_reply["groups"] == []
    assert set(viewer_reply["refused"]) == {EVENTS_GROUP, camera_group(1)}

    @database_sync_to_async
    def camera_sees_motion():
        camera, _ = new_camera("Gate", location="North fence")
        return camera, events.record_event(camera, event_fields(), [picture()])[0]

    camera, event = await camera_sees_motion()

    message = await guard_page.receive_json_from(timeout=5)
    assert message["group"] == EVENTS_GROUP
    assert message["type"] == "event"
    data = message["data"]
    assert data["id"] == event.pk
    assert data["camera"] == {"id": camera.pk, "name": "Gate", "location": "North fence"}
    assert data["score"] == pytest.approx(0.042)
    assert data["snapshots"] == 1
    assert data["boxes"] == [[10, 12, 20, 18]]
    assert data["started_at"]
    assert await viewer_page.receive_nothing(timeout=0.5)
    await guard_page.disconnect()
    await viewer_page.disconnect()
