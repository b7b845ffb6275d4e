"""Who may call an API endpoint. The default (settings) is IsPerson: devices are refused
unless an endpoint asks for IsDevice."""

from django.utils.translation import gettext_lazy
from rest_framework import permissions


class IsPerson(permissions.BasePermission):
    """A logged-in person (session or personal API token); device keys are refused."""

    message = gettext_lazy("This endpoint is for people, not devices.")

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and not getattr(user, "is_device", False))


class IsDevice(permissions.BasePermission):
    """A request authenticated with a device key; `request.auth` is the DeviceKey."""

    message = gettext_lazy("This endpoint is for devices: authenticate with a device key.")

    def has_permission(self, request, view):
        return bool(getattr(request.user, "is_device", False))


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, reading included: GET needs `view_<model>`."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        return IsPerson().has_permission(request, view) and super().has_permission(request, view)
