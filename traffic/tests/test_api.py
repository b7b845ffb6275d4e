"""The people's traffic API and live counts: who sees what (a guard: nothing, no websocket
group), configuration changes bumping the camera's config version, counts listed, aggregated,
exported as CSV, reviewed and queued for FlowTrack."""

import csv
import io
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from PIL import Image
from rest_framework.test import APIClient

from accounts import roles
from conftest import new_user_cookie, open_live_page
from traffic import counts, heartbeats
from traffic.models import Count, CountStatus, SyncBatch, TrafficCamera

from .helpers import as_fields, interval_start, new_camera, post_counts, report

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def reported():
    camera, key = new_camera()
    start = interval_start(minutes_ago=20)
    counts.record_interval(camera, as_fields(report(camera, start=start)))
    return camera, start


def range_of(camera, start) -> dict:
    return {
        "intersection": camera.intersection_id,
        "from": start.isoformat(),
        "to": (start + timedelta(minutes=5)).isoformat(),
    }


def test_a_guard_sees_nothing_of_traffic(guard, reported):
    camera, start = reported
    client = api(guard)
    for url in (
        "/api/traffic/intersections/",
        "/api/traffic/cameras/",
        "/api/traffic/lines/",
        f"/api/traffic/counts/?intersection={camera.intersection_id}",
        f"/api/traffic/counts/aggregate/?intersection={camera.intersection_id}",
        f"/api/traffic/counts/export/?intersection={camera.intersection_id}",
        "/api/traffic/batches/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post("/api/traffic/counts/validate/", range_of(camera, start)).status_code == 403
    assert Count.objects.filter(status=CountStatus.PENDING).count() == 2


def test_a_viewer_reads_counts_but_cannot_review_or_configure(viewer, reported):
    camera, start = reported
    client = api(viewer)
    listed = client.get("/api/traffic/counts/", range_of(camera, start))
    assert listed.status_code == 200
    assert listed.json()["count"] == 2
    assert client.post("/api/traffic/counts/validate/", range_of(camera, start)).status_code == 403
    line = camera.lines.first()
    assert client.patch(f"/api/traffic/lines/{line.pk}/", {"x1": 5}).status_code == 403


def test_what_the_counter_sees_is_read_by_whoever_reads_cameras(
    viewer, outsider, operator, guard, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    camera, _ = new_camera()
    url = f"/api/traffic/cameras/{camera.pk}/annotated-snapshot/"
    assert api(viewer).get(url).status_code == 404
    assert (
        api(viewer).get(f"/api/traffic/cameras/{camera.pk}/").json()["annotated_snapshot_url"]
        is None
    )
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 20, 30)).save(picture, "JPEG")
    heartbeats.record_snapshot(camera, picture.getvalue(), annotated=True)

    for person in (viewer, outsider, operator):
        described = api(person).get(f"/api/traffic/cameras/{camera.pk}/").json()
        assert described["annotated_snapshot_url"].startswith(f"{url}?v=")
        assert described["annotated_snapshot_at"] is not None
        answer = api(person).get(described["annotated_snapshot_url"])
        assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
        assert b"".join(answer.streaming_content) == picture.getvalue()
    assert api(guard).get(url).status_code == 403


def test_counts_are_aggregated_by_bucket_and_class(viewer, reported):
    camera, start = reported
    answer = api(viewer).get(
        "/api/traffic/counts/aggregate/",
        {**range_of(camera, start), "bucket": "day", "by": "vehicle_class"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert {row["vehicle_class"]: row["count"] for row in body["totals"]} == {"car": 12, "truck": 2}
    assert len(body["rows"]) == 2 and body["time_zone"] == "UTC"


def test_counts_aggregated_by_nothing_are_one_total(viewer, reported):
    camera, start = reported
    answer = api(viewer).get(
        "/api/traffic/counts/aggregate/", {**range_of(camera, start), "bucket": "day", "by": ""}
    )
    assert answer.status_code == 200
    assert answer.json()["totals"] == [{"count": 14, "bicycles": 0}]


def test_counts_export_as_csv(viewer, reported):
    camera, start = reported
    answer = api(viewer).get("/api/traffic/counts/export/", range_of(camera, start))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert sorted((r["class"], r["count"], r["status"]) for r in rows) == [
        ("car", "12", "pending"),
        ("truck", "2", "pending"),
    ]


def test_an_operator_reviews_a_range_and_queues_it_for_flowtrack(operator, reported):
    camera, start = reported
    client = api(operator)
    early = client.post("/api/traffic/batches/", range_of(camera, start), format="json")
    assert early.status_code == 409 and early.json()["error"]["code"] == "pending"
    car = Count.objects.get(vehicle_class="car")
    no_reason = client.post(f"/api/traffic/counts/{car.pk}/correct/", {"count": 10})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    fixed = client.post(
        f"/api/traffic/counts/{car.pk}/correct/", {"count": 10, "reason": "recount"}
    )
    assert fixed.status_code == 200
    assert (fixed.json()["count"], fixed.json()["original_count"]) == (10, 12)
    done = client.post("/api/traffic/counts/validate/", range_of(camera, start), format="json")
    assert done.json() == {"changed": 1, "batched": 0}
    queued = client.post("/api/traffic/batches/", range_of(camera, start), format="json")
    assert queued.status_code == 201, queued.json()
    assert queued.json()["count_rows"] == 2
    listed = client.get("/api/traffic/batches/").json()
    assert listed["flowtrack_configured"] is False and listed["count"] == 1
    assert SyncBatch.objects.get().status == "pending"


def test_line_and_variable_changes_bump_the_config_version(operator, reported):
    camera, _ = reported
    client = api(operator)
    made = client.post(
        "/api/traffic/lines/",
        {"camera": camera.pk, "name": "Exit", "x1": 10, "y1": 10, "x2": 300, "y2": 10},
        format="json",
    )
    assert made.status_code == 201, made.json()
    outside = client.post(
        "/api/traffic/lines/",
        {"camera": camera.pk, "name": "Far", "x1": 10, "y1": 10, "x2": 3000, "y2": 10},
        format="json",
    )
    assert outside.status_code == 400
    changed = client.patch(
        f"/api/traffic/cameras/{camera.pk}/", {"interval_minutes": 15}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    bad = client.patch(
        f"/api/traffic/cameras/{camera.pk}/",
        {"size_classes": [{"class": "car", "min_area": 10}]},
        format="json",
    )
    assert bad.status_code == 400 and "size_classes" in bad.json()["error"]["fields"]
    assert client.delete(f"/api/traffic/lines/{made.json()['id']}/").status_code == 204
    assert TrafficCamera.objects.get(pk=camera.pk).config_version == 4


MALFORMED = [
    {"min_blob_area": -1},
    {"min_blob_area": "big"},
    {"min_blob_area": 10**40},
    {"min_blob_area": [400]},
    {"size_classes": []},
    {"size_classes": "automatic"},
    {"size_classes": [{"class": "car", "min_area": -5}]},
    {"size_classes": {"car": 2500}},
]


def test_blob_area_and_size_classes_are_automatic_unless_set(operator, admin_user, reported):
    camera, _ = reported
    client = api(operator)
    url = f"/api/traffic/cameras/{camera.pk}/"
    shown = client.get(url).json()
    assert (shown["min_blob_area"], shown["size_classes"]) == (None, None)
    classes = [{"class": "motorbike", "min_area": 0}, {"class": "car", "min_area": 700}]
    chosen = client.patch(url, {"min_blob_area": 90, "size_classes": classes}, format="json")
    assert chosen.status_code == 200, chosen.json()
    assert (chosen.json()["min_blob_area"], chosen.json()["size_classes"]) == (90, classes)
    back = client.patch(url, {"min_blob_area": None, "size_classes": None}, format="json")
    assert back.status_code == 200, back.json()
    camera.refresh_from_db()
    assert (camera.min_blob_area, camera.size_classes, camera.config_version) == (None, None, 3)
    made = api(admin_user).post(
        "/api/traffic/cameras/",
        {"intersection": camera.intersection_id, "name": "West"},
        format="json",
    )
    assert (made.json()["min_blob_area"], made.json()["size_classes"]) == (None, None)

    for change in MALFORMED:  # automatic is null, never anything malformed
        answer = client.patch(url, change, format="json")
        assert answer.status_code == 400, (change, answer.content)
        assert set(change) <= set(answer.json()["error"]["fields"])
    camera.refresh_from_db()
    assert (camera.min_blob_area, camera.size_classes, camera.config_version) == (None, None, 3)


def test_only_admins_add_cameras_and_get_the_key_once(operator, admin_user, reported):
    camera, _ = reported
    body = {"intersection": camera.intersection_id, "name": "West"}
    assert api(operator).post("/api/traffic/cameras/", body, format="json").status_code == 403
    made = api(admin_user).post("/api/traffic/cameras/", body, format="json")
    assert made.status_code == 201
    key = made.json()["device_key"]
    assert key.startswith("fsd_")
    assert (
        "device_key" not in api(admin_user).get(f"/api/traffic/cameras/{made.json()['id']}/").json()
    )
    west = TrafficCamera.objects.get(name="West")
    assert post_counts(key, report(west, counts=[])).status_code == 201


# --- live counts --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_live_counts_reach_a_viewer_and_no_guard(memory_layer):
    camera, key = await database_sync_to_async(new_camera)()
    group = f"traffic.intersection.{camera.intersection_id}"
    viewer_cookie = await new_user_cookie("vera@example.com", roles.VIEWER)
    viewer, reply = await open_live_page(viewer_cookie, group)
    assert reply["groups"] == [group]
    guard_cookie = await new_user_cookie("gus@example.com", roles.GUARD)
    guard, reply = await open_live_page(guard_cookie, group)
    assert reply["refused"] == [group]

    body = await database_sync_to_async(report)(camera)
    answer = await database_sync_to_async(post_counts)(key, body)
    assert answer.status_code == 201
    event = await viewer.receive_json_from(timeout=5)
    assert event["type"] == "counts"
    assert event["data"]["camera"] == camera.pk and event["data"]["total"] == 14
    assert {
        (c["line_name"], c["direction"], c["class"], c["count"]) for c in event["data"]["counts"]
    } == {
        ("5th Ave", "in", "car", 12),
        ("5th Ave", "out", "truck", 2),
    }
    assert await guard.receive_nothing(timeout=0.3)
    await viewer.disconnect()
    await guard.disconnect()
