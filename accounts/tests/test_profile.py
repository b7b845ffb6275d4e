import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import client_for


@pytest.mark.django_db
def test_the_chosen_language_and_time_zone_apply_to_every_page(viewer):
    client = client_for(viewer)
    client.post(
        reverse("accounts:profile"),
        {
            "display_name": "Vera",
            "language": "es",
            "time_zone": "America/Mexico_City",
            "theme": "auto",
        },
    )
    page = client.get(reverse("home"))
    html = page.content.decode()
    assert '<html lang="es"' in html
    assert 'data-time-zone="America/Mexico_City"' in html
    assert "Cerrar sesión" in html  # "Log out", translated


@pytest.mark.django_db
def test_an_unknown_time_zone_is_refused(viewer):
    response = client_for(viewer).post(
        reverse("accounts:profile"),
        {"display_name": "Vera", "language": "", "time_zone": "Mars/Olympus", "theme": "auto"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]


@pytest.mark.django_db
def test_the_theme_picked_is_remembered_for_the_user(viewer):
    client = client_for(viewer)
    assert client.post(reverse("accounts:set_theme"), {"theme": "dark"}).status_code == 204
    html = client_for(viewer).get(reverse("home")).content.decode()
    assert 'data-theme-choice="dark"' in html
    assert 'data-bs-theme="dark"' in html
    assert client.post(reverse("accounts:set_theme"), {"theme": "pink"}).status_code == 400


@pytest.mark.django_db
def test_profile_api_reads_and_updates_only_the_callers_profile(viewer, outsider):
    api = APIClient()
    api.force_authenticate(viewer)
    response = api.patch("/api/me/", {"display_name": "V.", "email": "stolen@example.com"})
    assert response.status_code == 200
    viewer.refresh_from_db()
    assert viewer.display_name == "V."
    assert viewer.email == "vera@example.com"  # read-only
    outsider.refresh_from_db()
    assert outsider.display_name == "Otto Outsider"
