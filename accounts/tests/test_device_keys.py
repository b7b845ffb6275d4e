from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import DeviceKey
from conftest import bearer_client

WHOAMI = "/api/device/whoami/"


@pytest.mark.django_db
def test_a_valid_device_key_authenticates_as_its_device(operator):
    key, raw_key = services.device_key_create(owner=operator, name="meter-7")
    response = bearer_client(raw_key).get(WHOAMI)
    assert response.status_code == 200
    assert response.json()["name"] == "meter-7"
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.django_db
def test_a_revoked_device_key_is_refused(operator):
    key, raw_key = services.device_key_create(owner=operator, name="meter-7")
    key.revoke()
    response = bearer_client(raw_key).get(WHOAMI)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid, expired or revoked key."


@pytest.mark.django_db
def test_a_wrong_or_missing_device_key_is_refused(operator):
    services.device_key_create(owner=operator, name="meter-7")
    assert bearer_client("fsd_not-a-real-key").get(WHOAMI).status_code == 401
    assert bearer_client("something-else").get(WHOAMI).status_code == 401
    assert APIClient().get(WHOAMI).status_code == 401


@pytest.mark.django_db
def test_an_expired_device_key_is_refused(operator):
    key, raw_key = services.device_key_create(owner=operator, name="meter-7")
    DeviceKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer_client(raw_key).get(WHOAMI).status_code == 401


@pytest.mark.django_db
def test_a_device_key_opens_no_endpoint_meant_for_people(operator):
    _, raw_key = services.device_key_create(owner=operator, name="meter-7")
    assert bearer_client(raw_key).get("/api/me/").status_code == 403
    assert bearer_client(raw_key).get("/api/device-keys/").status_code == 403


@pytest.mark.django_db
def test_a_person_cannot_call_device_endpoints(operator):
    client = APIClient()
    client.force_authenticate(operator)
    assert client.get(WHOAMI).status_code == 403


@pytest.mark.django_db
def test_the_key_is_shown_once_and_stored_only_hashed(operator):
    client = APIClient()
    client.force_authenticate(operator)
    created = client.post("/api/device-keys/", {"name": "camera-1"}).json()
    raw_key = created["key"]
    assert raw_key.startswith("fsd_") and len(raw_key) > 40

    listed = client.get("/api/device-keys/").json()["results"]
    assert [k["key"] for k in listed] == [None]
    stored = DeviceKey.objects.get()
    assert raw_key not in (stored.digest, stored.hint)
    assert bearer_client(raw_key).get(WHOAMI).status_code == 200


@pytest.mark.django_db
def test_revoking_through_the_api_keeps_the_record(operator):
    client = APIClient()
    client.force_authenticate(operator)
    created = client.post("/api/device-keys/", {"name": "camera-1"}).json()
    assert client.delete(f"/api/device-keys/{created['id']}/").status_code == 204
    assert bearer_client(created["key"]).get(WHOAMI).status_code == 401
    assert client.get(f"/api/device-keys/{created['id']}/").json()["is_active"] is False


@pytest.mark.django_db
def test_people_see_only_their_own_device_keys_unless_they_may_see_all(
    admin_user, viewer, outsider
):
    services.device_key_create(owner=viewer, name="vera-meter")
    services.device_key_create(owner=outsider, name="otto-meter")

    def names(user):
        client = APIClient()
        client.force_authenticate(user)
        return sorted(k["name"] for k in client.get("/api/device-keys/").json()["results"])

    assert names(viewer) == ["vera-meter"]
    assert names(outsider) == ["otto-meter"]
    assert names(admin_user) == ["otto-meter", "vera-meter"]


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(operator, django_assert_num_queries):
    key, raw_key = services.device_key_create(owner=operator, name="meter-7")
    client = bearer_client(raw_key)
    client.get(WHOAMI)  # records the use
    with django_assert_num_queries(1):  # the lookup only, no UPDATE
        assert client.get(WHOAMI).status_code == 200


@pytest.mark.django_db
def test_listing_device_keys_takes_the_same_queries_for_many_keys(
    admin_user, operator, django_assert_num_queries
):
    api = APIClient()
    api.force_authenticate(admin_user)
    services.device_key_create(owner=operator, name="first")
    api.get("/api/device-keys/")  # loads the caller's permissions once
    with CaptureQueriesContext(connection) as one_key:
        api.get("/api/device-keys/")
    for number in range(10):
        services.device_key_create(owner=operator, name=f"key-{number}")
    with django_assert_num_queries(len(one_key.captured_queries)):
        assert len(api.get("/api/device-keys/").json()["results"]) == 11
