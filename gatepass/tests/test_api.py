import pytest
from rest_framework.test import APIClient

from accounts import services
from gatepass.models import Movement

from .factories import make_driver, make_station, token_of


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def driver(db):
    return make_driver()


def test_a_guard_scans_at_their_station_through_the_api(driver, guard):
    gate = make_station(guards=[guard])
    response = api_for(guard).post(
        "/api/gatepass/scans/", {"station": gate.pk, "token": token_of(driver)}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["accepted"], body["direction"], body["duplicate"]) == (True, "entry", False)
    again = api_for(guard).post(
        "/api/gatepass/scans/", {"station": gate.pk, "token": token_of(driver)}
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_scanning_elsewhere_or_without_the_role_is_forbidden(driver, guard, viewer):
    other = make_station("South gate")
    refused = api_for(guard).post(
        "/api/gatepass/scans/", {"station": other.pk, "token": token_of(driver)}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "You may not scan at this station."
    gate = make_station(guards=[viewer])
    assert (
        api_for(viewer)
        .post("/api/gatepass/scans/", {"station": gate.pk, "token": token_of(driver)})
        .status_code
        == 403
    )
    assert not Movement.objects.exists()


def test_a_device_key_cannot_scan(driver, operator):
    gate = make_station()
    _, raw_key = services.device_key_create(owner=operator, name="pi")
    device = APIClient()
    device.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    response = device.post("/api/gatepass/scans/", {"station": gate.pk, "token": "x"})
    assert response.status_code == 403


def test_a_scan_needs_a_token_or_a_licence_number(guard):
    gate = make_station(guards=[guard])
    response = api_for(guard).post("/api/gatepass/scans/", {"station": gate.pk})
    assert response.status_code == 400
    assert "either a badge token or a licence number" in response.json()["error"]["message"]


def test_a_duplicate_licence_number_is_refused_clearly(driver, operator):
    response = api_for(operator).post(
        "/api/gatepass/drivers/", {"name": "Other", "licence_number": " lic-001"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["licence_number"] == [
        "A driver with licence number LIC-001 is already registered."
    ]


def test_operators_register_drivers_but_only_admins_ban(driver, operator, admin_user):
    created = api_for(operator).post(
        "/api/gatepass/drivers/",
        {"name": "Rosa Díaz", "licence_number": "MX-9", "company": "CargoMex"},
    )
    assert created.status_code == 201
    assert (
        api_for(operator)
        .post(f"/api/gatepass/drivers/{driver.pk}/ban/", {"reason": "x"})
        .status_code
        == 403
    )
    banned = api_for(admin_user).post(
        f"/api/gatepass/drivers/{driver.pk}/ban/", {"reason": "Speeding"}
    )
    assert banned.json()["status"] == "banned"


def test_viewers_read_but_do_not_write(driver, viewer):
    assert api_for(viewer).get("/api/gatepass/drivers/").status_code == 200
    assert (
        api_for(viewer)
        .post("/api/gatepass/drivers/", {"name": "X", "licence_number": "Y"})
        .status_code
        == 403
    )


def test_reissuing_through_the_api_returns_a_new_working_token(driver, operator, guard):
    old = token_of(driver)
    issued = api_for(operator).post(f"/api/gatepass/drivers/{driver.pk}/badge/")
    assert issued.status_code == 201
    gate = make_station(guards=[guard])
    scan = api_for(guard).post("/api/gatepass/scans/", {"station": gate.pk, "token": old})
    assert scan.json()["reason"] == "revoked"
    scan = api_for(guard).post(
        "/api/gatepass/scans/", {"station": gate.pk, "token": issued.json()["token"]}
    )
    assert scan.json()["accepted"] is True


def test_movements_and_inside_now_through_the_api(driver, guard, viewer):
    gate = make_station(guards=[guard])
    api_for(guard).post("/api/gatepass/scans/", {"station": gate.pk, "token": token_of(driver)})
    api_for(guard).post("/api/gatepass/scans/", {"station": gate.pk, "token": "bogus"})
    refused = api_for(viewer).get("/api/gatepass/movements/?outcome=refused").json()
    assert refused["count"] == 1 and refused["results"][0]["reason"] == "unknown"
    by_name = api_for(viewer).get("/api/gatepass/movements/", {"driver": "pérez"}).json()
    assert by_name["count"] == 1 and by_name["results"][0]["driver_name"] == driver.name
    inside = api_for(viewer).get("/api/gatepass/inside/").json()
    assert [d["name"] for d in inside] == [driver.name]
