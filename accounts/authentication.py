"""DRF authentication by personal API token or device key: `Authorization: Bearer <key>`.

The key's prefix says which it is (fsp_ a person's token, fsd_ a device key), so both classes
read the same header and each ignores the other's keys.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import ApiToken, DeviceKey


class Device:
    """`request.user` for a device-key request: authenticated, but not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_device = True

    def __init__(self, key: DeviceKey):
        self.key = key
        # Throttling buckets requests by user pk: one bucket per device.
        self.pk = self.id = f"device-{key.pk}"

    def __str__(self):
        return f"device {self.key.name}"

    def has_perm(self, perm, obj=None):
        return False


class BearerKeyAuthentication(authentication.BaseAuthentication):
    model = None

    def authenticate(self, request):
        raw_key = self.bearer_key(request)
        if raw_key is None or not raw_key.startswith(self.model.PREFIX):
            return None
        key = self.model.find_active(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked key."))
        key.record_use()
        return self.principal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    @staticmethod
    def bearer_key(request) -> str | None:
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            return parts[1].decode()
        except UnicodeDecodeError:
            return None


class ApiTokenAuthentication(BearerKeyAuthentication):
    model = ApiToken

    def authenticate(self, request):
        result = super().authenticate(request)
        if result and not result[0].is_active:
            raise exceptions.AuthenticationFailed(_("User inactive."))
        return result

    def principal(self, key):
        return key.user


class DeviceKeyAuthentication(BearerKeyAuthentication):
    model = DeviceKey

    def principal(self, key):
        return Device(key)
