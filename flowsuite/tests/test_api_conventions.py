import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts import services


@pytest.mark.django_db
def test_the_api_needs_authentication_and_answers_in_one_error_shape():
    response = APIClient().get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "status": 401,
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
        }
    }


@pytest.mark.django_db
def test_validation_errors_name_the_fields(viewer):
    api = APIClient()
    api.force_authenticate(viewer)
    response = api.post("/api/tokens/", {"name": ""})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["name"]


@pytest.mark.django_db
def test_lists_are_paginated(viewer):
    for number in range(3):
        services.api_token_create(user=viewer, name=f"token {number}")
    api = APIClient()
    api.force_authenticate(viewer)
    page = api.get("/api/tokens/?page_size=2").json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]


@pytest.mark.django_db
def test_a_caller_over_the_rate_limit_is_throttled(viewer):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "3/min"}
    api = APIClient()
    api.force_authenticate(viewer)
    try:
        codes = [api.get("/api/me/").status_code for _ in range(4)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [200, 200, 200, 429]


def test_the_openapi_schema_builds_with_no_warnings(tmp_path):
    schema = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    text = schema.read_text()
    for path in ("/api/me/", "/api/tokens/", "/api/device-keys/", "/api/device/whoami/"):
        assert f"  {path}:" in text
    assert "deviceKey" in text and "apiToken" in text


@pytest.mark.django_db
def test_the_api_docs_are_served_without_a_cdn(client, viewer):
    client.force_login(viewer)
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html
    assert client.get("/api/schema/").status_code == 200
