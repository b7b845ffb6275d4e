import cv2
import numpy as np
import pytest
from rest_framework.test import APIClient

from gatepass import badges

from .factories import make_driver, make_station


@pytest.mark.django_db
def test_a_printed_qr_decodes_to_a_token_the_scan_endpoint_accepts(guard):
    driver = make_driver()
    gate = make_station(guards=[guard])
    png = badges.qr_png(badges.token_for(badges.current_badge(driver)))

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    # The Aruco-based detector: the classic cv2.QRCodeDetector misses about 4 % of clean codes.
    decoded, points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    assert decoded.startswith(badges.TOKEN_PREFIX)

    api = APIClient()
    api.force_authenticate(guard)
    response = api.post("/api/gatepass/scans/", {"station": gate.pk, "token": decoded})
    assert response.status_code == 201
    assert response.json()["accepted"] is True
    assert response.json()["driver"]["name"] == driver.name


@pytest.mark.django_db
def test_the_badge_carries_a_signed_code_not_the_drivers_id():
    driver = make_driver()
    token = badges.token_for(badges.current_badge(driver))
    code, signature = token.removeprefix(badges.TOKEN_PREFIX).split(":")
    assert code == badges.current_badge(driver).code != str(driver.pk)
    assert len(signature) >= 40


@pytest.mark.django_db
def test_the_svg_badge_is_an_svg_qr():
    svg = badges.qr_svg("FSG1:abc:def")
    assert svg.lstrip().startswith(b"<?xml") or b"<svg" in svg[:200]
