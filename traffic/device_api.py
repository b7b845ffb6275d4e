"""Endpoints the traffic counter calls with its device key (`Authorization: Bearer fsd_...`),
mounted at /api/traffic/device/. The key must be a traffic camera's: another device's → 403.
The contract is in the README ("What a traffic camera sends")."""

from datetime import timedelta

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from flowsuite.api import PayloadTooLarge, jpeg_body_parser
from flowsuite.permissions import IsDevice

from . import counts, heartbeats
from .models import Direction, TrafficCamera, VehicleClass

MAX_ITEMS = 2000


def camera_of(request):
    key = request.auth
    return getattr(key, "traffic_camera", None) if key is not None else None


class IsTrafficCamera(permissions.BasePermission):
    message = gettext_lazy("This device key belongs to no traffic camera.")

    def has_permission(self, request, view):
        return camera_of(request) is not None


class DeviceView(APIView):
    permission_classes = [IsDevice, IsTrafficCamera]


AUTH_RESPONSES = {
    401: OpenApiResponse(description="No key, or an invalid or revoked one."),
    403: OpenApiResponse(description="The key is not a traffic camera's."),
}


# --- configuration --------------------------------------------------------------------------


class LineConfigSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    x1 = serializers.FloatField()
    y1 = serializers.FloatField()
    x2 = serializers.FloatField()
    y2 = serializers.FloatField()


class ConfigSerializer(serializers.Serializer):
    camera = inline_serializer(
        "TrafficDeviceCamera",
        {
            "id": serializers.IntegerField(),
            "name": serializers.CharField(),
            "intersection": serializers.CharField(),
        },
    )
    version = serializers.IntegerField(help_text="The config version; heartbeats tell a new one.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    source = serializers.CharField()
    interval_minutes = serializers.IntegerField()
    min_blob_area = serializers.IntegerField(
        required=False, help_text="Left out: automatic (the counter's, relative to the frame)."
    )
    sensitivity = serializers.FloatField()
    size_classes = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Left out: automatic (the counter learns them from the vehicles it sees).",
    )
    masks = serializers.ListField(child=serializers.ListField())
    lines = LineConfigSerializer(many=True)


# Analysis variables a camera may leave automatic (None): sent only when set, so that the
# counter's own default applies (it checks what it is sent and refuses a null list).
OPTIONAL_KEYS = ("min_blob_area", "size_classes")


def camera_config(camera) -> dict:
    """What the agent counts with (lines in the camera's frame pixels)."""
    config = {
        "camera": {"id": camera.pk, "name": camera.name, "intersection": camera.intersection.name},
        "version": camera.config_version,
        "width": camera.width,
        "height": camera.height,
        "source": camera.source,
        "interval_minutes": camera.interval_minutes,
        "sensitivity": camera.sensitivity,
        "masks": camera.masks,
        "lines": [
            {
                "id": line.pk,
                "name": line.name,
                "x1": line.x1,
                "y1": line.y1,
                "x2": line.x2,
                "y2": line.y2,
            }
            for line in camera.lines.order_by("name")
        ],
    }
    for key in OPTIONAL_KEYS:
        if getattr(camera, key) is not None:
            config[key] = getattr(camera, key)
    return config


class ConfigView(DeviceView):
    """The camera's configuration: lines, masks and the analysis variables. The agent fetches
    it at start and again when a heartbeat answers another `config_version`. `min_blob_area`
    and `size_classes` are left out while automatic: the counter decides them."""

    @extend_schema(
        operation_id="traffic_device_config",
        responses={200: ConfigSerializer, **AUTH_RESPONSES},
        tags=["traffic device"],
    )
    def get(self, request):
        camera = TrafficCamera.objects.select_related("intersection").get(pk=camera_of(request).pk)
        return Response(camera_config(camera))


# --- counts ---------------------------------------------------------------------------------


class VehicleClassField(serializers.ChoiceField):
    """One of VehicleClass's values, exactly; the refusal names the classes, not the input
    (which may be anything, of any length)."""

    default_error_messages = {
        "invalid_choice": gettext_lazy("Not a vehicle class: the classes are {classes}.")
    }

    def __init__(self, **kwargs):
        super().__init__(choices=VehicleClass.choices, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data in VehicleClass.values:
            return data
        self.fail("invalid_choice", classes=", ".join(VehicleClass.values))


class CountItemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=Direction.values)
    # "class" is a Python keyword: the field is added by name below.
    count = serializers.IntegerField(min_value=0, max_value=1_000_000)


CountItemSerializer._declared_fields["class"] = VehicleClassField()


class MovementItemSerializer(serializers.Serializer):
    from_line = serializers.IntegerField()
    to_line = serializers.IntegerField()
    count = serializers.IntegerField(min_value=0, max_value=1_000_000)


MovementItemSerializer._declared_fields["class"] = VehicleClassField()


class IntervalHealthSerializer(serializers.Serializer):
    fps = serializers.FloatField(required=False, min_value=0, max_value=1000)
    frames = serializers.IntegerField(required=False, min_value=0)
    dropped_frames = serializers.IntegerField(required=False, min_value=0)
    gaps_seconds = serializers.FloatField(required=False, min_value=0, max_value=86_400)
    partial = serializers.BooleanField(
        required=False, help_text="The agent started or stopped inside the interval."
    )


class IntervalSerializer(serializers.Serializer):
    key = serializers.UUIDField(help_text="The idempotency key, made by the agent.")
    start = serializers.DateTimeField(help_text="ISO 8601 with offset.")
    end = serializers.DateTimeField()
    config_version = serializers.IntegerField(required=False, min_value=0)
    counts = CountItemSerializer(many=True, max_length=MAX_ITEMS)
    movements = MovementItemSerializer(many=True, required=False, max_length=MAX_ITEMS)
    health = IntervalHealthSerializer(required=False)

    def validate(self, data):
        errors = {}
        if data["start"] > timezone.now() + timedelta(minutes=10):
            errors["start"] = [_("In the future: check the camera's clock.")]
        if data["end"] <= data["start"]:
            errors["end"] = [_("The end is not after the start.")]
        elif data["end"] - data["start"] > timedelta(days=1):
            errors["end"] = [_("An interval is at most a day long.")]
        if errors:
            raise serializers.ValidationError(errors)
        return data


IntervalResult = inline_serializer(
    "TrafficIntervalResult",
    {
        "stored": serializers.IntegerField(help_text="Count rows written."),
        "duplicate": serializers.BooleanField(),
        "skipped_lines": serializers.ListField(
            child=serializers.IntegerField(), required=False, help_text="Unknown line ids."
        ),
        "kept": serializers.ListField(
            child=serializers.DictField(),
            required=False,
            help_text="Buckets already reviewed by an analyst: not overwritten.",
        ),
    },
)


class CountsView(DeviceView):
    """One interval of one camera: counts per line, direction and class (zeros may be
    omitted), turning movements and the edge's health. Posting the same `key` again answers
    200 with `duplicate: true` and stores nothing. Counts of unknown lines are skipped (listed
    in `skipped_lines`), unless every line is unknown (400). A count or movement whose class
    is no vehicle class refuses the whole report (400, nothing stored)."""

    @extend_schema(
        operation_id="traffic_device_counts",
        request=IntervalSerializer,
        responses={
            201: IntervalResult,
            200: OpenApiResponse(IntervalResult, description="Already stored (duplicate)."),
            400: OpenApiResponse(
                description="Invalid fields (a class that is no vehicle class among them: "
                "nothing of the report is stored), or every line unknown."
            ),
            **AUTH_RESPONSES,
        },
        tags=["traffic device"],
    )
    def post(self, request):
        serializer = IntervalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = counts.record_report(camera_of(request), serializer.validated_data)
        except counts.UnknownLines as unknown:
            raise exceptions.ValidationError(
                {
                    "counts": [
                        _("No line of the report is the camera's: %(lines)s")
                        % {"lines": ", ".join(map(str, unknown.lines))}
                    ]
                }
            ) from None
        if not result.created:
            return Response({"stored": 0, "duplicate": True}, status=status.HTTP_200_OK)
        body = {"stored": result.stored, "duplicate": False}
        if result.skipped_lines:
            body["skipped_lines"] = result.skipped_lines
        if result.kept:
            body["kept"] = result.kept
        return Response(body, status=status.HTTP_201_CREATED)


# --- heartbeat ------------------------------------------------------------------------------


class TrafficHeartbeatSerializer(serializers.Serializer):
    fps = serializers.FloatField(required=False, min_value=0, max_value=1000)
    outbox_pending = serializers.IntegerField(required=False, min_value=0)
    outbox_dropped = serializers.IntegerField(required=False, min_value=0)
    config_version = serializers.IntegerField(required=False, min_value=0)
    version = serializers.CharField(required=False, allow_blank=True, max_length=40)


class HeartbeatView(DeviceView):
    """The agent is alive (every few seconds), with its health. The answer holds the camera's
    `config_version`: when it differs from the agent's, the agent fetches the config again."""

    @extend_schema(
        operation_id="traffic_device_heartbeat",
        request=TrafficHeartbeatSerializer,
        responses={
            200: inline_serializer(
                "TrafficHeartbeatAnswer", {"config_version": serializers.IntegerField()}
            ),
            **AUTH_RESPONSES,
        },
        tags=["traffic device"],
    )
    def post(self, request):
        serializer = TrafficHeartbeatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        health = dict(serializer.validated_data)
        return Response(heartbeats.record_heartbeat(camera_of(request), health))


# --- snapshot -------------------------------------------------------------------------------


class SnapshotQuerySerializer(serializers.Serializer):
    annotated = serializers.BooleanField(
        default=False, help_text="1: what the counter sees (its frame annotated), for the editor."
    )


class SnapshotView(DeviceView):
    """The camera's view (one JPEG as the body, `Content-Type: image/jpeg`, at most 1 MB),
    kept as its latest snapshot: analysts draw counting lines on it. With `?annotated=1`, what
    the counter sees (its processing frame with lines, tracks and counts drawn), kept beside."""

    parser_classes = [
        jpeg_body_parser(
            heartbeats.MAX_SNAPSHOT_BYTES, gettext_lazy("A snapshot may be at most 1 MB.")
        )
    ]

    @extend_schema(
        operation_id="traffic_device_snapshot",
        request={"image/jpeg": OpenApiTypes.BINARY},
        parameters=[SnapshotQuerySerializer],
        responses={
            204: OpenApiResponse(description="Stored."),
            400: OpenApiResponse(description="Not a whole JPEG picture."),
            413: OpenApiResponse(description="Larger than 1 MB."),
            **AUTH_RESPONSES,
        },
        tags=["traffic device"],
    )
    def post(self, request):
        if int(request.META.get("CONTENT_LENGTH") or 0) > heartbeats.MAX_SNAPSHOT_BYTES:
            raise PayloadTooLarge(_("A snapshot may be at most 1 MB."))
        query = SnapshotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            heartbeats.record_snapshot(
                camera_of(request), request.data, annotated=query.validated_data["annotated"]
            )
        except heartbeats.SnapshotRejected as rejected:
            raise exceptions.ValidationError({"snapshot": [rejected.message]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("config/", ConfigView.as_view(), name="traffic-device-config"),
    path("counts/", CountsView.as_view(), name="traffic-device-counts"),
    path("heartbeat/", HeartbeatView.as_view(), name="traffic-device-heartbeat"),
    path("snapshot/", SnapshotView.as_view(), name="traffic-device-snapshot"),
]
