"""The traffic pages as people use them: the intersections and the live dashboard, the history
with its CSV, the cameras' settings, keys and line editor, the snapshot picture, and the
analysts' validation through the pages. An operator may do all of it, a viewer may watch, a
guard reaches nothing (403), the live group included."""

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from PIL import Image

from conftest import client_for, open_live_page, session_cookie
from traffic import cameras, heartbeats
from traffic.models import (
    Count,
    CountLine,
    CountStatus,
    Intersection,
    Movement,
    SyncBatch,
    TrafficCamera,
    Upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FLOWTRACK_URL = ""
    settings.FLOWTRACK_MQTT_TOPIC = ""


def jpeg(width=64, height=48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 140)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_place(name="Main & 5th") -> Intersection:
    return Intersection.objects.create(name=name, location="Downtown", time_zone="UTC")


def make_camera(place, owner, name="North", *, snapshot=False, **fields) -> TrafficCamera:
    camera, _ = cameras.camera_create(owner=owner, intersection=place, name=name, **fields)
    if snapshot:
        camera.snapshot.save("view.jpg", ContentFile(jpeg()), save=False)
        camera.snapshot_at = datetime.now(UTC)
        camera.save()
    return camera


def make_line(camera, name="Stop bar", **points) -> CountLine:
    coords = {"x1": 0, "y1": 240, "x2": 640, "y2": 240, **points}
    return CountLine.objects.create(camera=camera, name=name, in_label="northbound", **coords)


def interval_start(minutes_ago=10) -> datetime:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def make_count(line, start, *, direction="in", vehicle_class="car", count=7, **fields) -> Count:
    return Count.objects.create(
        line=line,
        direction=direction,
        vehicle_class=vehicle_class,
        start=start,
        end=start + timedelta(minutes=5),
        count=count,
        original_count=count,
        **fields,
    )


@pytest.fixture
def place():
    return make_place()


@pytest.fixture
def camera(place, admin_user):
    return make_camera(place, admin_user, snapshot=True)


@pytest.fixture
def line(camera):
    return make_line(camera)


@pytest.fixture
def counts(line):
    start = interval_start()
    if start.date() != datetime.now(UTC).date():  # just after midnight: keep them today
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [
        make_count(line, start, count=7),
        make_count(line, start, direction="out", count=3),
        make_count(line, start, vehicle_class="truck", count=1),
    ]


# --- who may see what -------------------------------------------------------------------


def test_a_guard_reaches_no_traffic_page_picture_or_action(guard, place, camera, counts):
    client = client_for(guard)
    count = counts[0]
    for url in (
        "/traffic/",
        f"/traffic/intersections/{place.pk}/",
        f"/traffic/intersections/{place.pk}/history/",
        f"/traffic/intersections/{place.pk}/history.csv",
        f"/traffic/intersections/{place.pk}/validation/",
        f"/traffic/intersections/{place.pk}/edit/",
        f"/traffic/intersections/{place.pk}/cameras/new/",
        "/traffic/intersections/new/",
        f"/traffic/cameras/{camera.pk}/settings/",
        f"/traffic/cameras/{camera.pk}/lines/",
        f"/traffic/cameras/{camera.pk}/key/",
        f"/traffic/cameras/{camera.pk}/snapshot/",
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        f"/traffic/intersections/{place.pk}/validation/validate/",
        f"/traffic/intersections/{place.pk}/validation/send/",
        f"/traffic/counts/{count.pk}/validate/",
        f"/traffic/counts/{count.pk}/correct/",
        f"/traffic/counts/{count.pk}/reject/",
        f"/traffic/cameras/{camera.pk}/lines/",
    ):
        assert client.post(url, {"reason": "x", "count": 1}).status_code == 403, url
    assert Count.objects.filter(status=CountStatus.PENDING).count() == 3


def test_someone_logged_out_is_sent_to_log_in(client, place, camera):
    for url in ("/traffic/", f"/traffic/cameras/{camera.pk}/snapshot/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_viewer_watches_but_configures_and_validates_nothing(viewer, place, camera, counts):
    client = client_for(viewer)
    for url in (
        "/traffic/",
        f"/traffic/intersections/{place.pk}/",
        f"/traffic/intersections/{place.pk}/history/",
        f"/traffic/cameras/{camera.pk}/snapshot/",
    ):
        assert client.get(url).status_code == 200, url
    html = client.get(f"/traffic/intersections/{place.pk}/").content.decode()
    assert f"/traffic/cameras/{camera.pk}/lines/" not in html
    assert "/validation/" not in html
    for url in (
        f"/traffic/intersections/{place.pk}/validation/",
        f"/traffic/cameras/{camera.pk}/lines/",
        f"/traffic/cameras/{camera.pk}/settings/",
    ):
        assert client.get(url).status_code == 403, url


@pytest.mark.django_db(transaction=True)
async def test_a_guard_cannot_follow_the_live_counts_a_viewer_can(guard, viewer):
    group = "traffic.intersection.1"
    for user, allowed in ((guard, False), (viewer, True)):
        page, reply = await open_live_page(
            await database_sync_to_async(session_cookie)(user), group
        )
        assert reply.get("groups" if allowed else "refused") == [group], reply
        await page.disconnect()


# --- the pictures ---------------------------------------------------------------------------


def test_the_snapshot_is_served_to_an_operator_never_as_a_media_url(operator, place, camera):
    client = client_for(operator)
    response = client.get(f"/traffic/cameras/{camera.pk}/snapshot/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private")
    assert b"".join(response.streaming_content) == camera.snapshot.open("rb").read()
    html = client.get(f"/traffic/intersections/{place.pk}/").content.decode()
    assert "/media/" not in html and f"/traffic/cameras/{camera.pk}/snapshot/?v=" in html
    assert client.get(f"/media/{camera.snapshot.name}").status_code == 404


def test_a_camera_without_a_snapshot_shows_a_placeholder(operator, place, admin_user):
    bare = make_camera(place, admin_user, "South")
    client = client_for(operator)
    assert client.get(f"/traffic/cameras/{bare.pk}/snapshot/").status_code == 404
    html = client.get(f"/traffic/cameras/{bare.pk}/lines/").content.decode()
    assert "Waiting for the first snapshot" in html


def test_what_the_counter_sees_is_served_to_who_sees_the_snapshot(
    client, viewer, outsider, operator, guard, camera
):
    url = f"/traffic/cameras/{camera.pk}/annotated-snapshot/"
    assert client_for(viewer).get(url).status_code == 404  # not sent yet
    heartbeats.record_snapshot(camera, jpeg(320, 240), annotated=True)

    for person in (viewer, outsider, operator):  # two viewers and an operator
        response = client_for(person).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"].startswith("private")
        assert b"".join(response.streaming_content) == jpeg(320, 240)
    assert client_for(guard).get(url).status_code == 403
    assert "/accounts/login/" in client.get(url)["Location"]
    assert client_for(viewer).get(f"/media/{camera.annotated_snapshot.name}").status_code == 404


def test_the_line_editor_offers_what_the_counter_sees_once_it_was_sent(operator, camera):
    client = client_for(operator)
    url = f"/traffic/cameras/{camera.pk}/lines/"
    before = client.get(url)
    html = before.content.decode()
    assert re.search(r'id="counter-view"[^>]* disabled', html)
    assert "Not sent yet: the counter sends it with its snapshots." in html
    assert before.context["editor"]["annotated_url"] is None

    heartbeats.record_snapshot(camera, jpeg(320, 240), annotated=True)
    after = client.get(url)
    html = after.content.decode()
    assert not re.search(r'id="counter-view"[^>]* disabled', html)
    assert "Not sent yet" not in html and "What the counter saw at" in html
    annotated_url = after.context["editor"]["annotated_url"]
    assert annotated_url.startswith(f"/traffic/cameras/{camera.pk}/annotated-snapshot/?v=")
    assert client.get(annotated_url).status_code == 200
    operator.language = "es"
    operator.save()
    assert "Mostrar lo que ve el contador" in client.get(url).content.decode()


# --- intersections and the dashboard ----------------------------------------------------------


def test_the_intersections_list_their_cameras_and_status(
    operator, place, camera, admin_user, django_assert_max_num_queries
):
    camera.last_seen_at = datetime.now(UTC)
    camera.health = {"fps": 24.5}
    camera.save()
    make_camera(make_place("Harbour gate"), admin_user, "Pier")
    client = client_for(operator)
    with django_assert_max_num_queries(8):
        response = client.get("/traffic/")
    html = response.content.decode()
    assert "Main &amp; 5th" in html and "Harbour gate" in html and "Pier" in html
    assert "24.5 fps" in html and "Online" in html and "Not connected yet" in html


def test_the_dashboard_shows_counters_per_line_and_direction_and_totals_by_class(
    operator, place, camera, line, counts, admin_user, django_assert_max_num_queries
):
    second = make_camera(place, admin_user, "South", snapshot=True)
    other = make_line(second, "Exit")
    make_count(other, counts[0].start, count=4)
    client = client_for(operator)
    with django_assert_max_num_queries(16):  # 2 per camera for its latest interval
        response = client.get(f"/traffic/intersections/{place.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-now="{line.pk}:in">8<' in html  # 7 cars + 1 truck in the last interval
    assert f'data-today="{line.pk}:out">3<' in html
    assert f'data-today="{other.pk}:in">4<' in html
    assert 'data-class-total="truck">1<' in html and 'data-class-total="car">14<' in html
    assert "data-total>15<" in html
    board = json.loads(html.split('id="traffic-board" type="application/json">')[1].split("<")[0])
    assert board["lines"][str(camera.pk)][0]["name"] == "Stop bar"
    assert f'data-group="traffic.intersection.{place.pk}"' in html
    assert "traffic/dashboard.js" in html


def test_the_dashboard_queries_do_not_grow_with_lines(
    operator, place, camera, counts, django_assert_max_num_queries
):
    for n in range(6):
        make_count(make_line(camera, f"Lane {n}", y1=100 + n, y2=100 + n), counts[0].start)
    client = client_for(operator)
    with django_assert_max_num_queries(14):
        assert client.get(f"/traffic/intersections/{place.pk}/").status_code == 200


# --- history ------------------------------------------------------------------------------


def test_history_charts_a_day_by_bucket_with_turning_movements_and_csv(
    operator, place, camera, line, counts
):
    west = make_line(camera, "West", x1=100, y1=0, x2=100, y2=480)
    start = counts[0].start
    Movement.objects.create(
        camera=camera,
        from_line=line,
        to_line=west,
        vehicle_class="car",
        start=start,
        end=start + timedelta(minutes=5),
        count=5,
    )
    client = client_for(operator)
    day = start.date().isoformat()
    response = client.get(f"/traffic/intersections/{place.pk}/history/?date={day}&bucket=hour")
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart["bucket"] == "hour" and len(chart["buckets"]) == 24
    assert sum(row[4] for row in chart["rows"]) == 11
    html = response.content.decode()
    assert 'id="movement-matrix"' in html and "vendor/chartjs" in html
    matrix = response.context["movements"]["matrix_rows"]
    assert [[cell["count"] for cell in row["cells"]] for row in matrix] == [[0, 5], [0, 0]]
    csv = client.get(f"/traffic/intersections/{place.pk}/history.csv?date={day}&bucket=hour")
    assert csv["Content-Type"].startswith("text/csv")
    rows = csv.content.decode().strip().splitlines()
    assert rows[0] == "intersection,bucket_start,camera,line,direction,class,count"
    assert len(rows) == 4 and any(r.endswith("Stop bar,in,car,7") for r in rows)


def test_history_ranges_a_week_and_a_month(operator, place, counts):
    client = client_for(operator)
    week = client.get(f"/traffic/intersections/{place.pk}/history/?span=week")
    assert week.context["choice"]["bucket"] == "hour"
    assert len(week.context["chart"]["buckets"]) == 7 * 24
    month = client.get(f"/traffic/intersections/{place.pk}/history/?span=month&date=2026-02-10")
    assert month.context["choice"]["bucket"] == "day"
    assert len(month.context["chart"]["buckets"]) == 28


# --- configuration ------------------------------------------------------------------------


def test_an_operator_changes_the_analysis_variables_and_the_agent_is_told(operator, camera):
    client = client_for(operator)
    assert client.get(f"/traffic/cameras/{camera.pk}/settings/").status_code == 200
    version = camera.config_version
    response = client.post(
        f"/traffic/cameras/{camera.pk}/settings/",
        {
            "name": "North",
            "source": "rtsp://10.0.0.5/stream",
            "width": 640,
            "height": 480,
            "interval_minutes": 15,
            "min_blob_area": 600,
            "sensitivity": 0.7,
            "car_min_area": 3000,
            "truck_min_area": 15000,
        },
    )
    assert response.status_code == 302
    camera.refresh_from_db()
    assert camera.interval_minutes == 15 and camera.min_blob_area == 600
    assert camera.size_classes[1] == {"class": "car", "min_area": 3000}
    assert camera.size_classes[2] == {"class": "truck", "min_area": 15000}
    assert camera.config_version == version + 1


def test_the_settings_refuse_a_truck_smaller_than_a_car(operator, camera):
    response = client_for(operator).post(
        f"/traffic/cameras/{camera.pk}/settings/",
        {
            "name": "North",
            "width": 640,
            "height": 480,
            "interval_minutes": 5,
            "min_blob_area": 400,
            "sensitivity": 0.5,
            "car_min_area": 3000,
            "truck_min_area": 2000,
        },
    )
    assert response.status_code == 200
    assert "A truck must be larger than a car." in response.content.decode()


def input_of(page: str, name: str) -> str:
    return re.search(rf'<input[^>]* name="{name}"[^>]*>', page)[0]


def settings_of(camera, **changes) -> dict:
    fields = {
        "name": camera.name,
        "source": camera.source,
        "width": camera.width,
        "height": camera.height,
        "interval_minutes": camera.interval_minutes,
        "sensitivity": camera.sensitivity,
        "min_blob_area": "",
        "car_min_area": "",
        "truck_min_area": "",
    }
    return {**fields, **changes}


def test_the_blob_area_and_size_classes_are_automatic_when_left_blank(operator, place, admin_user):
    camera = make_camera(place, admin_user, min_blob_area=600)
    url = f"/traffic/cameras/{camera.pk}/settings/"
    client = client_for(operator)
    page = client.get(url).content.decode()
    assert 'value="600"' in input_of(page, "min_blob_area")
    car = input_of(page, "car_min_area")
    assert 'placeholder="automatic"' in car and "value=" not in car  # blank: nothing stored
    assert "learns them from the vehicles the camera sees" in page

    assert client.post(url, settings_of(camera)).status_code == 302
    camera.refresh_from_db()
    assert (camera.min_blob_area, camera.size_classes) == (None, None)
    assert camera.config_version == 2  # the agent goes back to its own defaults
    blob = input_of(client.get(url).content.decode(), "min_blob_area")
    assert 'placeholder="automatic"' in blob and "value=" not in blob


def test_the_settings_refuse_one_size_threshold_alone_and_a_negative_blob_area(operator, camera):
    url = f"/traffic/cameras/{camera.pk}/settings/"
    response = client_for(operator).post(
        url, settings_of(camera, car_min_area=3000, min_blob_area=-4)
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert (
        "Give both thresholds, or leave both blank for automatic classes."
        in (form.errors["truck_min_area"])
    )
    assert "min_blob_area" in form.errors
    camera.refresh_from_db()
    assert (camera.min_blob_area, camera.size_classes, camera.config_version) == (None, None, 1)


def test_in_spanish_the_blank_variables_say_automatic(operator, camera):
    operator.language = "es"
    operator.save()
    page = client_for(operator).get(f"/traffic/cameras/{camera.pk}/settings/").content.decode()
    assert 'placeholder="automático"' in input_of(page, "min_blob_area")


def test_the_line_editor_saves_lines_and_bumps_the_config_version(operator, camera, line, counts):
    client = client_for(operator)
    page = client.get(f"/traffic/cameras/{camera.pk}/lines/")
    assert page.status_code == 200 and "traffic/lines.js" in page.content.decode()
    assert page.context["editor"]["lines"][0]["has_counts"] is True
    version = camera.config_version
    body = {
        "lines": [
            {
                "id": line.pk,
                "name": "Stop bar",
                "x1": 10,
                "y1": 300,
                "x2": 600,
                "y2": 300,
                "in_label": "northbound",
            },
            {"name": "Left turn", "x1": 50, "y1": 50, "x2": 50, "y2": 400, "in_label": "west"},
        ],
        "masks": [[[0, 0], [100, 0], [100, 60]]],
    }
    response = client.post(
        f"/traffic/cameras/{camera.pk}/lines/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["config_version"] == version + 1
    camera.refresh_from_db()
    assert camera.config_version == version + 1
    assert camera.masks == [[[0.0, 0.0], [100.0, 0.0], [100.0, 60.0]]]
    names = list(camera.lines.order_by("name").values_list("name", "y1", "in_label"))
    assert names == [("Left turn", 50.0, "west"), ("Stop bar", 300.0, "northbound")]
    assert Count.objects.filter(line=line).count() == 3  # a moved line keeps its counts


def test_the_line_editor_deletes_left_out_lines_and_refuses_bad_ones(operator, camera, line):
    client = client_for(operator)
    url = f"/traffic/cameras/{camera.pk}/lines/"
    for bad in (
        [{"name": "", "x1": 0, "y1": 0, "x2": 100, "y2": 100}],
        [{"name": "Off", "x1": 0, "y1": 0, "x2": 900, "y2": 100}],
        [{"name": "Dot", "x1": 5, "y1": 5, "x2": 6, "y2": 6}],
        [{"name": "A", "x1": 0, "y1": 0, "x2": 99, "y2": 9}] * 2,
        [{"id": 999999, "name": "B", "x1": 0, "y1": 0, "x2": 99, "y2": 9}],
    ):
        response = client.post(url, json.dumps({"lines": bad}), content_type="application/json")
        assert response.status_code == 400 and response.json()["errors"], bad
    assert camera.lines.get().pk == line.pk
    response = client.post(url, json.dumps({"lines": []}), content_type="application/json")
    assert response.status_code == 200
    assert not camera.lines.exists()


def test_the_line_editor_saves_from_a_plain_form_too(operator, camera):
    lines = [{"name": "Gate", "x1": 0, "y1": 10, "x2": 300, "y2": 10}]
    response = client_for(operator).post(
        f"/traffic/cameras/{camera.pk}/lines/", {"lines": json.dumps(lines), "masks": "[]"}
    )
    assert response.status_code == 302
    assert camera.lines.get().name == "Gate"


def test_an_admin_adds_an_intersection_and_a_camera_and_sees_its_key_once(admin_user):
    client = client_for(admin_user)
    response = client.post(
        "/traffic/intersections/new/",
        {"name": "Ring road", "location": "Exit 4", "time_zone": "Europe/Madrid"},
    )
    place = Intersection.objects.get(name="Ring road")
    assert response.status_code == 302 and response["Location"].endswith(f"/{place.pk}/")
    response = client.post(
        f"/traffic/intersections/{place.pk}/cameras/new/",
        {"name": "East", "width": 320, "height": 240, "interval_minutes": 5, "sensitivity": 0.5},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    camera = TrafficCamera.objects.get(name="East")
    assert camera.intersection == place and camera.device_key is not None
    assert (camera.min_blob_area, camera.size_classes) == (None, None)  # automatic
    html = response.content.decode()
    assert "fsd_" in html and "python -m edge traffic" in html
    rotated = client.post(f"/traffic/cameras/{camera.pk}/key/")
    camera.refresh_from_db()
    assert rotated.status_code == 200 and camera.device_key.hint in rotated.content.decode()


def test_an_operator_adds_no_intersections_or_cameras(operator, place):
    client = client_for(operator)
    assert client.get("/traffic/intersections/new/").status_code == 403
    assert client.get(f"/traffic/intersections/{place.pk}/cameras/new/").status_code == 403


# --- validation -----------------------------------------------------------------------------


def review(client, place, start, **extra):
    day = start.date().isoformat()
    return client.get(
        f"/traffic/intersections/{place.pk}/validation/", {"first": day, "last": day, **extra}
    )


def test_the_review_table_shows_counts_health_and_batches(operator, place, camera, line, counts):
    start = counts[0].start
    Upload.objects.create(
        camera=camera,
        key="6b0d1a57-2b3c-4b9e-9f8f-3b8d2a8a0f11",
        start=start,
        end=start + timedelta(minutes=5),
        health={"fps": 24.0, "dropped_frames": 30, "gaps_seconds": 4.0},
    )
    response = review(client_for(operator), place, start)
    assert response.status_code == 200
    html = response.content.decode()
    table = response.context["tables"][0]
    row = next(r for r in table["rows"] if not r.get("missing"))
    assert row["problem"] == "gap" and 'class="is-gap"' in html
    assert sorted(c.count for c in row["cells"] if c) == [1, 3, 7]
    assert response.context["statuses"]["pending"] == 3
    assert 'id="flowtrack-not-configured"' in html
    assert f"/traffic/cameras/{camera.pk}/snapshot/" in html


def test_an_analyst_validates_corrects_rejects_and_sends_a_batch(
    operator, place, camera, line, counts
):
    client = client_for(operator)
    car, out, truck = counts
    day = car.start.date().isoformat()
    kept = {"first": day, "last": day}
    response = client.post(
        f"/traffic/counts/{car.pk}/correct/", {"count": 9, "reason": "bus hid the line", **kept}
    )
    assert response.status_code == 302 and f"first={day}" in response["Location"]
    car.refresh_from_db()
    assert (car.status, car.count, car.original_count) == ("corrected", 9, 7)
    assert car.reason == "bus hid the line" and car.reviewed_by == operator
    client.post(f"/traffic/counts/{truck.pk}/reject/", {"reason": "a shadow", **kept})
    truck.refresh_from_db()
    assert truck.status == "rejected" and truck.reason == "a shadow"
    # Refused without a reason: nothing changes.
    client.post(f"/traffic/counts/{out.pk}/correct/", {"count": 2, "reason": "", **kept})
    out.refresh_from_db()
    assert out.status == "pending" and out.count == 3
    # Sending is refused while a count is pending.
    client.post(f"/traffic/intersections/{place.pk}/validation/send/", kept)
    assert not SyncBatch.objects.exists()
    client.post(f"/traffic/intersections/{place.pk}/validation/validate/", kept)
    out.refresh_from_db()
    assert out.status == "validated"
    response = client.post(f"/traffic/intersections/{place.pk}/validation/send/", kept, follow=True)
    batch = SyncBatch.objects.get()
    assert batch.status == "pending" and set(batch.counts.all()) == {car, out}
    html = response.content.decode()
    assert "FlowTrack is not configured" in html and 'id="batches"' in html
    assert "corrected" in html and "<del>7</del>9" in html
    # A count in a batch cannot change any more.
    client.post(f"/traffic/counts/{car.pk}/correct/", {"count": 1, "reason": "late", **kept})
    car.refresh_from_db()
    assert car.count == 9


def test_the_validation_page_says_when_flowtrack_is_configured(operator, place, counts, settings):
    settings.FLOWTRACK_URL = "https://flowtrack.example/api/batches"
    response = review(client_for(operator), place, counts[0].start)
    assert 'id="flowtrack-not-configured"' not in response.content.decode()
