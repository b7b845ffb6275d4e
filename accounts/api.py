from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from flowsuite.permissions import IsDevice, IsPerson

from . import roles, services
from .models import ApiToken, DeviceKey, User


class MeSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "language", "time_zone", "theme", "role"]
        read_only_fields = ["id", "email", "role"]

    def get_role(self, user) -> str | None:
        return roles.role_of(user)


class MeView(APIView):
    """The authenticated person's profile."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


class HashedKeySerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField(
        help_text=_("The secret: returned once, when the key is created.")
    )
    is_active = serializers.BooleanField(read_only=True)

    def get_key(self, obj) -> str | None:
        return self.context.get("raw_key")


class ApiTokenSerializer(HashedKeySerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "hint",
            "key",
            "is_active",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = ["hint", "created_at", "last_used_at", "revoked_at"]


class DeviceKeySerializer(HashedKeySerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True)

    class Meta:
        model = DeviceKey
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "hint",
            "key",
            "is_active",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = ["hint", "created_at", "last_used_at", "revoked_at"]


class RevokeOnDeleteMixin(mixins.DestroyModelMixin):
    """DELETE revokes: the record stays, so the audit trail (created, last used) does too."""

    def perform_destroy(self, instance):
        instance.revoke()


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    RevokeOnDeleteMixin,
    viewsets.GenericViewSet,
):
    """Your personal API tokens. Send one as `Authorization: Bearer fsp_...`."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # building the schema: no user
            return ApiToken.objects.none()
        return self.request.user.api_tokens.all()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw_key = services.api_token_create(user=request.user, **serializer.validated_data)
        data = ApiTokenSerializer(token, context={"raw_key": raw_key}).data
        return Response(data, status=status.HTTP_201_CREATED)


class DeviceKeyPermission(permissions.BasePermission):
    """Everyone sees their own keys; creating and revoking take the device-key permissions."""

    required = {"POST": "accounts.add_devicekey", "DELETE": "accounts.change_devicekey"}

    def has_permission(self, request, view):
        perm = self.required.get(request.method)
        return perm is None or request.user.has_perm(perm)


class DeviceKeyViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    RevokeOnDeleteMixin,
    viewsets.GenericViewSet,
):
    """Keys for edge devices (meters, cameras).

    Devices send one as `Authorization: Bearer fsd_...`.
    """

    serializer_class = DeviceKeySerializer
    permission_classes = [IsPerson, DeviceKeyPermission]

    def get_queryset(self):
        keys = DeviceKey.objects.select_related("owner")
        if getattr(self, "swagger_fake_view", False):  # building the schema: no user
            return keys.none()
        if self.request.user.has_perm("accounts.view_devicekey"):
            return keys
        return keys.filter(owner=self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw_key = services.device_key_create(owner=request.user, **serializer.validated_data)
        data = DeviceKeySerializer(key, context={"raw_key": raw_key}).data
        return Response(data, status=status.HTTP_201_CREATED)


class DeviceWhoAmISerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.EmailField(source="owner.email")


class DeviceWhoAmIView(APIView):
    """For an edge device to check its key: which device the server takes it for."""

    permission_classes = [IsDevice]

    @extend_schema(responses=DeviceWhoAmISerializer)
    def get(self, request):
        return Response(DeviceWhoAmISerializer(request.auth).data)
