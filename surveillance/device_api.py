"""Endpoints the camera agent calls with its device key (`Authorization: Bearer fsd_...`),
mounted at /api/surveillance/device/. The key must be a camera's: another device's → 403."""

import json
import math
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, parsers, permissions, serializers, status, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from flowsuite.api import PayloadTooLarge, jpeg_body_parser
from flowsuite.permissions import IsDevice

from . import events, heartbeats, streaming
from .uploads import ImageRejected

MAX_BOXES = 200
# Room for the form fields around the snapshots when refusing a body by its length alone.
FORM_OVERHEAD = 256 * 1024


def camera_of(request):
    key = request.auth
    return getattr(key, "camera", None) if key is not None else None


class IsCamera(permissions.BasePermission):
    message = gettext_lazy("This device key belongs to no camera.")

    def has_permission(self, request, view):
        return camera_of(request) is not None


class CameraUploadThrottle(throttling.BaseThrottle):
    """At most SURVEILLANCE_UPLOADS_PER_MINUTE event uploads per camera, counted over a
    sliding minute (this minute's count plus the share of the last minute's still inside it),
    in the cache: shared by every server process with REDIS_URL."""

    WINDOW = 60
    clock = staticmethod(time.time)

    def allow_request(self, request, view):
        limit = settings.SURVEILLANCE_UPLOADS_PER_MINUTE
        camera = camera_of(request)
        if camera is None or limit <= 0:
            return True
        window, elapsed = divmod(self.clock(), self.WINDOW)
        key = f"surveillance:uploads:{camera.pk}:{int(window)}"
        cache.add(key, 0, self.WINDOW * 2 + 5)
        current = cache.incr(key)
        previous = cache.get(f"surveillance:uploads:{camera.pk}:{int(window) - 1}", 0)
        weight = 1 - elapsed / self.WINDOW
        if current + previous * weight <= limit:
            return True
        cache.decr(key)  # a refused upload does not count
        current -= 1
        # When the previous minute's share has shrunk enough (or this minute is over).
        if previous and current < limit:
            self._wait = (1 - (limit - current - 1) / previous) * self.WINDOW - elapsed
        else:
            self._wait = self.WINDOW - elapsed
        return False

    def wait(self):
        return max(1, math.ceil(self._wait))


def _throttles():
    return [*api_settings.DEFAULT_THROTTLE_CLASSES, CameraUploadThrottle]


class DeviceView(APIView):
    permission_classes = [IsDevice, IsCamera]


# --- events ------------------------------------------------------------------------------


class EventUploadSerializer(serializers.Serializer):
    event_id = serializers.UUIDField(help_text="The idempotency key, made by the agent.")
    started_at = serializers.DateTimeField(help_text="ISO 8601 with offset.")
    ended_at = serializers.DateTimeField()
    score = serializers.FloatField(help_text="Changed-area fraction of the best frame, 0..1.")
    boxes = serializers.CharField(
        required=False, default="[]", help_text="JSON: [[x, y, w, h], ...] in frame pixels."
    )
    frame_width = serializers.IntegerField(min_value=1, max_value=100_000)
    frame_height = serializers.IntegerField(min_value=1, max_value=100_000)
    snapshots = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        help_text="JPEG or PNG, the field repeated; the first is the best frame.",
    )

    def validate_score(self, value):
        if not 0 <= value <= 1:  # NaN and infinities the FloatField refuses already
            raise serializers.ValidationError(_("A score is between 0 and 1."))
        return value

    def validate_boxes(self, value):
        try:
            boxes = json.loads(value)
        except ValueError:
            raise serializers.ValidationError(_("Not JSON.")) from None
        if not isinstance(boxes, list) or len(boxes) > MAX_BOXES:
            raise serializers.ValidationError(
                _("A list of at most %(count)d boxes.") % {"count": MAX_BOXES}
            )
        for box in boxes:
            if not (
                isinstance(box, list)
                and len(box) == 4
                and all(type(n) is int and n >= 0 for n in box)
            ):
                raise serializers.ValidationError(
                    _("Each box is [x, y, width, height] in whole pixels, none negative.")
                )
        return boxes

    def validate(self, data):
        errors = {}
        if data["started_at"] > timezone.now() + timedelta(minutes=10):
            errors["started_at"] = [_("In the future: check the camera's clock.")]
        if data["ended_at"] < data["started_at"]:
            errors["ended_at"] = [_("The end is before the start.")]
        if errors:
            raise serializers.ValidationError(errors)
        return data


EventUploadResult = inline_serializer(
    "CameraEventUploadResult",
    {
        "id": serializers.IntegerField(),
        "event_id": serializers.UUIDField(),
        "duplicate": serializers.BooleanField(),
    },
)


class EventUploadView(DeviceView):
    """A camera posts a motion event with its snapshots (multipart/form-data). Posting the same
    `event_id` again answers 200 with `duplicate: true` and stores nothing. Snapshots are
    checked by decoding (JPEG or PNG, whatever the file name says), at most
    SURVEILLANCE_MAX_UPLOAD_BYTES each (413) and SURVEILLANCE_MAX_PIXELS; a camera posts at
    most SURVEILLANCE_UPLOADS_PER_MINUTE events a minute (429 with Retry-After)."""

    parser_classes = [parsers.MultiPartParser]

    def get_throttles(self):
        return [throttle() for throttle in _throttles()]

    @extend_schema(
        operation_id="surveillance_device_event_upload",
        request={"multipart/form-data": EventUploadSerializer},
        responses={
            201: EventUploadResult,
            200: OpenApiResponse(EventUploadResult, description="Already stored (duplicate)."),
            400: OpenApiResponse(description="Invalid fields or not a JPEG/PNG picture."),
            401: OpenApiResponse(description="No key, or an invalid or revoked one."),
            403: OpenApiResponse(description="The key is not a camera's."),
            413: OpenApiResponse(description="A snapshot or the request is too large."),
            429: OpenApiResponse(description="Too many uploads: see the Retry-After header."),
        },
        tags=["surveillance device"],
    )
    def post(self, request):
        limit = settings.SURVEILLANCE_MAX_SNAPSHOTS * settings.SURVEILLANCE_MAX_UPLOAD_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + FORM_OVERHEAD:
            raise PayloadTooLarge()
        serializer = EventUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        files = fields.pop("snapshots")
        try:
            event, created = events.record_event(camera_of(request), fields, files)
        except ImageRejected as rejected:
            if rejected.code == "too_large":
                raise PayloadTooLarge(rejected.message) from None
            raise exceptions.ValidationError({"snapshots": [rejected.message]}) from None
        return Response(
            {"id": event.pk, "event_id": str(event.event_id), "duplicate": not created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- heartbeat ---------------------------------------------------------------------------


class HeartbeatSerializer(serializers.Serializer):
    fps = serializers.FloatField(required=False, min_value=0, max_value=1000)
    outbox_pending = serializers.IntegerField(required=False, min_value=0)
    outbox_dropped = serializers.IntegerField(required=False, min_value=0)
    events_sent = serializers.IntegerField(required=False, min_value=0)
    version = serializers.CharField(required=False, allow_blank=True, max_length=40)


StreamAnswer = inline_serializer(
    "CameraStreamAnswer",
    {
        "stream": serializers.BooleanField(help_text="Someone watches: push frames."),
        "stream_fps": serializers.IntegerField(help_text="At most this many frames a second."),
    },
)


class HeartbeatView(DeviceView):
    """The agent says it is alive (every 5 s) with its health; the answer says whether
    someone watches the live view (then push frames at most `stream_fps` a second)."""

    @extend_schema(
        operation_id="surveillance_device_heartbeat",
        request=HeartbeatSerializer,
        responses={200: StreamAnswer},
        tags=["surveillance device"],
    )
    def post(self, request):
        serializer = HeartbeatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        health = dict(serializer.validated_data)
        return Response(heartbeats.record_heartbeat(camera_of(request), health))


# --- live frames -------------------------------------------------------------------------


class FrameView(DeviceView):
    """A live frame (the body is one JPEG, `Content-Type: image/jpeg`, at most 1 MB), relayed
    to the people watching the camera. The answer says whether to go on streaming."""

    parser_classes = [
        jpeg_body_parser(
            streaming.MAX_FRAME_BYTES, gettext_lazy("A live frame may be at most 1 MB.")
        )
    ]

    @extend_schema(
        operation_id="surveillance_device_frame",
        request={"image/jpeg": OpenApiTypes.BINARY},
        responses={
            200: inline_serializer("CameraFrameAnswer", {"stream": serializers.BooleanField()}),
            413: OpenApiResponse(description="The frame is larger than 1 MB."),
        },
        tags=["surveillance device"],
    )
    def post(self, request):
        if int(request.META.get("CONTENT_LENGTH") or 0) > streaming.MAX_FRAME_BYTES:
            raise PayloadTooLarge(_("A live frame may be at most 1 MB."))
        camera = camera_of(request)
        frame = request.data
        try:
            streaming.check_frame(frame)
        except ImageRejected as rejected:
            raise exceptions.ValidationError({"frame": [rejected.message]}) from None
        watched = streaming.is_watched(camera.pk)
        if watched:
            streaming.relay_frame(camera, frame)
        return Response({"stream": watched})


urlpatterns = [
    path("events/", EventUploadView.as_view(), name="surveillance-device-events"),
    path("heartbeat/", HeartbeatView.as_view(), name="surveillance-device-heartbeat"),
    path("frames/", FrameView.as_view(), name="surveillance-device-frames"),
]
