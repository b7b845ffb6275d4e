"""The people's traffic API (the counter's endpoints are in device_api), at /api/traffic/.

- intersections; cameras (admins add them: the answer holds the device key, once; admins and
  operators change the analysis variables), their latest snapshot, what their counter sees and
  their health timeline;
- lines (admins and operators draw, move and delete them): every change of a camera's lines or
  analysis variables bumps its config version, so its agent reloads them;
- counts: listed by intersection/camera/line/from/to/status (traffic.filters.CountFilter, as the
  pages), aggregated by bucket and line/direction/class, turning movements, CSV export, and the
  review actions (validate, reject a range; correct one count) for `traffic.validate_counts`;
- FlowTrack batches: listed, queued from a range, retried when refused.
"""

import csv

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, mixins, routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from flowsuite.permissions import IsPerson, ModelPermissions

from . import cameras, flowtrack, heartbeats, selectors, validation
from .filters import CountFilter, form_errors
from .models import Count, CountLine, Intersection, SyncBatch, TrafficCamera
from .selectors import zone_of

ADD_CAMERA = "traffic.add_trafficcamera"
CHANGE_CAMERA = "traffic.change_trafficcamera"
CONFIG_FIELDS = (
    "interval_minutes",
    "min_blob_area",
    "sensitivity",
    "size_classes",
    "masks",
    "width",
    "height",
    "source",
)


def checked(instance, attrs: dict, exclude=()):
    """`attrs` applied to a copy of `instance` and checked by the model's full_clean(), so the
    API refuses what the admin and the pages refuse."""
    for name, value in attrs.items():
        setattr(instance, name, value)
    try:
        instance.full_clean(exclude=list(exclude))
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from None
    return attrs


# --- intersections ----------------------------------------------------------------------------


class IntersectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Intersection
        fields = ["id", "name", "location", "time_zone", "flowtrack_id", "created_at"]

    def validate_time_zone(self, value):
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise serializers.ValidationError(_("Unknown time zone."))
        return value


class IntersectionViewSet(viewsets.ModelViewSet):
    """Intersections (admins add and change them; viewers and operators read them)."""

    serializer_class = IntersectionSerializer
    permission_classes = [ModelPermissions]
    queryset = Intersection.objects.all()
    http_method_names = ["get", "post", "patch", "head", "options"]


# --- cameras and lines ------------------------------------------------------------------------


class TrafficCameraSerializer(serializers.ModelSerializer):
    is_online = serializers.BooleanField(read_only=True)
    health = serializers.DictField(read_only=True, help_text="The agent's last reports: fps…")
    snapshot_url = serializers.SerializerMethodField()
    annotated_snapshot_url = serializers.SerializerMethodField(
        help_text="What the counter sees (its frame annotated); null until the agent sends one."
    )
    size_classes = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='[{"class": "car", "min_area": 2500}, ...] (frame pixels); null: automatic, '
        "learnt from the vehicles the camera sees.",
    )
    masks = serializers.JSONField(required=False, help_text="[[[x, y], ...], ...] frame pixels")

    class Meta:
        model = TrafficCamera
        fields = [
            "id",
            "intersection",
            "name",
            "source",
            "width",
            "height",
            "interval_minutes",
            "min_blob_area",
            "sensitivity",
            "size_classes",
            "masks",
            "config_version",
            "is_online",
            "last_seen_at",
            "health",
            "snapshot_url",
            "snapshot_at",
            "annotated_snapshot_url",
            "annotated_snapshot_at",
        ]
        read_only_fields = [
            "config_version",
            "last_seen_at",
            "snapshot_at",
            "annotated_snapshot_at",
        ]
        extra_kwargs = {
            "min_blob_area": {
                "help_text": "Frame pixels; null: automatic, relative to the camera's frame."
            }
        }

    def get_snapshot_url(self, camera) -> str | None:
        return heartbeats.snapshot_url(camera)

    def get_annotated_snapshot_url(self, camera) -> str | None:
        return heartbeats.annotated_snapshot_url(camera)

    def validate(self, attrs):
        instance = (
            TrafficCamera.objects.get(pk=self.instance.pk) if self.instance else TrafficCamera()
        )
        return checked(instance, attrs, exclude=["device_key"])


# Seconds an API client may keep a camera's picture.
PICTURE_MAX_AGE = 3600


class TrafficCameraCreatedSerializer(TrafficCameraSerializer):
    device_key = serializers.CharField(
        read_only=True, help_text="Shown once: give it to the agent."
    )

    class Meta(TrafficCameraSerializer.Meta):
        fields = [*TrafficCameraSerializer.Meta.fields, "device_key"]


class CameraViewSet(viewsets.ModelViewSet):
    """Cameras with their status. Admins add cameras (the answer holds the device key, once)
    and issue new keys; admins and operators change the analysis variables (the agent picks
    them up without a restart)."""

    serializer_class = TrafficCameraSerializer
    permission_classes = [ModelPermissions]
    queryset = TrafficCamera.objects.select_related("intersection").order_by("intersection", "name")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        cameras_ = super().get_queryset()
        intersection = self.request.query_params.get("intersection")
        return cameras_.filter(intersection=intersection) if intersection else cameras_

    @extend_schema(
        parameters=[OpenApiParameter("intersection", int, description="One intersection's id.")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={201: TrafficCameraCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        camera, raw_key = cameras.camera_create(owner=request.user, **fields)
        body = TrafficCameraCreatedSerializer(camera, context=self.get_serializer_context()).data
        body["device_key"] = raw_key
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        camera = serializer.save()
        if set(serializer.validated_data) & set(CONFIG_FIELDS):
            cameras.config_changed(camera.pk)

    @extend_schema(
        request=None,
        responses=inline_serializer("TrafficCameraKey", {"device_key": serializers.CharField()}),
    )
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        """Revoke the camera's device key and issue a new one (shown once)."""
        if not request.user.has_perm(ADD_CAMERA):
            raise exceptions.PermissionDenied()
        return Response(
            {"device_key": cameras.camera_rotate_key(self.get_object(), owner=request.user)}
        )

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: None})
    @action(detail=True, methods=["get"])
    def snapshot(self, request, pk=None):
        """The camera's latest view (JPEG), on which counting lines are drawn."""
        return heartbeats.picture_response(self.get_object().snapshot, PICTURE_MAX_AGE)

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: None})
    @action(detail=True, methods=["get"], url_path="annotated-snapshot")
    def annotated_snapshot(self, request, pk=None):
        """What the counter saw last (JPEG, its processing frame): its lines, each vehicle it
        tracks with its box, id, class and path, and its counts. 404 until the agent sends one."""
        return heartbeats.picture_response(self.get_object().annotated_snapshot, PICTURE_MAX_AGE)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="Date or ISO 8601; default today."),
            OpenApiParameter("to", str, description="Date (inclusive) or ISO 8601."),
        ],
        responses=inline_serializer(
            "TrafficCameraHealth",
            {
                "camera": serializers.IntegerField(),
                "timeline": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def health(self, request, pk=None):
        """The edge's health per interval (fps, frames, dropped frames, gaps; fps drops and
        missing intervals flagged) over a range."""
        camera = self.get_object()
        form = CountFilter({**request.query_params.dict(), "intersection": camera.intersection_id})
        if not form.is_valid():
            raise exceptions.ValidationError(form_errors(form))
        timeline = selectors.camera_health(
            camera, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
        )
        return Response({"camera": camera.pk, "timeline": timeline})


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CountLine
        fields = ["id", "camera", "name", "x1", "y1", "x2", "y2", "in_label", "out_label"]

    def validate(self, attrs):
        instance = CountLine.objects.get(pk=self.instance.pk) if self.instance else CountLine()
        if self.instance and "camera" in attrs and attrs["camera"] != self.instance.camera:
            raise serializers.ValidationError({"camera": [_("A line stays on its camera.")]})
        return checked(instance, attrs)


class LineViewSet(viewsets.ModelViewSet):
    """Counting lines: two points in the camera's frame pixels; a vehicle crossing from the
    right to the left (seen from the first point towards the second) goes "in"."""

    serializer_class = LineSerializer
    permission_classes = [ModelPermissions]
    queryset = CountLine.objects.order_by("camera", "name")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        lines = super().get_queryset()
        camera = self.request.query_params.get("camera")
        return lines.filter(camera=camera) if camera else lines

    @extend_schema(parameters=[OpenApiParameter("camera", int, description="One camera's id.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        cameras.config_changed(serializer.save().camera_id)

    def perform_update(self, serializer):
        cameras.config_changed(serializer.save().camera_id)

    def perform_destroy(self, instance):
        camera_id = instance.camera_id
        instance.delete()
        cameras.config_changed(camera_id)


# --- counts -----------------------------------------------------------------------------------

RANGE_PARAMETERS = [
    OpenApiParameter("intersection", int, required=True, description="The intersection's id."),
    OpenApiParameter("camera", int, description="One camera's id."),
    OpenApiParameter("line", int, description="One line's id."),
    OpenApiParameter(
        "from",
        str,
        description="A date (its midnight at the intersection) or ISO 8601; default: today.",
    ),
    OpenApiParameter("to", str, description="A date (the whole day included) or ISO 8601."),
]
STATUS_PARAMETER = OpenApiParameter(
    "status", str, enum=["pending", "validated", "corrected", "rejected"]
)


class CountSerializer(serializers.ModelSerializer):
    camera = serializers.IntegerField(source="line.camera_id", read_only=True)
    line_name = serializers.CharField(source="line.name", read_only=True)
    direction_label = serializers.SerializerMethodField()
    reviewed_by = serializers.CharField(source="reviewed_by.email", read_only=True, default=None)

    class Meta:
        model = Count
        fields = [
            "id",
            "camera",
            "line",
            "line_name",
            "direction",
            "direction_label",
            "vehicle_class",
            "start",
            "end",
            "count",
            "original_count",
            "status",
            "reviewed_by",
            "reviewed_at",
            "reason",
            "sync_batch",
            "received_at",
        ]
        read_only_fields = fields

    def get_direction_label(self, count) -> str:
        return count.line.in_label if count.direction == "in" else count.line.out_label


class RangeSerializer(serializers.Serializer):
    """A range of counts to act on (as the list's filters)."""

    intersection = serializers.IntegerField()
    camera = serializers.IntegerField(required=False, allow_null=True)
    line = serializers.IntegerField(required=False, allow_null=True)
    # "from" is a Python keyword: added by name below.
    to = serializers.CharField(required=False, help_text="Date (inclusive) or ISO 8601.")
    status = serializers.ChoiceField(
        choices=["pending", "validated", "corrected", "rejected"],
        required=False,
        help_text="Only the counts of this status.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


RangeSerializer._declared_fields["from"] = serializers.CharField(
    required=False, help_text="Date or ISO 8601."
)

ReviewResult = inline_serializer(
    "TrafficReviewResult",
    {
        "changed": serializers.IntegerField(),
        "batched": serializers.IntegerField(help_text="Left alone: already in a batch."),
    },
)


class MayReview(BasePermission):
    """A person with `traffic.validate_counts` (operators and admins)."""

    def has_permission(self, request, view):
        return IsPerson().has_permission(request, view) and selectors.may_validate(request.user)


class CountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Counts per interval, line, direction and class, newest first."""

    serializer_class = CountSerializer
    permission_classes = [ModelPermissions]

    def get_permissions(self):
        if self.action in ("validate", "reject", "correct"):
            return [MayReview()]
        return super().get_permissions()

    queryset = Count.objects.none()  # for the schema; get_queryset() is what is served

    def get_queryset(self):
        return Count.objects.select_related("line__camera", "reviewed_by").order_by(
            "-start", "line__name", "direction", "vehicle_class"
        )

    def _filter(self, data=None) -> CountFilter:
        form = CountFilter(data if data is not None else self.request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError(form_errors(form))
        return form

    def _range(self, form: CountFilter):
        counts = selectors.range_counts(**form.criteria(), statuses=form.statuses)
        return counts.order_by("-start", "line__name", "direction", "vehicle_class")

    @extend_schema(parameters=[*RANGE_PARAMETERS, STATUS_PARAMETER])
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self._range(self._filter()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            STATUS_PARAMETER,
            OpenApiParameter(
                "bucket", str, enum=["15min", "hour", "day"], description="default hour"
            ),
            OpenApiParameter(
                "by",
                str,
                description="Comma-separated: line, direction, vehicle_class "
                "(default all three; empty: totals only).",
            ),
        ],
        responses=inline_serializer(
            "TrafficCountSeries",
            {
                "bucket": serializers.CharField(),
                "time_zone": serializers.CharField(),
                "rows": serializers.ListField(child=serializers.DictField()),
                "totals": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=False, methods=["get"])
    def aggregate(self, request):
        """Vehicles per time bucket (in the intersection's time zone) and per line, direction
        and class, with totals over the range. Rejected counts are left out unless asked for
        with `status=rejected`."""
        form = self._filter()
        by = self._by()
        criteria = {**form.criteria(), "by": by, "statuses": form.statuses or selectors.COUNTED}
        return Response(
            {
                "bucket": form.chosen_bucket,
                "time_zone": zone_of(form.cleaned_data["intersection"]).key,
                "rows": selectors.counts_by_bucket(bucket=form.chosen_bucket, **criteria),
                "totals": selectors.count_totals(**criteria),
            }
        )

    def _by(self):
        raw = self.request.query_params.get("by")
        if raw is None:
            return selectors.DIMENSIONS
        chosen = [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [part for part in chosen if part not in selectors.DIMENSIONS]
        if unknown:
            raise exceptions.ValidationError(
                {"by": [_("Unknown: %(names)s.") % {"names": ", ".join(unknown)}]}
            )
        return chosen

    @extend_schema(
        parameters=RANGE_PARAMETERS[:2] + RANGE_PARAMETERS[3:],
        responses=inline_serializer(
            "TrafficTurningMovements",
            {
                "lines": serializers.ListField(child=serializers.DictField()),
                "rows": serializers.ListField(child=serializers.DictField()),
                "matrix": serializers.ListField(child=serializers.ListField()),
            },
        ),
    )
    @action(detail=False, methods=["get"])
    def movements(self, request):
        """Turning movements: vehicles that crossed one line and then another."""
        criteria = self._filter().criteria()
        criteria.pop("line")
        return Response(selectors.turning_movements(**criteria))

    @extend_schema(
        parameters=[*RANGE_PARAMETERS, STATUS_PARAMETER],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The range's counts as CSV (one row per interval, line, direction and class), times
        in the intersection's time zone."""
        form = self._filter()
        counts = self._range(form).order_by("start", "line__camera__name", "line__name")
        zone = zone_of(form.cleaned_data["intersection"])
        response = StreamingHttpResponse(csv_rows(counts, zone), content_type="text/csv")
        name = f"counts-{form.cleaned_data['intersection'].pk}-{form.cleaned_data['start']:%Y%m%d}"
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    def _range_from_body(self) -> tuple[CountFilter, dict]:
        body = RangeSerializer(data=self.request.data)
        body.is_valid(raise_exception=True)
        data = {k: v for k, v in body.validated_data.items() if v not in (None, "")}
        return self._filter({k: str(v) for k, v in data.items() if k != "reason"}), data

    @extend_schema(request=RangeSerializer, responses=ReviewResult)
    @action(detail=False, methods=["post"])
    def validate(self, request):
        """Validate the range's counts (pending and rejected ones; corrected ones stay)."""
        form, _ = self._range_from_body()
        counts = selectors.range_counts(**form.criteria(), statuses=form.statuses)
        result = validation.validate(counts, request.user)
        return Response({"changed": result.changed, "batched": result.batched})

    @extend_schema(request=RangeSerializer, responses=ReviewResult)
    @action(detail=False, methods=["post"])
    def reject(self, request):
        """Reject the range's counts (they are never sent to FlowTrack), with a reason."""
        form, data = self._range_from_body()
        counts = selectors.range_counts(**form.criteria(), statuses=form.statuses)
        result = validation.reject(counts, data.get("reason", ""), request.user)
        return Response({"changed": result.changed, "batched": result.batched})

    @extend_schema(
        request=inline_serializer(
            "TrafficCorrection",
            {"count": serializers.IntegerField(min_value=0), "reason": serializers.CharField()},
        ),
        responses=CountSerializer,
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Set the number of vehicles of one count with a reason; `original_count` keeps
        what the camera counted."""
        count = self.get_object()
        value = request.data.get("count")
        if type(value) is not int:
            try:
                value = int(str(value))
            except ValueError:
                raise exceptions.ValidationError(
                    {"count": [_("A whole number, please.")]}
                ) from None
        try:
            count = validation.correct(count, value, request.data.get("reason", ""), request.user)
        except validation.ReviewRefused as refused:
            raise refused_error(refused) from None
        return Response(self.get_serializer(count).data)


def refused_error(refused: validation.ReviewRefused) -> exceptions.APIException:
    if refused.code in ("reason_required", "invalid"):
        field = "reason" if refused.code == "reason_required" else "count"
        return exceptions.ValidationError({field: [refused.message]})
    return Conflict(refused.message, code=refused.code)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Echo:
    def write(self, value):
        return value


def csv_rows(counts, zone):
    writer = csv.writer(Echo())
    yield writer.writerow(
        [
            "intersection",
            "camera",
            "line",
            "direction",
            "direction_label",
            "class",
            "start",
            "end",
            "count",
            "original_count",
            "status",
            "reason",
        ]
    )
    for count in counts.iterator(chunk_size=2000):
        line = count.line
        yield writer.writerow(
            [
                line.camera.intersection_id,
                line.camera.name,
                line.name,
                count.direction,
                line.in_label if count.direction == "in" else line.out_label,
                count.vehicle_class,
                count.start.astimezone(zone).isoformat(),
                count.end.astimezone(zone).isoformat(),
                count.count,
                count.original_count,
                count.status,
                count.reason,
            ]
        )


# --- FlowTrack batches ------------------------------------------------------------------------


class BatchSerializer(serializers.ModelSerializer):
    intersection_name = serializers.CharField(source="intersection.name", read_only=True)
    count_rows = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = SyncBatch
        fields = [
            "id",
            "key",
            "intersection",
            "intersection_name",
            "start",
            "end",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "sent_at",
            "created_by",
            "created_at",
            "count_rows",
        ]
        read_only_fields = fields


class QueueSerializer(serializers.Serializer):
    intersection = serializers.IntegerField()
    to = serializers.CharField(required=False)


QueueSerializer._declared_fields["from"] = serializers.CharField(required=False)


class BatchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """FlowTrack batches (the outbox), newest first. `flowtrack_configured` in the list's
    answer says whether they have anywhere to go."""

    serializer_class = BatchSerializer
    permission_classes = [ModelPermissions]
    queryset = SyncBatch.objects.none()

    def get_permissions(self):
        if self.action in ("create", "retry"):
            return [MayReview()]
        return super().get_permissions()

    def get_queryset(self):
        intersection = self.request.query_params.get("intersection")
        return selectors.batches(
            int(intersection) if intersection and intersection.isdigit() else None
        )

    @extend_schema(parameters=[OpenApiParameter("intersection", int)])
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response.data["flowtrack_configured"] = selectors.flowtrack_configured()
        return response

    @extend_schema(
        request=QueueSerializer,
        responses={
            201: BatchSerializer,
            409: OpenApiResponse(description="Pending counts in the range, or nothing to send."),
        },
    )
    def create(self, request):
        """Queue the validated and corrected counts of a range (in no batch yet) for FlowTrack.
        Refused (409) while the range has pending counts, or when nothing is left to send."""
        body = QueueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = CountFilter({k: str(v) for k, v in body.validated_data.items()})
        if not form.is_valid():
            raise exceptions.ValidationError(form_errors(form))
        data = form.cleaned_data
        try:
            batch = validation.queue_batch(
                data["intersection"], data["start"], data["end"], request.user
            )
        except validation.ReviewRefused as refused:
            raise refused_error(refused) from None
        batch = selectors.batches().get(pk=batch.pk)
        return Response(self.get_serializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=BatchSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a batch FlowTrack refused again."""
        batch = self.get_object()
        if not flowtrack.retry(batch):
            raise exceptions.ValidationError(
                {"status": [_("Only a refused (failed) batch is retried.")]}
            )
        return Response(self.get_serializer(selectors.batches().get(pk=batch.pk)).data)


router = routers.DefaultRouter()
router.include_root_view = False
router.register("intersections", IntersectionViewSet, basename="traffic-intersection")
router.register("cameras", CameraViewSet, basename="traffic-camera")
router.register("lines", LineViewSet, basename="traffic-line")
router.register("counts", CountViewSet, basename="traffic-count")
router.register("batches", BatchViewSet, basename="traffic-batch")

urlpatterns = [path("", include(router.urls))]
