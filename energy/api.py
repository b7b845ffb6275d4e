"""The energy API: nodes, batch ingest by device key, readings, consumption, KPIs."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from flowsuite.api import PayloadTooLarge
from flowsuite.permissions import IsDevice

from . import ingest, nodes, selectors
from .magnitudes import ALL
from .models import Node, PendingDevice, Reading

MAX_BATCH = 10_000
MAX_BODY = 4 * 1024 * 1024  # bytes: a full batch of readings with every magnitude is ~2 MB


def user_zone(user) -> ZoneInfo:
    return ZoneInfo(getattr(user, "time_zone", "") or settings.TIME_ZONE)


def parse_moment(value: str, zone: ZoneInfo, name: str) -> datetime:
    """An ISO 8601 time; a bare date is midnight in `zone`; a time without zone is in `zone`."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise exceptions.ValidationError({name: [_("Not an ISO 8601 date or time.")]})
        moment = datetime.combine(day, datetime.min.time())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def time_range(params, zone: ZoneInfo, default: str = "24h") -> tuple[datetime, datetime]:
    """`range` (1h, 24h, 7d, 30d, 1y) back from now, or `start` and `end` (ISO 8601)."""
    now = timezone.now()
    if params.get("start"):
        start = parse_moment(params["start"], zone, "start")
        end = parse_moment(params["end"], zone, "end") if params.get("end") else now
    else:
        name = params.get("range") or default
        if name not in selectors.RANGES:
            choices = ", ".join(selectors.RANGES)
            raise exceptions.ValidationError({"range": [_("Choose one of %s.") % choices]})
        start, end = now - selectors.RANGES[name], now
    if end <= start:
        raise exceptions.ValidationError({"end": [_("The end must be after the start.")]})
    if end - start > timedelta(days=3660):
        raise exceptions.ValidationError({"start": [_("A range is at most ten years.")]})
    return start, end


RANGE_PARAMETERS = [
    OpenApiParameter("range", str, enum=list(selectors.RANGES), description="Back from now."),
    OpenApiParameter(
        "start",
        OpenApiTypes.DATETIME,
        description="ISO 8601; a date is midnight in your time zone. Overrides `range`.",
    ),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601; default now."),
]


# --- nodes -----------------------------------------------------------------------------


class NodeSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(
        slug_field="email",
        queryset=User.objects.all(),
        required=False,
        help_text="Admins only; default yourself.",
    )

    class Meta:
        model = Node
        fields = [
            "id",
            "device_id",
            "name",
            "description",
            "location",
            "expected_interval",
            "owner",
            "status",
            "link_state",
            "last_seen_at",
            "last_reading_at",
            "latest",
            "created_at",
        ]
        read_only_fields = ["link_state", "last_seen_at", "last_reading_at", "latest"]

    def get_status(self, node) -> str:
        return nodes.node_status(node)

    def validate_owner(self, owner):
        user = self.context["request"].user
        if owner != user and not user.has_perm("energy.view_all_nodes"):
            raise serializers.ValidationError(_("You can only add nodes of your own."))
        return owner

    def validate_device_id(self, value):
        taken = Node.objects.filter(device_id=value)
        if self.instance:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(_("A node with this device id already exists."))
        return value


class NodeCreatedSerializer(NodeSerializer):
    device_key = serializers.CharField(read_only=True, help_text="Shown once: put it in the meter.")

    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "device_key"]


class NodeViewSet(viewsets.ModelViewSet):
    """Your energy meters (admins: everyone's). Creating one returns its device key, once."""

    serializer_class = NodeSerializer
    queryset = Node.objects.none()  # for the schema; get_queryset() is what is served

    def get_queryset(self):
        return Node.objects.visible_to(self.request.user).select_related("owner")

    @extend_schema(responses={201: NodeCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner = data.pop("owner", request.user)
        node, raw_key = nodes.node_create(owner=owner, **data)
        body = NodeCreatedSerializer(node, context=self.get_serializer_context()).data
        body["device_key"] = raw_key
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = nodes.node_update(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        nodes.node_delete(instance)

    @extend_schema(
        request=None,
        responses=inline_serializer("NodeKey", {"device_key": serializers.CharField()}),
    )
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        """Revoke the node's device key and issue a new one (shown once)."""
        return Response({"device_key": nodes.node_rotate_key(self.get_object())})

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter(
                "resolution",
                str,
                enum=list(selectors.RESOLUTIONS),
                description="Default: chosen to fit the range (about 1,500 points at most).",
            ),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def readings(self, request, pk=None):
        """The node's readings over a range: per point the average, min and max of each
        magnitude and the kWh used, plus a summary (current, max, min, last update)."""
        node = self.get_object()
        start, end = time_range(request.query_params, user_zone(request.user))
        resolution = request.query_params.get("resolution") or None
        if resolution and resolution not in selectors.RESOLUTIONS:
            raise exceptions.ValidationError({"resolution": [_("Not a resolution.")]})
        data = selectors.series(node, start, end, resolution)
        data.update(start=start, end=end, summary=selectors.summary(data["points"]))
        return Response(data)


class PendingDeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = PendingDevice
        fields = [
            "id",
            "device_id",
            "source",
            "first_seen_at",
            "last_seen_at",
            "messages",
            "last_payload",
        ]


class ClaimSerializer(serializers.Serializer):
    owner = serializers.SlugRelatedField(slug_field="email", queryset=User.objects.all())
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class PendingDeviceViewSet(
    mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Device ids that sent data but belong to no node (admins): claim one into a node."""

    serializer_class = PendingDeviceSerializer
    queryset = PendingDevice.objects.all()

    def check_permissions(self, request):
        super().check_permissions(request)
        if not request.user.has_perm("energy.view_all_nodes"):
            self.permission_denied(request, message=_("Only administrators claim devices."))

    @extend_schema(request=ClaimSerializer, responses={201: NodeCreatedSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        serializer = ClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node, raw_key = nodes.claim_pending(self.get_object(), **serializer.validated_data)
        body = NodeCreatedSerializer(node, context={"request": request}).data
        body["device_key"] = raw_key
        return Response(body, status=status.HTTP_201_CREATED)


# --- ingest ----------------------------------------------------------------------------


def _reading_schema():
    fields = {m.key: serializers.FloatField(required=False, help_text=m.unit) for m in ALL}
    fields["ts"] = serializers.CharField(
        required=False, help_text="ISO 8601 with zone, or epoch seconds; default: received."
    )
    return inline_serializer("Reading", fields)


class ReadingsParser(parsers.BaseParser):
    """JSON through the ingest service's own parser, the MQTT bridge's: bounded in size and
    depth, read no further than the limit. (Not a JSONParser: DRF reads all of a body for
    those before they see it.)"""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return ingest.parse_json(stream.read(MAX_BODY + 1), max_bytes=MAX_BODY)
        except ingest.TooLarge as reason:
            raise PayloadTooLarge(_("The body is refused: %s.") % reason) from None
        except ingest.Reject as reason:
            raise exceptions.ParseError(_("The body is refused: %s.") % reason) from None


class IngestView(APIView):
    """A meter sends readings with its device key: one object or `{"readings": [...]}`.

    Each reading: any of voltage (V), current (A), power (W), power_factor, frequency (Hz),
    energy (kWh, the meter's cumulative counter) and an optional `ts`. Readings already
    stored (same time) are counted as duplicates, so a retry is harmless.
    """

    permission_classes = [IsDevice]
    parser_classes = [ReadingsParser]

    @extend_schema(
        request=inline_serializer(
            "ReadingBatch", {"readings": serializers.ListField(child=_reading_schema())}
        ),
        responses=inline_serializer(
            "IngestResult",
            {
                "accepted": serializers.IntegerField(),
                "duplicates": serializers.IntegerField(),
                "rejected": serializers.ListField(child=serializers.DictField()),
                "ignored_fields": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request):
        node = getattr(request.auth, "energy_node", None) if request.auth else None
        if node is None:
            raise exceptions.PermissionDenied(_("This device key belongs to no energy node."))
        body = request.data
        readings = body.get("readings", [body]) if isinstance(body, dict) else body
        if not isinstance(readings, list) or not readings:
            raise exceptions.ValidationError({"readings": [_("Send a list of readings.")]})
        if len(readings) > MAX_BATCH:
            raise exceptions.ValidationError(
                {"readings": [_("At most %d readings per request.") % MAX_BATCH]}
            )
        result = ingest.ingest(((node.device_id, r) for r in readings), source="api")
        code = status.HTTP_200_OK if result.accepted or result.duplicates else 422
        return Response(result.as_dict(), status=code)


# --- readings, consumption, KPIs -------------------------------------------------------


class LatestReadingSerializer(serializers.ModelSerializer):
    device_id = serializers.CharField(source="node.device_id")
    node = serializers.IntegerField(source="node_id")
    consumption = serializers.SerializerMethodField(help_text="Power in kW (the older seed's).")

    class Meta:
        model = Reading
        fields = ["node", "device_id", "ts", *(m.key for m in ALL), "energy_used", "consumption"]

    def get_consumption(self, reading) -> float | None:
        return None if reading.power is None else reading.power / 1000


class LatestReadingsView(APIView):
    """The 100 newest readings of your nodes, newest first (the older seed's /api/energy)."""

    @extend_schema(responses=LatestReadingSerializer(many=True))
    def get(self, request):
        readings = selectors.latest_readings(request.user)
        return Response(LatestReadingSerializer(readings, many=True).data)


class LegacyLatestReadingsView(LatestReadingsView):
    """/api/energy without the slash, as the older seed's clients call it."""

    schema = None


def _nodes_for(request) -> list[Node]:
    visible = Node.objects.visible_to(request.user)
    if request.query_params.get("node"):
        return [get_object_or_404(visible, pk=request.query_params["node"])]
    if request.user.has_perm("energy.view_all_nodes") and not request.query_params.get("all"):
        visible = visible.filter(owner=request.user)
    return list(visible)


NODE_PARAMETERS = [
    OpenApiParameter("node", int, description="One node; default all of yours."),
    OpenApiParameter("all", bool, description="Admins: every user's nodes."),
]


def _rendered(moment: datetime) -> str:
    """A datetime as DRF's JSON encoder writes it, done before: its hook, called for each of a
    year's 8,760 hours, cost more than computing them."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ConsumptionView(APIView):
    """kWh used per hour, day, month or year over a range, for one node or all of yours, with
    the total of the same length of time just before. Boundaries are in your time zone."""

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(selectors.PERIODS), default="day"),
            *RANGE_PARAMETERS,
            *NODE_PARAMETERS,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        period = request.query_params.get("period", "day")
        if period not in selectors.PERIODS:
            raise exceptions.ValidationError({"period": [_("Not a period.")]})
        zone = user_zone(request.user)
        start, end = time_range(request.query_params, zone, default="30d")
        result = selectors.consumption(_nodes_for(request), period, start, end, zone)
        return Response(
            {
                "period": period,
                "time_zone": zone.key,
                "start": result.start,
                "end": result.end,
                "total_kwh": result.total,
                "previous_total_kwh": result.previous_total,
                "buckets": [{"start": _rendered(s), "kwh": kwh} for s, kwh in result.buckets],
            }
        )


class KpiView(APIView):
    """The main panel's figures: magnitudes averaged over your nodes sending data now (with
    how many contributed), today's kWh, the voltage deviation from nominal, node statuses."""

    @extend_schema(parameters=NODE_PARAMETERS[1:], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        node_list = _nodes_for(request)
        data = selectors.kpis(node_list, user_zone(request.user))
        data["statuses"] = selectors.statuses(node_list)
        return Response(data)
