import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import roles
from conftest import client_for


@pytest.mark.django_db
def test_the_four_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "admin",
        "operator",
        "guard",
        "viewer",
    }


@pytest.mark.django_db
def test_admin_manages_users_operator_only_sees_them(admin_user, operator):
    assert admin_user.has_perm("accounts.delete_user")
    assert operator.has_perm("accounts.view_user")
    assert not operator.has_perm("accounts.delete_user")


@pytest.mark.django_db
def test_admin_site_is_for_admins_and_operators_only(admin_user, operator, guard, viewer):
    users_page = reverse("admin:accounts_user_changelist")
    assert client_for(admin_user).get(users_page).status_code == 200
    assert client_for(operator).get(users_page).status_code == 200
    assert client_for(guard).get(users_page).status_code == 302  # to the admin log-in
    assert client_for(viewer).get(users_page).status_code == 302


@pytest.mark.django_db
def test_operator_cannot_delete_a_user_in_the_admin(operator, viewer):
    page = reverse("admin:accounts_user_delete", args=[viewer.pk])
    assert client_for(operator).post(page, {"post": "yes"}).status_code == 403
    assert type(viewer).objects.filter(pk=viewer.pk).exists()


@pytest.mark.django_db
def test_who_may_create_device_keys_through_the_api(operator, viewer):
    as_operator, as_viewer = APIClient(), APIClient()
    as_operator.force_authenticate(operator)
    as_viewer.force_authenticate(viewer)
    assert as_operator.post("/api/device-keys/", {"name": "meter-1"}).status_code == 201
    refused = as_viewer.post("/api/device-keys/", {"name": "meter-2"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_assigning_a_role_replaces_the_previous_one(viewer):
    roles.assign_role(viewer, roles.OPERATOR)
    assert roles.role_of(viewer) == roles.OPERATOR
    assert viewer.is_staff
    assert list(viewer.groups.values_list("name", flat=True)) == ["operator"]


@pytest.mark.django_db
def test_a_new_role_takes_effect_at_once_despite_the_permission_cache(viewer):
    from accounts.models import User

    def create_key():
        api = APIClient()
        api.force_authenticate(User.objects.get(pk=viewer.pk))  # a fresh request's user
        return api.post("/api/device-keys/", {"name": "meter"}).status_code

    assert create_key() == 403
    roles.assign_role(viewer, roles.OPERATOR)
    assert create_key() == 201
    roles.assign_role(viewer, roles.VIEWER)
    assert create_key() == 403
