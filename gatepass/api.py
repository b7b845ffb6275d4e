from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from flowsuite.permissions import ModelPermissions

from . import badges, drivers, scanning
from .filters import MovementFilter
from .models import Driver, Movement, Station, normalize_licence


class DriverSerializer(serializers.ModelSerializer):
    is_inside = serializers.BooleanField(read_only=True)
    photo_url = serializers.SerializerMethodField()

    class Meta:
        model = Driver
        fields = [
            "id",
            "name",
            "company",
            "licence_number",
            "phone",
            "plate",
            "notes",
            "status",
            "is_inside",
            "inside_since",
            "banned_at",
            "ban_reason",
            "photo_url",
        ]
        read_only_fields = ["status", "inside_since", "banned_at", "ban_reason"]

    def get_photo_url(self, driver) -> str | None:
        if not driver.thumbnail:
            return None
        return reverse("gatepass:driver_photo", args=[driver.pk])

    def validate_licence_number(self, value):
        value = normalize_licence(value)
        taken = Driver.objects.filter(licence_number=value)
        if self.instance:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                f"A driver with licence number {value} is already registered."
            )
        return value

    def save(self, **kwargs):
        driver = self.instance or Driver()
        for field, value in {**self.validated_data, **kwargs}.items():
            setattr(driver, field, value)
        self.instance = drivers.driver_save(driver)
        return self.instance


class BanSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class BadgeSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="What the QR carries; scan it with POST /api/gatepass/scans/."
    )
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class DriverViewSet(viewsets.ModelViewSet):
    """Drivers. Deleting is not offered: a driver's history must stay whole (ban instead)."""

    serializer_class = DriverSerializer
    permission_classes = [ModelPermissions]
    queryset = Driver.objects.all()
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(request=BanSerializer, responses=DriverSerializer)
    @action(detail=True, methods=["post"])
    def ban(self, request, pk=None):
        driver = self._for_ban()
        body = BanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        drivers.ban(driver=driver, by=request.user, reason=body.validated_data["reason"])
        return Response(DriverSerializer(driver).data)

    @extend_schema(request=None, responses=DriverSerializer)
    @action(detail=True, methods=["post"])
    def unban(self, request, pk=None):
        driver = self._for_ban()
        drivers.unban(driver=driver)
        return Response(DriverSerializer(driver).data)

    @extend_schema(request=None, responses={201: BadgeSerializer})
    @action(detail=True, methods=["post"])
    def badge(self, request, pk=None):
        """Issue a new badge; the driver's earlier badges stop working."""
        if not request.user.has_perm("gatepass.add_badge"):
            raise exceptions.PermissionDenied()
        badge = badges.issue_badge(driver=self.get_object())
        data = {
            "token": badges.token_for(badge),
            "issued_at": badge.issued_at,
            "expires_at": badge.expires_at,
        }
        return Response(BadgeSerializer(data).data, status=status.HTTP_201_CREATED)

    def _for_ban(self):
        if not self.request.user.has_perm("gatepass.ban_driver"):
            raise exceptions.PermissionDenied()
        return self.get_object()


class StationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Station
        fields = ["id", "name", "location", "mode", "is_active", "guards"]


class StationViewSet(viewsets.ModelViewSet):
    serializer_class = StationSerializer
    permission_classes = [ModelPermissions]
    queryset = Station.objects.prefetch_related("guards")
    http_method_names = ["get", "post", "patch", "head", "options"]


class MovementSerializer(serializers.ModelSerializer):
    station_name = serializers.CharField(source="station.name", read_only=True)
    driver_name = serializers.CharField(source="driver.name", read_only=True, default=None)
    guard_email = serializers.EmailField(source="guard.email", read_only=True, default=None)

    class Meta:
        model = Movement
        fields = [
            "id",
            "occurred_at",
            "station",
            "station_name",
            "driver",
            "driver_name",
            "company",
            "guard",
            "guard_email",
            "outcome",
            "direction",
            "reason",
            "method",
            "note",
            "corrects",
        ]


MOVEMENT_FILTERS = [
    OpenApiParameter("date_from", str, description="YYYY-MM-DD, in your time zone"),
    OpenApiParameter("date_to", str, description="YYYY-MM-DD, included"),
    OpenApiParameter("station", int),
    OpenApiParameter(
        "driver", str, description="a driver id, or part of a name, or a licence number"
    ),
    OpenApiParameter("company", str, description="exactly as registered"),
    OpenApiParameter("outcome", str, enum=["accepted", "refused"]),
]


@extend_schema(parameters=MOVEMENT_FILTERS)
class MovementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every scan attempt, newest first; movements are never edited."""

    serializer_class = MovementSerializer
    permission_classes = [ModelPermissions]
    queryset = Movement.objects.select_related("station", "driver", "guard")

    def get_queryset(self):
        if self.action != "list":
            return super().get_queryset()
        return MovementFilter(self.request.query_params).apply(super().get_queryset())


class ScanRequestSerializer(serializers.Serializer):
    station = serializers.PrimaryKeyRelatedField(queryset=Station.objects.all())
    token = serializers.CharField(required=False, allow_blank=True, max_length=200)
    licence_number = serializers.CharField(required=False, allow_blank=True, max_length=40)

    def validate(self, attrs):
        if bool(attrs.get("token")) == bool(attrs.get("licence_number")):
            raise serializers.ValidationError("Send either a badge token or a licence number.")
        return attrs


class ScanDriverSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    company = serializers.CharField()
    photo_url = serializers.CharField(allow_null=True)


class ScanMovementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    station = serializers.IntegerField()
    method = serializers.CharField()


class ScanResultSerializer(serializers.Serializer):
    """Documents the scan answer; ScanView builds it by hand (it is on the guards' hot path)."""

    accepted = serializers.BooleanField()
    duplicate = serializers.BooleanField()
    direction = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField()
    driver = ScanDriverSerializer(allow_null=True)
    movement = ScanMovementSerializer()


def scan_answer(result: scanning.ScanResult) -> dict:
    movement, driver = result.movement, result.movement.driver
    return {
        "accepted": result.accepted,
        "duplicate": result.duplicate,
        "direction": movement.direction,
        "reason": movement.reason,
        "message": str(movement.get_reason_display()),
        "driver": {
            "id": driver.pk,
            "name": driver.name,
            "company": driver.company,
            "photo_url": reverse("gatepass:driver_photo", args=[driver.pk])
            if driver.thumbnail
            else None,
        }
        if driver
        else None,
        "movement": {
            "id": movement.pk,
            "occurred_at": movement.occurred_at.isoformat(),
            "station": movement.station_id,
            "method": movement.method,
        },
    }


class ScanView(APIView):
    """Scan a badge (or type a licence number) at a station: the server records an entry,
    an exit or a refusal, and says which."""

    @extend_schema(request=ScanRequestSerializer, responses=ScanResultSerializer)
    def post(self, request):
        body = ScanRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = scanning.scan(guard=request.user, **body.validated_data)
        except PermissionDenied as denied:
            raise exceptions.PermissionDenied("You may not scan at this station.") from denied
        return Response(
            scan_answer(result),
            status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED,
        )


class ActiveDriversView(APIView):
    """Drivers inside now, longest first."""

    @extend_schema(responses=DriverSerializer(many=True))
    def get(self, request):
        if not request.user.has_perm("gatepass.view_driver"):
            raise exceptions.PermissionDenied()
        inside = Driver.objects.filter(inside_since__isnull=False).order_by("inside_since")
        return Response(DriverSerializer(inside, many=True).data)
