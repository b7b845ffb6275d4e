import pytest
from django.urls import reverse

from conftest import client_for


@pytest.mark.django_db
def test_an_unknown_page_gets_the_sites_404(client, viewer):
    response = client_for(viewer).get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
def test_the_navbar_leads_to_the_four_domains(viewer):
    html = client_for(viewer).get(reverse("home")).content.decode()
    for name in ("energy:panel", "traffic:home", "surveillance:home", "gatepass:dashboard"):
        assert f'href="{reverse(name)}"' in html


@pytest.mark.django_db
def test_pages_use_vendored_assets_only(viewer):
    html = client_for(viewer).get(reverse("home")).content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "cdn." not in html and "https://" not in html


@pytest.mark.django_db
def test_the_admin_link_is_shown_to_staff_only(admin_user, viewer):
    assert reverse("admin:index") in client_for(admin_user).get(reverse("home")).content.decode()
    assert reverse("admin:index") not in client_for(viewer).get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_static_files_are_served_by_the_app(client):
    response = client.get("/static/flowsuite/live.js")
    assert response.status_code == 200
