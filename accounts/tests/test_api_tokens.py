from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from conftest import bearer_client, client_for


@pytest.mark.django_db
def test_a_personal_token_acts_as_its_owner(viewer):
    _, raw_key = services.api_token_create(user=viewer, name="laptop")
    response = bearer_client(raw_key).get("/api/me/")
    assert response.status_code == 200
    assert response.json()["email"] == viewer.email
    assert response.json()["role"] == "viewer"


@pytest.mark.django_db
def test_revoked_and_expired_tokens_are_refused(viewer):
    revoked, revoked_key = services.api_token_create(user=viewer, name="old")
    revoked.revoke()
    _, expired_key = services.api_token_create(
        user=viewer, name="short", expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert bearer_client(revoked_key).get("/api/me/").status_code == 401
    assert bearer_client(expired_key).get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_users_token_is_refused(viewer):
    _, raw_key = services.api_token_create(user=viewer, name="laptop")
    viewer.is_active = False
    viewer.save()
    assert bearer_client(raw_key).get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_creating_a_token_on_the_profile_page_shows_it_once(viewer):
    client = client_for(viewer)
    page = client.post(reverse("accounts:token_create"), {"name": "grafana"})
    raw_key = page.context["new_token"]["key"]
    assert raw_key in page.content.decode()
    assert bearer_client(raw_key).get("/api/me/").status_code == 200
    assert raw_key not in client.get(reverse("accounts:profile")).content.decode()


@pytest.mark.django_db
def test_nobody_can_revoke_someone_elses_token(viewer, outsider):
    token, raw_key = services.api_token_create(user=viewer, name="laptop")
    response = client_for(outsider).post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.delete(f"/api/tokens/{token.pk}/").status_code == 404
    assert bearer_client(raw_key).get("/api/me/").status_code == 200


@pytest.mark.django_db
def test_the_owner_revokes_a_token_from_the_profile(viewer):
    token, raw_key = services.api_token_create(user=viewer, name="laptop")
    client_for(viewer).post(reverse("accounts:token_revoke", args=[token.pk]))
    assert bearer_client(raw_key).get("/api/me/").status_code == 401
