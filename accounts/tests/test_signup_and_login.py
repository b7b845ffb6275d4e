import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import roles
from conftest import PASSWORD

User = get_user_model()


@pytest.mark.django_db
def test_signup_creates_a_viewer_and_logs_them_in(client, settings):
    settings.ALLOW_SIGNUP = True
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "New.Person@Example.com",
            "display_name": "New Person",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert roles.role_of(user) == roles.VIEWER
    assert client.get(reverse("home")).context["user"] == user


@pytest.mark.django_db
def test_signup_refuses_an_address_already_registered(client, settings, viewer):
    settings.ALLOW_SIGNUP = True
    response = client.post(
        reverse("accounts:signup"),
        {"email": "VERA@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="vera@example.com").count() == 1


@pytest.mark.django_db
def test_signup_turned_off_is_not_found_and_not_offered(client, settings):
    settings.ALLOW_SIGNUP = False
    response = client.post(
        reverse("accounts:signup"),
        {"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 404
    assert not User.objects.exists()
    assert reverse("accounts:signup") not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_login_with_email_in_any_case_then_logout(client, viewer):
    response = client.post(reverse("login"), {"username": "Vera@Example.COM", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200

    client.post(reverse("logout"))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_login_with_a_wrong_password_says_so(client, viewer):
    response = client.post(reverse("login"), {"username": viewer.email, "password": "nope"})
    assert response.status_code == 200
    assert "enter a correct" in response.content.decode().lower()


@pytest.mark.django_db
def test_passwords_are_hashed_with_scrypt(viewer):
    assert viewer.password.startswith("scrypt$")
