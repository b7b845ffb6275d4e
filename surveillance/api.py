"""The people's API: cameras and motion events (the device endpoints are in device_api).

Events are listed newest first, filtered by day (in your time zone), camera and least score
through the same filter as the gallery (surveillance.forms.EventFilter). Pictures are served
at each snapshot's `image_url` and `thumbnail_url` (the API's own: a personal token reaches
them), behind the same permission as the events.
"""

from django.shortcuts import get_object_or_404
from django.urls import include, path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from flowsuite.permissions import IsPerson, ModelPermissions

from . import cameras, files, selectors
from .deletion import delete_events
from .forms import CameraForm, EventFilter
from .models import Camera, MotionEvent, Snapshot

CHANGE_CAMERA = "surveillance.change_camera"


def form_errors(form) -> dict:
    """A Django form's errors in the API's shape: {"field": ["message", ...]}."""
    return {
        "non_field_errors" if field == "__all__" else field: list(errors)
        for field, errors in form.errors.items()
    }


# --- cameras ---------------------------------------------------------------------------------


class CameraSerializer(serializers.ModelSerializer):
    is_online = serializers.BooleanField(read_only=True)
    health = serializers.DictField(
        read_only=True, help_text="The agent's last heartbeat: fps, outbox_pending, version…"
    )

    class Meta:
        model = Camera
        fields = [
            "id",
            "name",
            "location",
            "time_zone",
            "notify",
            "discord_webhook_url",
            "webhook_url",
            "quiet_start",
            "quiet_end",
            "is_online",
            "last_seen_at",
            "health",
            "created_at",
        ]
        extra_kwargs = {
            "discord_webhook_url": {"help_text": "Shown only to people who may change cameras."},
            "webhook_url": {"help_text": "Shown only to people who may change cameras."},
        }

    def to_representation(self, camera):
        data = super().to_representation(camera)
        request = self.context.get("request")
        if request is None or not request.user.has_perm(CHANGE_CAMERA):
            # A webhook URL is a credential (anyone holding it may post to the channel).
            data.pop("discord_webhook_url", None)
            data.pop("webhook_url", None)
        return data

    def validate(self, attrs):
        """The settings page's form checks the values, so both refuse the same things."""
        fields = CameraForm.Meta.fields
        current = {name: getattr(self.instance, name) for name in fields} if self.instance else {}
        form = CameraForm(data={**current, **attrs}, instance=self.instance)
        if not form.is_valid():
            raise serializers.ValidationError(form_errors(form))
        return {name: form.cleaned_data[name] for name in attrs}


class CameraCreatedSerializer(CameraSerializer):
    device_key = serializers.CharField(
        read_only=True, help_text="Shown once: give it to the agent."
    )

    class Meta(CameraSerializer.Meta):
        fields = [*CameraSerializer.Meta.fields, "device_key"]


class CameraViewSet(viewsets.ModelViewSet):
    """The cameras, with their status. Admins add cameras (the answer holds the new device
    key, once), change their settings and issue new keys."""

    serializer_class = CameraSerializer
    permission_classes = [ModelPermissions]
    queryset = Camera.objects.all()
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(responses={201: CameraCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        camera, raw_key = cameras.camera_create(owner=request.user, **serializer.validated_data)
        body = CameraCreatedSerializer(camera, context=self.get_serializer_context()).data
        body["device_key"] = raw_key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses=inline_serializer("CameraKey", {"device_key": serializers.CharField()}),
    )
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        """Revoke the camera's device key and issue a new one (shown once)."""
        if not request.user.has_perm(CHANGE_CAMERA):
            raise exceptions.PermissionDenied()
        raw_key = cameras.camera_rotate_key(self.get_object(), owner=request.user)
        return Response({"device_key": raw_key})


# --- events ----------------------------------------------------------------------------------


class SnapshotSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "position",
            "width",
            "height",
            "content_type",
            "size",
            "image_url",
            "thumbnail_url",
        ]

    def get_image_url(self, snapshot) -> str:
        return reverse("api:surveillance-snapshot-file", args=[snapshot.pk, "image"])

    def get_thumbnail_url(self, snapshot) -> str:
        return reverse("api:surveillance-snapshot-file", args=[snapshot.pk, "thumbnail"])


class EventSerializer(serializers.ModelSerializer):
    camera_name = serializers.CharField(source="camera.name", read_only=True)
    boxes = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4),
        help_text="Motion boxes [x, y, width, height] in the pixels of the frame.",
    )
    snapshots = SnapshotSerializer(many=True, read_only=True, help_text="The best first.")

    class Meta:
        model = MotionEvent
        fields = [
            "id",
            "camera",
            "camera_name",
            "event_id",
            "started_at",
            "ended_at",
            "score",
            "boxes",
            "frame_width",
            "frame_height",
            "received_at",
            "snapshots",
        ]


EVENT_FILTERS = [
    OpenApiParameter(
        "date", OpenApiTypes.DATE, description="One day (YYYY-MM-DD) in your time zone."
    ),
    OpenApiParameter("camera", int, description="One camera's id."),
    OpenApiParameter(
        "min_score", float, description="The least score (fraction of the picture, 0 to 1)."
    ),
]


class DaysSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    time_zone = serializers.CharField()
    days = serializers.DictField(
        child=serializers.IntegerField(), help_text="Events per day (YYYY-MM-DD), if any."
    )


class EventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Motion events, newest first, with their snapshots. Deleting one removes its files."""

    serializer_class = EventSerializer
    permission_classes = [ModelPermissions]
    queryset = MotionEvent.objects.none()  # for the schema; get_queryset() is what is served

    def get_queryset(self):
        return selectors.visible_events(self.request.user).order_by("-started_at", "-id")

    def _filter(self) -> EventFilter:
        form = EventFilter(self.request.query_params, zone=selectors.user_zone(self.request.user))
        if not form.is_valid():
            raise exceptions.ValidationError(form_errors(form))
        return form

    @extend_schema(parameters=EVENT_FILTERS)
    def list(self, request, *args, **kwargs):
        events = self._filter().apply(self.get_queryset(), any_day=True)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_destroy(self, instance):
        delete_events(MotionEvent.objects.filter(pk=instance.pk))

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM; default this month."),
            *EVENT_FILTERS[1:],
        ],
        responses=DaysSerializer,
    )
    @action(detail=False, methods=["get"])
    def days(self, request):
        """How many events each day of a month has (days in your time zone), for calendars."""
        form = self._filter()
        year, month = form.shown_month
        counts = selectors.days_with_events(
            request.user, year=year, month=month, zone=form.zone, **form.criteria()
        )
        body = {
            "month": f"{year:04d}-{month:02d}",
            "time_zone": form.zone.key,
            "days": {day.isoformat(): count for day, count in sorted(counts.items())},
        }
        return Response(DaysSerializer(body).data)


class SnapshotFileView(APIView):
    """A snapshot's picture (`image`: JPEG or PNG as uploaded) or its JPEG `thumbnail`."""

    permission_classes = [IsPerson]

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=sorted(files.KINDS)),
            OpenApiParameter("download", bool, description="As an attachment."),
        ],
        responses={(200, "image/*"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk: int, kind: str):
        if not request.user.has_perm("surveillance.view_motionevent"):
            raise exceptions.PermissionDenied
        if kind not in files.KINDS:
            raise exceptions.NotFound
        snapshot = get_object_or_404(
            Snapshot, pk=pk, event__in=selectors.visible_events(request.user)
        )
        download = request.query_params.get("download") in ("1", "true")
        return files.snapshot_response(snapshot, kind, download=download)


router = routers.DefaultRouter()
router.include_root_view = False
router.register("cameras", CameraViewSet, basename="surveillance-camera")
router.register("events", EventViewSet, basename="surveillance-event")

urlpatterns = [
    path("", include(router.urls)),
    path(
        "snapshots/<int:pk>/<str:kind>/",
        SnapshotFileView.as_view(),
        name="surveillance-snapshot-file",
    ),
]
