"""The people's surveillance API: cameras and events, with the same rights as the pages."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from conftest import bearer_client
from surveillance.models import Camera, MotionEvent

from .gallery_helpers import make_camera, make_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/surveillance/events/"
CAMERAS = "/api/surveillance/cameras/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def camera():
    return make_camera("Gate", discord_webhook_url="https://discord.com/api/webhooks/1/secret")


@pytest.fixture
def event(camera):
    return make_event(camera, datetime(2026, 11, 3, 12, 0, tzinfo=UTC), snapshots=2)


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def test_a_viewer_gets_no_event_or_camera(viewer, event):
    client = api(viewer)
    for url in (EVENTS, f"{EVENTS}{event.pk}/", f"{EVENTS}days/", CAMERAS):
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["status"] == 403
    assert client.delete(f"{EVENTS}{event.pk}/").status_code == 403
    assert MotionEvent.objects.filter(pk=event.pk).exists()


def test_no_credentials_no_events(event):
    response = APIClient().get(EVENTS)
    assert response.status_code in (401, 403)


def test_a_personal_token_of_a_guard_lists_events(guard, event):
    _token, raw = api_token_create(user=guard, name="script")
    response = bearer_client(raw).get(EVENTS)
    assert response.status_code == 200 and ids(response) == [event.pk]


def test_an_event_holds_its_boxes_and_snapshot_urls(guard, event):
    body = api(guard).get(f"{EVENTS}{event.pk}/").json()
    assert body["camera"] == event.camera_id and body["camera_name"] == "Gate"
    assert body["boxes"] == [[40, 30, 32, 24]]
    assert (body["frame_width"], body["frame_height"]) == (160, 120)
    first, second = body["snapshots"]
    assert first["position"] == 0 and second["position"] == 1
    assert first["image_url"] == f"/api/surveillance/snapshots/{first['id']}/image/"
    assert first["thumbnail_url"] == f"/api/surveillance/snapshots/{first['id']}/thumbnail/"
    assert "/media/" not in str(body)


def test_a_personal_token_of_a_guard_downloads_the_pictures_and_a_viewers_gets_none(
    guard, viewer, event
):
    snapshot = event.snapshots.first()
    _token, raw = api_token_create(user=guard, name="script")
    picture = bearer_client(raw).get(f"/api/surveillance/snapshots/{snapshot.pk}/image/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    assert b"".join(picture.streaming_content) == snapshot.image.open("rb").read()
    thumbnail = bearer_client(raw).get(f"/api/surveillance/snapshots/{snapshot.pk}/thumbnail/")
    assert thumbnail.status_code == 200

    _token, raw = api_token_create(user=viewer, name="script")
    refused = bearer_client(raw).get(f"/api/surveillance/snapshots/{snapshot.pk}/image/")
    assert refused.status_code == 403


def test_events_are_listed_newest_first_and_filtered(guard, camera):
    yard = make_camera("Yard")
    at = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    strong = make_event(camera, at, score=0.4)
    weak = make_event(camera, at + timedelta(hours=1), score=0.02)
    other_day = make_event(yard, at + timedelta(days=1), score=0.5)
    client = api(guard)

    assert ids(client.get(EVENTS)) == [other_day.pk, weak.pk, strong.pk]
    assert ids(client.get(EVENTS, {"date": "2026-11-03"})) == [weak.pk, strong.pk]
    assert ids(client.get(EVENTS, {"camera": yard.pk})) == [other_day.pk]
    assert ids(client.get(EVENTS, {"min_score": 0.3})) == [other_day.pk, strong.pk]
    both = client.get(EVENTS, {"date": "2026-11-03", "min_score": 0.3, "camera": camera.pk})
    assert ids(both) == [strong.pk]


def test_a_date_is_a_day_in_the_users_time_zone(guard, camera):
    guard.time_zone = "America/New_York"
    guard.save()
    late = make_event(camera, datetime(2026, 11, 11, 4, 30, tzinfo=UTC))  # 23:30 on the 10th
    client = api(guard)
    assert ids(client.get(EVENTS, {"date": "2026-11-10"})) == [late.pk]
    assert ids(client.get(EVENTS, {"date": "2026-11-11"})) == []
    days = client.get(f"{EVENTS}days/", {"month": "2026-11"}).json()
    assert days == {"month": "2026-11", "time_zone": "America/New_York", "days": {"2026-11-10": 1}}


def test_bad_filters_are_a_400_in_the_site_error_shape(guard, event):
    response = api(guard).get(EVENTS, {"date": "yesterday", "min_score": 2, "camera": 999})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"date", "min_score", "camera"}
    assert api(guard).get(f"{EVENTS}days/", {"month": "2026-13"}).status_code == 400


def test_the_event_list_takes_few_queries(guard, camera, django_assert_max_num_queries):
    at = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    for minute in range(10):
        make_event(camera, at + timedelta(minutes=minute), snapshots=2)
    client = api(guard)
    with django_assert_max_num_queries(6):
        assert len(ids(client.get(EVENTS))) == 10


def test_an_operator_deletes_an_event_with_its_files_a_guard_cannot(
    guard, operator, event, django_capture_on_commit_callbacks
):
    url = f"{EVENTS}{event.pk}/"
    assert api(guard).delete(url).status_code == 403
    snapshot = event.snapshots.first()
    storage, name = snapshot.image.storage, snapshot.image.name
    with django_capture_on_commit_callbacks(execute=True):
        assert api(operator).delete(url).status_code == 204
    assert not MotionEvent.objects.filter(pk=event.pk).exists()
    assert not storage.exists(name)


def test_guards_see_cameras_without_their_webhook_urls(guard, admin_user, camera):
    listed = api(guard).get(CAMERAS).json()["results"][0]
    assert listed["name"] == "Gate" and listed["is_online"] is False
    assert "discord_webhook_url" not in listed and "webhook_url" not in listed
    detail = api(admin_user).get(f"{CAMERAS}{camera.pk}/").json()
    assert detail["discord_webhook_url"] == "https://discord.com/api/webhooks/1/secret"


def test_only_admins_change_cameras_with_the_forms_checks(guard, admin_user, camera):
    url = f"{CAMERAS}{camera.pk}/"
    assert api(guard).patch(url, {"location": "Dock"}).status_code == 403
    refused = api(admin_user).patch(url, {"quiet_start": "22:00"})
    assert refused.status_code == 400
    assert "Give both ends" in refused.json()["error"]["fields"]["quiet_end"][0]
    bad_zone = api(admin_user).patch(url, {"time_zone": "Mars/Olympus"})
    assert "time_zone" in bad_zone.json()["error"]["fields"]
    done = api(admin_user).patch(url, {"quiet_start": "22:00", "quiet_end": "06:00"})
    assert done.status_code == 200 and done.json()["quiet_end"] == "06:00:00"
    assert api(admin_user).patch(url, {"location": "Dock"}).json()["location"] == "Dock"


def test_an_admin_adds_a_camera_and_gets_its_key_once(guard, admin_user):
    assert api(guard).post(CAMERAS, {"name": "Dock"}).status_code == 403
    response = api(admin_user).post(CAMERAS, {"name": "Dock", "time_zone": "Europe/Madrid"})
    assert response.status_code == 201
    key = response.json()["device_key"]
    camera = Camera.objects.get(name="Dock")
    assert camera.device_key.digest == camera.device_key.digest_of(key)
    assert "device_key" not in api(admin_user).get(f"{CAMERAS}{camera.pk}/").json()
    rotated = api(admin_user).post(f"{CAMERAS}{camera.pk}/rotate-key/").json()["device_key"]
    assert rotated != key
    assert api(guard).post(f"{CAMERAS}{camera.pk}/rotate-key/").status_code == 403


def test_the_schema_documents_the_surveillance_api(admin_user):
    text = api(admin_user).get("/api/schema/").content.decode()
    for path in (
        "/api/surveillance/cameras/",
        "/api/surveillance/events/",
        "/api/surveillance/events/{id}/",
        "/api/surveillance/events/days/",
    ):
        assert f"  {path}:" in text
    assert "min_score" in text
