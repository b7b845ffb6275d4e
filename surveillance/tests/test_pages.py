"""The surveillance pages as people use them: the camera grid, the gallery by day (in the
user's time zone), the pictures, deleting events and the cameras' settings. A viewer (no
camera rights) reaches none of it."""

from datetime import UTC, date, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts import roles
from conftest import client_for, make_user
from flowsuite.asgi import application
from surveillance.models import Camera, MotionEvent, Snapshot

from .gallery_helpers import make_camera, make_event

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def camera():
    return make_camera("Gate", location="North fence")


@pytest.fixture
def event(camera):
    return make_event(camera, datetime.now(UTC) - timedelta(minutes=5), snapshots=2)


def gallery(user, **params):
    return client_for(user).get("/surveillance/events/", params)


def shown_events(response) -> list[int]:
    return [event.pk for event in response.context["page"]]


# --- who may see what -------------------------------------------------------------------


def test_a_viewer_reaches_no_camera_page_picture_or_live_view(viewer, event):
    client = client_for(viewer)
    snapshot = event.snapshots.first()
    for url in (
        "/surveillance/",
        "/surveillance/events/",
        f"/surveillance/snapshots/{snapshot.pk}/image/",
        f"/surveillance/snapshots/{snapshot.pk}/thumbnail/",
        f"/surveillance/events/{event.pk}/delete/",
        f"/surveillance/cameras/{event.camera_id}/settings/",
        "/surveillance/cameras/new/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/surveillance/cameras/{event.camera_id}/watch/").status_code == 403
    assert MotionEvent.objects.filter(pk=event.pk).exists()


def test_someone_logged_out_is_sent_to_log_in(client, event):
    snapshot = event.snapshots.first()
    for url in ("/surveillance/", f"/surveillance/snapshots/{snapshot.pk}/image/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_pictures_are_never_public_media_urls(guard, event):
    html = gallery(guard).content.decode()
    assert "/media/" not in html
    snapshot = event.snapshots.first()
    assert f"/surveillance/snapshots/{snapshot.pk}/thumbnail/" in html
    # Not even by its storage path, for anyone.
    for name in (snapshot.image.name, snapshot.thumbnail.name):
        assert client_for(guard).get(f"/media/{name}").status_code == 404


def test_a_guard_gets_the_picture_and_its_thumbnail(guard, event):
    snapshot = event.snapshots.first()
    client = client_for(guard)
    response = client.get(f"/surveillance/snapshots/{snapshot.pk}/image/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private")
    assert b"".join(response.streaming_content) == snapshot.image.open("rb").read()
    thumbnail = client.get(f"/surveillance/snapshots/{snapshot.pk}/thumbnail/")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    download = client.get(f"/surveillance/snapshots/{snapshot.pk}/image/?download=1")
    assert download["Content-Disposition"].startswith("attachment")


def test_a_picture_whose_file_is_gone_is_not_found(guard, event):
    snapshot = event.snapshots.first()
    snapshot.image.storage.delete(snapshot.image.name)
    response = client_for(guard).get(f"/surveillance/snapshots/{snapshot.pk}/image/")
    assert response.status_code == 404


# --- the camera grid ------------------------------------------------------------------------


def test_the_grid_shows_each_camera_with_status_latest_picture_and_live_view(
    guard, camera, event, django_assert_max_num_queries
):
    camera.last_seen_at = datetime.now(UTC)
    camera.health = {"fps": 11.5}
    camera.save()
    make_camera("Yard")  # never seen, no events
    client = client_for(guard)
    with django_assert_max_num_queries(8):
        response = client.get("/surveillance/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Gate" in html and "Yard" in html and "North fence" in html
    assert "11.5 fps" in html
    assert f'data-watch-url="/surveillance/cameras/{camera.pk}/watch/"' in html
    assert f"/surveillance/snapshots/{event.snapshots.first().pk}/thumbnail/" in html
    assert 'data-online="true"' in html and 'data-online="false"' in html
    assert "Waiting for the camera" in html
    assert "surveillance/grid.js" in html
    assert "/surveillance/cameras/new/" not in html  # guards add no cameras
    assert f"/surveillance/cameras/{camera.pk}/settings/" not in html


def test_an_admin_sees_add_camera_and_settings_on_the_grid(admin_user, camera):
    html = client_for(admin_user).get("/surveillance/").content.decode()
    assert "/surveillance/cameras/new/" in html
    assert f"/surveillance/cameras/{camera.pk}/settings/" in html


def test_the_watch_endpoint_marks_the_camera_watched(guard, camera):
    from surveillance import streaming

    client = client_for(guard)
    assert client.get(f"/surveillance/cameras/{camera.pk}/watch/").status_code == 405
    assert not streaming.is_watched(camera.pk)
    response = client.post(f"/surveillance/cameras/{camera.pk}/watch/")
    assert response.status_code == 200 and response.json()["watching"] is True
    assert streaming.is_watched(camera.pk)
    assert client.post("/surveillance/cameras/9999/watch/").status_code == 404


# --- the gallery by day --------------------------------------------------------------------


def test_the_gallery_shows_the_chosen_day_in_the_users_time_zone(guard, camera):
    guard.time_zone = NEW_YORK
    guard.save()
    # 23:30 in New York on 10 November is 04:30 UTC on the 11th.
    late = make_event(camera, datetime(2026, 11, 11, 4, 30, tzinfo=UTC))
    next_morning = make_event(camera, datetime(2026, 11, 11, 14, 0, tzinfo=UTC))

    tenth = gallery(guard, date="2026-11-10")
    eleventh = gallery(guard, date="2026-11-11")

    assert shown_events(tenth) == [late.pk]
    assert "23:30:00" in tenth.content.decode()
    assert shown_events(eleventh) == [next_morning.pk]
    calendar = {cell.day: cell.count for week in tenth.context["weeks"] for cell in week}
    assert calendar[date(2026, 11, 10)] == 1
    assert calendar[date(2026, 11, 11)] == 1
    assert calendar[date(2026, 11, 12)] == 0


def test_the_same_event_is_on_the_next_day_for_someone_in_utc(guard, camera):
    late = make_event(camera, datetime(2026, 11, 11, 4, 30, tzinfo=UTC))
    assert shown_events(gallery(guard, date="2026-11-10")) == []
    assert shown_events(gallery(guard, date="2026-11-11")) == [late.pk]


def test_the_gallery_filters_by_camera_and_least_score(guard, camera):
    yard = make_camera("Yard")
    at = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    strong = make_event(camera, at, score=0.4)
    weak = make_event(camera, at + timedelta(minutes=1), score=0.02)
    elsewhere = make_event(yard, at + timedelta(minutes=2), score=0.5)

    assert shown_events(gallery(guard, date="2026-11-03")) == [strong.pk, weak.pk, elsewhere.pk]
    assert shown_events(gallery(guard, date="2026-11-03", camera=camera.pk)) == [
        strong.pk,
        weak.pk,
    ]
    assert shown_events(gallery(guard, date="2026-11-03", min_score="0.25")) == [
        strong.pk,
        elsewhere.pk,
    ]
    only = gallery(guard, date="2026-11-03", camera=yard.pk, min_score="0.25")
    assert shown_events(only) == [elsewhere.pk]
    # The calendar counts with the same filters, and its links keep them.
    cells = {cell.day: cell.count for week in only.context["weeks"] for cell in week}
    assert cells[date(2026, 11, 3)] == 1
    assert f"camera={yard.pk}" in only.context["links"]["next_day"]


def test_an_empty_day_points_to_the_nearest_days_with_events(guard, camera):
    make_event(camera, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    make_event(camera, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    response = gallery(guard, date="2026-11-10")
    html = response.content.decode()
    assert "No motion on this day" in html
    assert (response.context["before"], response.context["after"]) == (
        date(2026, 11, 2),
        date(2026, 11, 20),
    )
    assert "date=2026-11-02" in html and "date=2026-11-20" in html


def test_the_gallery_without_a_date_shows_today(guard, event):
    response = gallery(guard)
    assert shown_events(response) == [event.pk]
    assert response.context["day"] == response.context["today"]


def test_the_gallery_holds_the_lightbox_data_with_boxes_and_snapshots(guard, camera):
    event = make_event(
        camera, datetime(2026, 11, 5, 8, 0, tzinfo=UTC), boxes=[[10, 20, 30, 40]], snapshots=3
    )
    data = gallery(guard, date="2026-11-05").context["events_data"]
    assert data[0]["boxes"] == [[10, 20, 30, 40]]
    assert (data[0]["frame_width"], data[0]["frame_height"]) == (160, 120)
    assert [s["position"] for s in data[0]["snapshots"]] == [0, 1, 2]
    best = event.snapshots.get(position=0)
    assert data[0]["snapshots"][0]["image_url"] == f"/api/surveillance/snapshots/{best.pk}/image/"


def test_the_gallery_reads_a_whole_day_in_a_few_queries(
    guard, camera, django_assert_max_num_queries
):
    at = datetime(2026, 11, 7, 6, 0, tzinfo=UTC)
    for minute in range(15):
        make_event(camera, at + timedelta(minutes=minute), snapshots=2)
    client = client_for(guard)
    with django_assert_max_num_queries(12):
        response = client.get("/surveillance/events/", {"date": "2026-11-07"})
    assert len(shown_events(response)) == 15


def test_a_bad_filter_is_explained_not_a_crash(guard, event):
    response = gallery(guard, date="not-a-day", min_score="3")
    assert response.status_code == 200
    assert shown_events(response) == []
    assert "Check the filters" in response.content.decode()


def test_delete_buttons_follow_the_permissions(guard, operator, admin_user, event):
    day = {"date": event.started_at.date().isoformat()}
    assert 'id="lightbox-delete"' not in gallery(guard, **day).content.decode()
    operator_page = gallery(operator, **day).content.decode()
    assert 'id="lightbox-delete"' in operator_page and 'id="delete-actions"' not in operator_page
    assert 'id="delete-actions"' in gallery(admin_user, **day).content.decode()


# --- deleting -------------------------------------------------------------------------------


def files_of(event) -> list:
    return [
        (s.image.storage, name)
        for s in event.snapshots.all()
        for name in (s.image.name, s.thumbnail.name)
    ]


def test_an_operator_deletes_one_event_with_its_files_a_guard_cannot(
    guard, operator, event, django_capture_on_commit_callbacks
):
    url = f"/surveillance/events/{event.pk}/delete/"
    assert client_for(guard).post(url).status_code == 403
    files = files_of(event)

    client = client_for(operator)
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Delete this event?" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"next": "/surveillance/events/?date=2026-11-01"})

    assert response.status_code == 302
    assert response["Location"] == "/surveillance/events/?date=2026-11-01"
    assert not MotionEvent.objects.filter(pk=event.pk).exists()
    assert not any(storage.exists(name) for storage, name in files)


def test_deleting_refuses_to_send_you_elsewhere(operator, event):
    response = client_for(operator).post(
        f"/surveillance/events/{event.pk}/delete/", {"next": "https://evil.example.com/"}
    )
    assert response["Location"].startswith("/surveillance/events/?date=")


def test_only_admins_delete_a_day_and_only_that_day_in_their_time_zone(
    operator, admin_user, camera, django_capture_on_commit_callbacks
):
    admin_user.time_zone = NEW_YORK
    admin_user.save()
    late = make_event(camera, datetime(2026, 11, 11, 4, 30, tzinfo=UTC))  # the 10th in NY
    next_day = make_event(camera, datetime(2026, 11, 11, 14, 0, tzinfo=UTC))
    other_camera = make_event(make_camera("Yard"), datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    url = "/surveillance/events/delete-day/"
    assert client_for(operator).post(url, {"date": "2026-11-10"}).status_code == 403

    client = client_for(admin_user)
    confirm = client.get(url, {"date": "2026-11-10", "camera": camera.pk})
    assert confirm.status_code == 200 and confirm.context["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"date": "2026-11-10", "camera": camera.pk})

    assert response.status_code == 302
    assert set(MotionEvent.objects.values_list("pk", flat=True)) == {next_day.pk, other_camera.pk}
    assert late.pk not in MotionEvent.objects.values_list("pk", flat=True)


def test_deleting_all_needs_an_admin_and_the_box_ticked(
    operator, admin_user, event, django_capture_on_commit_callbacks
):
    url = "/surveillance/events/delete-all/"
    assert client_for(operator).get(url).status_code == 403
    assert client_for(operator).post(url, {"confirm": "delete"}).status_code == 403
    client = client_for(admin_user)
    assert "Delete every event?" in client.get(url).content.decode()

    client.post(url)  # not confirmed
    assert MotionEvent.objects.count() == 1
    files = files_of(event)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"confirm": "delete"})
    assert MotionEvent.objects.count() == 0 and Snapshot.objects.count() == 0
    assert not any(storage.exists(name) for storage, name in files)
    assert Camera.objects.count() == 1  # the cameras stay


# --- cameras' settings and keys ------------------------------------------------------------


SETTINGS = {
    "name": "Gate",
    "location": "North fence",
    "time_zone": "Europe/Madrid",
    "notify": "on",
    "discord_webhook_url": "https://discord.com/api/webhooks/1/abc",
    "webhook_url": "",
    "quiet_start": "22:00",
    "quiet_end": "06:30",
}


def test_an_admin_changes_a_cameras_settings(admin_user, camera):
    url = f"/surveillance/cameras/{camera.pk}/settings/"
    response = client_for(admin_user).post(url, SETTINGS)
    assert response.status_code == 302
    camera.refresh_from_db()
    assert camera.time_zone == "Europe/Madrid"
    assert camera.discord_webhook_url == "https://discord.com/api/webhooks/1/abc"
    assert (camera.quiet_start.hour, camera.quiet_end.minute) == (22, 30)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quiet_end": ""}, "quiet_end", "Give both ends of the quiet hours"),
        ({"quiet_start": ""}, "quiet_start", "Give both ends of the quiet hours"),
        ({"quiet_end": "22:00"}, "quiet_end", "must not start and end together"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
        ({"webhook_url": "ftp://example.com/x"}, "webhook_url", "http:// or https://"),
        ({"discord_webhook_url": "not a url"}, "discord_webhook_url", "Enter a valid URL"),
        ({"name": "  "}, "name", "This field is required"),
        ({"name": "Yard"}, "name", "already exists"),
    ],
)
def test_the_settings_form_refuses_bad_values(admin_user, camera, change, field, message):
    make_camera("Yard")
    response = client_for(admin_user).post(
        f"/surveillance/cameras/{camera.pk}/settings/", {**SETTINGS, **change}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    camera.refresh_from_db()
    assert camera.time_zone != "Europe/Madrid"  # nothing saved


def test_a_guard_may_not_change_settings_or_keys(guard, camera):
    client = client_for(guard)
    assert client.post(f"/surveillance/cameras/{camera.pk}/settings/", SETTINGS).status_code == 403
    assert client.post(f"/surveillance/cameras/{camera.pk}/key/").status_code == 403
    assert client.post("/surveillance/cameras/new/", SETTINGS).status_code == 403


def test_adding_a_camera_shows_its_key_once(admin_user):
    client = client_for(admin_user)
    response = client.post("/surveillance/cameras/new/", {**SETTINGS, "name": "Dock"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    camera = Camera.objects.get(name="Dock")
    raw_key = response.context["raw_key"]
    assert raw_key.startswith("fsd_") and raw_key in response.content.decode()
    assert camera.device_key.digest == camera.device_key.digest_of(raw_key)
    settings_page = client.get(f"/surveillance/cameras/{camera.pk}/settings/").content.decode()
    assert raw_key not in settings_page and camera.device_key.hint in settings_page


def test_a_new_key_replaces_the_old_one(admin_user):
    from surveillance.cameras import camera_create

    camera, old_key = camera_create(owner=admin_user, name="Dock")
    old = camera.device_key
    response = client_for(admin_user).post(f"/surveillance/cameras/{camera.pk}/key/")
    new_key = response.context["raw_key"]
    camera.refresh_from_db()
    old.refresh_from_db()
    assert new_key != old_key and old.revoked_at is not None
    assert camera.device_key.digest == camera.device_key.digest_of(new_key)


# --- live groups -----------------------------------------------------------------------------


@database_sync_to_async
def cookie_of(email, role):
    user = make_user(email, role)
    return f"sessionid={client_for(user).cookies['sessionid'].value}".encode()


async def subscribe(cookie, groups):
    socket = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)],
    )
    assert (await socket.connect())[0]
    await socket.send_json_to({"action": "subscribe", "groups": groups})
    reply = await socket.receive_json_from(timeout=5)
    await socket.disconnect()
    return reply


@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
async def test_a_viewer_may_not_follow_events_or_a_cameras_live_view():
    groups = ["surveillance.events", "surveillance.camera.1"]
    viewer_reply = await subscribe(await cookie_of("v@example.com", roles.VIEWER), groups)
    guard_reply = await subscribe(await cookie_of("g@example.com", roles.GUARD), groups)
    assert sorted(viewer_reply["refused"]) == sorted(groups)
    assert sorted(guard_reply["groups"]) == sorted(groups)


# --- the Django admin ----------------------------------------------------------------------


def test_the_admin_shows_events_read_only_with_pictures(admin_user, event):
    client = client_for(admin_user)
    listing = client.get("/admin/surveillance/motionevent/").content.decode()
    assert f"/surveillance/snapshots/{event.snapshots.first().pk}/thumbnail/" in listing
    detail = client.get(f"/admin/surveillance/motionevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert f"/surveillance/snapshots/{event.snapshots.first().pk}/image/" in detail.content.decode()
    assert client.get("/admin/surveillance/motionevent/add/").status_code == 403
    assert client.get("/admin/surveillance/delivery/").status_code == 200


def test_a_camera_added_in_the_admin_gets_a_key_shown_once(admin_user):
    response = client_for(admin_user).post(
        "/admin/surveillance/camera/add/",
        {"name": "Dock", "time_zone": "UTC", "notify": "on"},
        follow=True,
    )
    camera = Camera.objects.get(name="Dock")
    messages = [str(m) for m in response.context["messages"]]
    assert any(camera.device_key.hint in m and "fsd_" in m for m in messages)


@pytest.mark.django_db
def test_motion_toasts_follow_guards_on_every_page_but_not_viewers():
    guard = client_for(make_user("guard@example.com", roles.GUARD))
    viewer = client_for(make_user("viewer@example.com", roles.VIEWER))

    for path in ("/", "/energy/", "/gatepass/"):
        assert "surveillance/surveillance.js" in guard.get(path).content.decode(), path
        assert "surveillance/surveillance.js" not in viewer.get(path).content.decode(), path
