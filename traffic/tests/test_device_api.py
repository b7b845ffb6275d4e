"""The traffic counter's endpoints: who may call them, the config, interval reports stored
once, heartbeats telling a new config version, snapshots."""

import io

import pytest
from PIL import Image

from accounts.services import api_token_create, device_key_create
from conftest import bearer_client, make_user
from edge.traffic import CounterSettings
from traffic.cameras import config_changed
from traffic.models import Count, CountStatus, Movement, TrafficCamera, Upload

from .helpers import (
    CONFIG_URL,
    COUNTS_URL,
    HEARTBEAT_URL,
    SNAPSHOT_URL,
    new_camera,
    post_counts,
    report,
)

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def jpeg(width=64, height=48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_no_key_is_refused_with_401():
    camera, _ = new_camera()
    answer = bearer_client("").post(COUNTS_URL, report(camera), format="json")
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == 401


def test_a_revoked_key_is_refused_with_401():
    camera, key = new_camera()
    camera.device_key.revoke()
    assert bearer_client(key).get(CONFIG_URL).status_code == 401


def test_a_key_of_another_device_or_a_person_s_token_is_refused_with_403():
    camera, _ = new_camera()
    _, meter_key = device_key_create(owner=make_user("meter@example.com"), name="meter")
    _, token = api_token_create(user=make_user("p@example.com"), name="script")
    for key in (meter_key, token):
        answer = post_counts(key, report(camera))
        assert answer.status_code == 403
    assert "traffic camera" in post_counts(meter_key, report(camera)).json()["error"]["message"]
    assert not Upload.objects.exists()


def test_the_config_holds_the_lines_and_analysis_variables():
    classes = [{"class": "motorbike", "min_area": 0}, {"class": "car", "min_area": 900}]
    camera, key = new_camera(
        interval_minutes=15, min_blob_area=500, size_classes=classes, source="rtsp://cam/1"
    )
    answer = bearer_client(key).get(CONFIG_URL)
    assert answer.status_code == 200
    body = answer.json()
    assert body["camera"] == {"id": camera.pk, "name": "North", "intersection": "Main & 5th"}
    assert body["version"] == 1
    assert (body["interval_minutes"], body["min_blob_area"], body["source"]) == (
        15,
        500,
        "rtsp://cam/1",
    )
    assert [line["name"] for line in body["lines"]] == ["5th Ave", "Main St"]
    assert set(body["lines"][0]) == {"id", "name", "x1", "y1", "x2", "y2"}
    assert body["size_classes"] == classes
    assert CounterSettings.from_config(body).min_blob_area == 500


def test_a_camera_s_automatic_blob_area_and_size_classes_are_left_to_the_counter():
    camera, key = new_camera()
    body = bearer_client(key).get(CONFIG_URL).json()
    assert "min_blob_area" not in body and "size_classes" not in body
    # The edge counter takes the config as it is and uses its own, frame-relative defaults.
    settings = CounterSettings.from_config(body)
    assert settings.min_blob_area is None
    assert settings.sensitivity == camera.sensitivity


def test_an_interval_is_stored_as_pending_counts_with_the_edge_s_health():
    camera, key = new_camera()
    body = report(camera)
    answer = post_counts(key, body)
    assert answer.status_code == 201, answer.json()
    assert answer.json() == {"stored": 2, "duplicate": False}
    counts = {(c.direction, c.vehicle_class): c for c in Count.objects.all()}
    assert counts["in", "car"].count == counts["in", "car"].original_count == 12
    assert counts["out", "truck"].count == 2
    assert {c.status for c in counts.values()} == {CountStatus.PENDING}
    upload = Upload.objects.get()
    assert upload.health["fps"] == 24.8 and upload.health["frames"] == 7440
    camera.refresh_from_db()
    assert camera.is_online and camera.health["fps"] == 24.8


def test_an_interval_cut_short_by_the_agent_starting_or_stopping_says_so():
    camera, key = new_camera()
    body = report(camera)
    body["health"]["partial"] = True
    assert post_counts(key, body).status_code == 201
    assert Upload.objects.get().health["partial"] is True


def test_a_re_posted_interval_is_stored_once():
    camera, key = new_camera()
    body = report(camera)
    assert post_counts(key, body).status_code == 201
    again = post_counts(key, body)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert Upload.objects.count() == 1
    assert Count.objects.count() == 2
    assert sum(c.count for c in Count.objects.all()) == 14


def test_a_new_report_of_a_bucket_replaces_a_pending_count_but_never_a_validated_one():
    camera, key = new_camera()
    first = report(camera)
    post_counts(key, first)
    Count.objects.filter(vehicle_class="truck").update(status=CountStatus.VALIDATED)
    lines = list(camera.lines.order_by("name"))
    second = report(
        camera,
        counts=[
            {"line": lines[0].pk, "direction": "in", "class": "car", "count": 15},
            {"line": lines[0].pk, "direction": "out", "class": "truck", "count": 9},
        ],
    )
    second["start"], second["end"] = first["start"], first["end"]
    answer = post_counts(key, second)
    assert answer.status_code == 201
    assert answer.json()["kept"] == [
        {"line": lines[0].pk, "direction": "out", "class": "truck", "status": "validated"}
    ]
    assert Count.objects.get(vehicle_class="car").count == 15
    assert Count.objects.get(vehicle_class="truck").count == 2


def test_unknown_lines_are_skipped_and_all_unknown_is_refused():
    camera, key = new_camera()
    line = camera.lines.first()
    mixed = report(
        camera,
        counts=[
            {"line": line.pk, "direction": "in", "class": "car", "count": 3},
            {"line": 99999, "direction": "in", "class": "car", "count": 4},
        ],
    )
    answer = post_counts(key, mixed)
    assert answer.status_code == 201
    assert answer.json()["skipped_lines"] == [99999]
    assert Count.objects.get().count == 3
    unknown = report(
        camera, counts=[{"line": 99998, "direction": "in", "class": "car", "count": 1}]
    )
    refused = post_counts(key, unknown)
    assert refused.status_code == 400
    assert "counts" in refused.json()["error"]["fields"]


def test_another_camera_s_lines_are_unknown():
    camera, key = new_camera()
    other, _ = new_camera(camera.intersection, name="South")
    foreign = report(
        camera,
        counts=[{"line": other.lines.first().pk, "direction": "in", "class": "car", "count": 1}],
    )
    assert post_counts(key, foreign).status_code == 400
    assert not Count.objects.exists()


def test_movements_are_stored():
    camera, key = new_camera()
    a, b = camera.lines.order_by("name")
    body = report(
        camera, movements=[{"from_line": a.pk, "to_line": b.pk, "class": "car", "count": 4}]
    )
    assert post_counts(key, body).status_code == 201
    movement = Movement.objects.get()
    assert (movement.from_line, movement.to_line, movement.count) == (a, b, 4)


@pytest.mark.parametrize(
    "change",
    [
        {"start": "yesterday"},
        {"counts": [{"line": 1, "direction": "up", "class": "car", "count": 1}]},
        {"counts": [{"line": 1, "direction": "in", "class": "car", "count": -1}]},
        {"health": {"fps": -3}},
    ],
)
def test_invalid_reports_are_refused_with_the_field_named(change):
    camera, key = new_camera()
    body = report(camera)
    body.update(change)
    answer = post_counts(key, body)
    assert answer.status_code == 400
    assert set(answer.json()["error"]["fields"]) & set(change)


def test_an_interval_ending_before_it_starts_is_refused():
    camera, key = new_camera()
    body = report(camera)
    body["start"], body["end"] = body["end"], body["start"]
    assert post_counts(key, body).status_code == 400


def test_a_heartbeat_answers_the_config_version_and_marks_the_camera_online():
    camera, key = new_camera()
    client = bearer_client(key)
    first = client.post(HEARTBEAT_URL, {"fps": 25.0, "config_version": 1}, format="json")
    assert first.status_code == 200 and first.json() == {"config_version": 1}
    config_changed(camera.pk)
    second = client.post(HEARTBEAT_URL, {"fps": 24.0, "config_version": 1}, format="json")
    assert second.json() == {"config_version": 2}
    assert client.get(CONFIG_URL).json()["version"] == 2
    camera.refresh_from_db()
    assert camera.is_online and camera.health["fps"] == 24.0


def test_a_snapshot_is_kept_and_replaced(media):
    camera, key = new_camera()
    client = bearer_client(key)
    answer = client.generic("POST", SNAPSHOT_URL, jpeg(), content_type="image/jpeg")
    assert answer.status_code == 204
    camera.refresh_from_db()
    first = camera.snapshot.name
    assert (media / first).read_bytes() == jpeg()
    client.generic("POST", SNAPSHOT_URL, jpeg(80, 60), content_type="image/jpeg")
    camera.refresh_from_db()
    assert camera.snapshot.name != first and not (media / first).exists()
    assert camera.snapshot_at is not None


def test_what_the_counter_sees_is_kept_beside_the_snapshot_and_replaced(media):
    camera, key = new_camera()
    client = bearer_client(key)
    client.generic("POST", SNAPSHOT_URL, jpeg(640, 480), content_type="image/jpeg")
    annotated = f"{SNAPSHOT_URL}?annotated=1"

    answer = client.generic("POST", annotated, jpeg(320, 240), content_type="image/jpeg")

    assert answer.status_code == 204
    camera.refresh_from_db()
    plain, first = camera.snapshot.name, camera.annotated_snapshot.name
    assert (media / first).read_bytes() == jpeg(320, 240)
    assert (media / plain).read_bytes() == jpeg(640, 480)  # the plain view stays
    assert camera.annotated_snapshot_at is not None
    client.generic("POST", annotated, jpeg(330, 250), content_type="image/jpeg")
    camera.refresh_from_db()
    assert camera.annotated_snapshot.name != first and not (media / first).exists()
    assert camera.snapshot.name == plain and (media / plain).exists()
    assert client.get(CONFIG_URL).json()["version"] == camera.config_version  # not a change


def test_what_the_counter_sees_is_checked_as_the_snapshot_is():
    camera, key = new_camera()
    client = bearer_client(key)
    url = f"{SNAPSHOT_URL}?annotated=1"
    bad = client.generic("POST", url, b"not a picture", content_type="image/jpeg")
    png = io.BytesIO()
    Image.new("RGB", (32, 24)).save(png, format="PNG")
    not_jpeg = client.generic("POST", url, png.getvalue(), content_type="image/jpeg")
    huge = client.generic(
        "POST", url, b"\xff\xd8" + b"0" * (1024 * 1024 + 10), content_type="image/jpeg"
    )
    unclear = client.generic(
        "POST", f"{SNAPSHOT_URL}?annotated=perhaps", jpeg(), content_type="image/jpeg"
    )

    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"snapshot": ["Not a whole JPEG picture."]}
    assert not_jpeg.status_code == 400
    assert huge.status_code == 413
    assert unclear.status_code == 400 and "annotated" in unclear.json()["error"]["fields"]
    camera = TrafficCamera.objects.get(pk=camera.pk)
    assert not camera.annotated_snapshot and not camera.snapshot


def test_a_snapshot_that_is_not_a_jpeg_or_too_large_is_refused():
    camera, key = new_camera()
    client = bearer_client(key)
    bad = client.generic("POST", SNAPSHOT_URL, b"not a picture", content_type="image/jpeg")
    assert bad.status_code == 400
    huge = client.generic(
        "POST", SNAPSHOT_URL, b"\xff\xd8" + b"0" * (1024 * 1024 + 10), content_type="image/jpeg"
    )
    assert huge.status_code == 413
    assert not TrafficCamera.objects.get(pk=camera.pk).snapshot
