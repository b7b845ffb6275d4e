"""The vehicle classes the counter reports (car, truck, bus, motorbike, bicycle): anything else
refuses the report; bicycles are no motor vehicles, so every total of vehicles leaves them out
and shows them apart, on the pages (English and Spanish), in the API and in live events."""

import re
from datetime import timedelta

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from accounts import roles
from conftest import client_for, make_user
from traffic import counts, demo
from traffic.models import Count, Movement, TrafficCamera, Upload

from .helpers import as_fields, interval_start, new_camera, post_counts, report

pytestmark = [pytest.mark.backend, pytest.mark.django_db]

CLASSES = "motorbike, car, truck, bus, bicycle"
HOSTILE = ["lorry", "Car", " car", "", "x" * 200, "🚲", "bicyclé", 7, ["car"], {"car": 1}]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def mixed(camera) -> list[dict]:
    """One line's counts: cars, a bus and a truck both ways, and bicycles."""
    line = camera.lines.order_by("name").first().pk
    return [
        {"line": line, "direction": "in", "class": "car", "count": 10},
        {"line": line, "direction": "in", "class": "bus", "count": 1},
        {"line": line, "direction": "in", "class": "bicycle", "count": 3},
        {"line": line, "direction": "out", "class": "truck", "count": 2},
        {"line": line, "direction": "out", "class": "bicycle", "count": 1},
    ]


@pytest.fixture
def reported():
    """A camera with an interval of 13 motor vehicles and 4 bicycles, 20 minutes ago."""
    camera, key = new_camera()
    start = interval_start(minutes_ago=20)
    counts.record_interval(camera, as_fields(report(camera, start=start, counts=mixed(camera))))
    return camera, start


# --- what the counter may send ----------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE, ids=repr)
def test_a_count_of_no_vehicle_class_refuses_the_whole_report(hostile):
    camera, key = new_camera()
    body = report(camera)
    good = body["counts"][0]
    body["counts"].append({**good, "class": hostile})
    answer = post_counts(key, body)
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert fields["counts"]["2"]["class"] == [f"Not a vehicle class: the classes are {CLASSES}."]
    assert not (Upload.objects.exists() or Count.objects.exists())
    camera.refresh_from_db()
    assert camera.last_seen_at is None
    # Nothing of it was kept: the same report, mended, is stored (its key was not used up).
    body["counts"].pop()
    assert post_counts(key, body).status_code == 201
    assert Count.objects.count() == 2


@pytest.mark.parametrize("hostile", HOSTILE, ids=repr)
def test_a_movement_of_no_vehicle_class_refuses_the_whole_report(hostile):
    camera, key = new_camera()
    a, b = camera.lines.order_by("name")
    movements = [
        {"from_line": a.pk, "to_line": b.pk, "class": "bus", "count": 1},
        {"from_line": b.pk, "to_line": a.pk, "class": hostile, "count": 2},
    ]
    answer = post_counts(key, report(camera, movements=movements))
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert fields["movements"]["1"]["class"] == [f"Not a vehicle class: the classes are {CLASSES}."]
    assert not (Upload.objects.exists() or Count.objects.exists() or Movement.objects.exists())


def test_buses_and_bicycles_are_stored_with_their_names_in_english_and_spanish():
    camera, key = new_camera()
    assert post_counts(key, report(camera, counts=mixed(camera))).status_code == 201
    stored = {c.vehicle_class: c for c in Count.objects.filter(direction="in")}
    assert set(stored) == {"car", "bus", "bicycle"}
    assert stored["bus"].count == 1 and stored["bicycle"].count == 3
    with translation.override("en"):
        assert stored["bus"].get_vehicle_class_display() == "bus"
        assert stored["bicycle"].get_vehicle_class_display() == "bicycle"
    with translation.override("es"):
        assert stored["bus"].get_vehicle_class_display() == "autobús"
        assert stored["bicycle"].get_vehicle_class_display() == "bicicleta"


def test_a_camera_s_size_classes_are_vehicle_classes(operator):
    camera, _ = new_camera()
    url = f"/api/traffic/cameras/{camera.pk}/"
    lorry = [{"class": "motorbike", "min_area": 0}, {"class": "lorry", "min_area": 900}]
    refused = api(operator).patch(url, {"size_classes": lorry}, format="json")
    assert refused.status_code == 400
    assert "lorry" in refused.json()["error"]["fields"]["size_classes"][0]
    camera.refresh_from_db()
    assert camera.size_classes is None
    bus = [{"class": "car", "min_area": 0}, {"class": "bus", "min_area": 9000}]
    assert api(operator).patch(url, {"size_classes": bus}, format="json").status_code == 200


# --- totals are of motor vehicles ---------------------------------------------------------------


def test_the_live_event_totals_motor_vehicles_with_the_bicycles_apart(monkeypatch):
    published = []
    monkeypatch.setattr(counts.live, "publish", lambda *args: published.append(args))
    camera, key = new_camera()
    assert post_counts(key, report(camera, counts=mixed(camera))).status_code == 201
    [(_group, kind, data)] = published
    assert kind == "counts"
    assert (data["total"], data["bicycles"]) == (13, 4)
    assert sum(item["count"] for item in data["counts"]) == 17  # every class still listed


def test_the_aggregate_totals_motor_vehicles_with_the_bicycles_apart(viewer, reported):
    camera, start = reported
    url = "/api/traffic/counts/aggregate/"
    query = {
        "intersection": camera.intersection_id,
        "from": start.isoformat(),
        "to": (start + timedelta(minutes=5)).isoformat(),
    }
    client = api(viewer)
    overall = client.get(url, {**query, "by": ""}).json()
    assert overall["totals"] == [{"count": 13, "bicycles": 4}]
    assert [(r["count"], r["bicycles"]) for r in overall["rows"]] == [(13, 4)]
    quarter = client.get(url, {**query, "by": "", "bucket": "15min"}).json()
    assert [(r["count"], r["bicycles"]) for r in quarter["rows"]] == [(13, 4)]
    ways = client.get(url, {**query, "by": "direction"}).json()["totals"]
    assert {r["direction"]: (r["count"], r["bicycles"]) for r in ways} == {
        "in": (11, 3),
        "out": (2, 1),
    }
    by_class = client.get(url, {**query, "by": "vehicle_class"}).json()["totals"]
    assert {r["vehicle_class"]: r["count"] for r in by_class} == {
        "car": 10,
        "bus": 1,
        "truck": 2,
        "bicycle": 4,
    }
    assert all("bicycles" not in r for r in by_class)


def figure(html: str, attribute: str) -> str:
    """The number of the element with `attribute` (whole: "data-total" is not "data-total-x")."""
    return re.search(re.escape(attribute) + r"(?:\s[^>]*)?>(\d+)<", html).group(1)


def test_the_dashboard_totals_motor_vehicles_and_shows_the_bicycles_apart(viewer):
    camera, key = new_camera()
    start = interval_start(minutes_ago=10)
    if start.date() != (start + timedelta(minutes=5)).date():  # just after midnight: not today
        pytest.skip("the interval is yesterday's")
    counts.record_interval(camera, as_fields(report(camera, start=start, counts=mixed(camera))))
    line = camera.lines.order_by("name").first()
    url = f"/traffic/intersections/{camera.intersection_id}/"
    html = client_for(viewer).get(url).content.decode()
    assert figure(html, "data-total") == "13"
    assert figure(html, 'data-total-dir="in"') == "11"
    assert figure(html, "data-bicycles") == "4"
    assert figure(html, f'data-now="{line.pk}:in"') == "11"
    assert figure(html, f'data-today="{line.pk}:out"') == "2"
    assert figure(html, f'data-bicycles-line="{line.pk}"') == "4"
    assert figure(html, 'data-class-total="bicycle"') == "4"
    assert figure(html, 'data-class-total="bus"') == "1"
    assert '"not_motor": ["bicycle"]' in html  # the live updates follow the same rule
    viewer.language = "es"
    viewer.save()
    spanish = client_for(viewer).get(url).content.decode()
    assert "bicicletas" in spanish and "Bicicleta" in spanish and "Autobús" in spanish


def test_the_history_totals_motor_vehicles_and_shows_the_bicycles_apart(viewer, reported):
    camera, start = reported
    url = f"/traffic/intersections/{camera.intersection_id}/history/?date={start.date()}"
    response = client_for(viewer).get(url)
    html = response.content.decode()
    assert figure(html, 'id="history-total"') == "13"
    assert figure(html, 'id="history-bicycles"') == "4"
    table = html.split('id="line-totals"')[1].split("</table>")[0]
    cells = re.findall(r"traffic-figure[^>]*>(\d+)", table)
    assert cells == ["11", "2", "13", "4"]  # in, out, total, bicycles
    assert response.context["chart"]["not_motor"] == ["bicycle"]
    viewer.language = "es"
    viewer.save()
    spanish = client_for(viewer).get(url).content.decode()
    assert "bicicletas" in spanish and "Bicicleta" in spanish


def test_the_validation_page_totals_motor_vehicles_and_has_a_column_per_class(operator, reported):
    camera, start = reported
    url = (
        f"/traffic/intersections/{camera.intersection_id}/validation/"
        f"?first={start.date()}&last={start.date()}"
    )
    html = client_for(operator).get(url).content.decode()
    row = html.split(f'id="interval-{camera.pk}-{int(start.timestamp())}"')[1].split("</tr>")[0]
    assert figure(row, "data-total") == "13"
    assert figure(row, "data-bicycles") == "4"
    for label in ("Car", "Bus", "Bicycle", "Truck", "Motorbike"):  # each way of each line
        assert html.count(f'title="{label}"') == 2 * camera.lines.count()
    operator.language = "es"
    operator.save()
    spanish = client_for(operator).get(url).content.decode()
    assert "bicicletas" in spanish and 'title="Autobús"' in spanish


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_street_has_a_school_bus_and_cyclists_the_parking_lot_neither(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_user("admin@flowsuite.demo", roles.ADMIN)
    demo.seed(lambda line: None)
    seeded = {
        name: set(
            Count.objects.filter(line__camera__name=name).values_list("vehicle_class", flat=True)
        )
        for name in TrafficCamera.objects.values_list("name", flat=True)
    }
    assert {"bus", "bicycle"} <= seeded["North"]
    assert not {"bus", "bicycle"} & seeded["South"]
    night = Count.objects.filter(vehicle_class="bus", start__hour=3)  # UTC: the demo's zone
    assert not night.exists()
