"""API of alert rules, alerts, automations and recommendations, and the older seed's
POST /api/alert."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from flowsuite.permissions import IsDevice, IsPerson

from . import alerts, recommendations
from .models import Alert, AlertRule, Automation, AutomationRun, Node, Recommendation


class OwnedNodeField(serializers.PrimaryKeyRelatedField):
    """A node of the requesting user: another user's node is refused as if it did not exist."""

    def get_queryset(self):
        return Node.objects.filter(owner=self.context["request"].user)


class ModelCleanMixin:
    """Run the model's clean() (the domain's rules) and report its errors as field errors."""

    def save(self, **kwargs):
        instance = self.instance or self.Meta.model()
        for name, value in {**self.validated_data, **kwargs}.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except Exception as error:
            messages = getattr(error, "message_dict", None)
            if messages is None:
                raise
            raise serializers.ValidationError(messages) from error
        instance.save()
        self.instance = instance
        return instance


class RuleSerializer(ModelCleanMixin, serializers.ModelSerializer):
    node = OwnedNodeField(required=False, allow_null=True)

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "node",
            "kind",
            "enabled",
            "magnitude",
            "comparison",
            "threshold",
            "threshold_high",
            "hysteresis",
            "duration",
            "offline_intervals",
            "budget_kwh",
            "budget_period",
            "notify_interval",
            "webhook_url",
            "webhook_format",
            "created_at",
        ]


class OwnedViewSet(viewsets.ModelViewSet):
    """Yours only; admins see everyone's (and change only their own)."""

    def get_queryset(self):
        objects = self.serializer_class.Meta.model.objects
        if self.request.method in ("GET", "HEAD") and self.request.user.has_perm(
            "energy.view_all_nodes"
        ):
            return objects.all()
        return objects.filter(owner=self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class RuleViewSet(OwnedViewSet):
    """Alert rules: a magnitude past a threshold for a duration (with hysteresis), a node that
    stops reporting, or energy over a daily or monthly budget."""

    serializer_class = RuleSerializer
    queryset = AlertRule.objects.none()


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.StringRelatedField()
    node = serializers.SlugRelatedField(slug_field="device_id", read_only=True)
    acknowledged_by = serializers.StringRelatedField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "status",
            "severity",
            "message",
            "source",
            "rule",
            "node",
            "values",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "comment",
            "resolved_at",
        ]


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


ALERT_FILTERS = [
    OpenApiParameter("status", str, enum=[s.value for s in Alert.Status]),
    OpenApiParameter("severity", str, enum=[s.value for s in Alert.Severity]),
    OpenApiParameter("node", int),
]


@extend_schema(parameters=ALERT_FILTERS)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your alerts, newest first; acknowledge (with a comment) or resolve by hand."""

    serializer_class = AlertSerializer
    queryset = Alert.objects.none()

    def get_queryset(self):
        found = Alert.objects.filter(owner=self.request.user).select_related(
            "rule", "node", "acknowledged_by"
        )
        params = self.request.query_params
        for name in ("status", "severity"):
            if params.get(name):
                found = found.filter(**{name: params[name]})
        if params.get("node"):
            found = found.filter(node_id=params["node"])
        return found

    @extend_schema(request=CommentSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._with_comment(request, alerts.acknowledge)

    @extend_schema(request=CommentSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._with_comment(request, alerts.close)

    def _with_comment(self, request, change):
        comment = CommentSerializer(data=request.data)
        comment.is_valid(raise_exception=True)
        alert = change(self.get_object(), request.user, comment.validated_data.get("comment", ""))
        return Response(AlertSerializer(alert).data)


class AutomationSerializer(ModelCleanMixin, serializers.ModelSerializer):
    node = OwnedNodeField(required=False, allow_null=True)
    rule = serializers.PrimaryKeyRelatedField(
        queryset=AlertRule.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Automation
        fields = [
            "id",
            "name",
            "enabled",
            "trigger",
            "rule",
            "at_time",
            "weekdays",
            "action",
            "node",
            "topic",
            "payload",
            "webhook_url",
            "last_run_at",
            "created_at",
        ]
        read_only_fields = ["last_run_at"]

    def validate_rule(self, rule):
        if rule is not None and rule.owner_id != self.context["request"].user.pk:
            raise serializers.ValidationError(_("Choose one of your own rules."))
        return rule


class AutomationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = AutomationRun
        fields = ["id", "trigger", "alert", "node", "queued_at", "ran_at", "outcome", "detail"]


class AutomationViewSet(OwnedViewSet):
    """Automations: on an alert opening or resolving, or on a schedule, publish an MQTT
    message to one of your nodes' topics (templated) or call a webhook."""

    serializer_class = AutomationSerializer
    queryset = Automation.objects.none()

    @extend_schema(responses=AutomationRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The automation's last 100 actions and their outcomes."""
        runs = self.get_object().runs.all()[:100]
        return Response(AutomationRunSerializer(runs, many=True).data)


class RecommendationSerializer(serializers.ModelSerializer):
    node = serializers.SlugRelatedField(slug_field="device_id", read_only=True)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "kind",
            "node",
            "title",
            "detail",
            "evidence",
            "saving_kwh_year",
            "saving_money_year",
            "currency",
            "computed_at",
            "dismissed_at",
        ]


class RecommendationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Saving advice computed from your own readings, priced with your tariff."""

    serializer_class = RecommendationSerializer
    queryset = Recommendation.objects.none()

    def get_queryset(self):
        found = Recommendation.objects.filter(owner=self.request.user).select_related("node")
        if self.request.query_params.get("dismissed") != "1":
            found = found.filter(dismissed_at__isnull=True)
        return found

    @extend_schema(request=None, responses=RecommendationSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        advice = self.get_object()
        advice.dismissed_at = timezone.now()
        advice.save(update_fields=["dismissed_at"])
        return Response(RecommendationSerializer(advice).data)

    @extend_schema(request=None, responses=RecommendationSerializer(many=True))
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        """Compute the advice again from your data now."""
        recommendations.compute(request.user)
        return Response(RecommendationSerializer(self.get_queryset(), many=True).data)


# --- POST /api/alert -------------------------------------------------------------------


class ExternalAlertSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=300)
    severity = serializers.ChoiceField(choices=Alert.Severity.choices, default="warning")
    node = serializers.CharField(
        required=False, help_text="A device id of yours (a device key: its own node)."
    )
    source = serializers.CharField(max_length=80, required=False, default="external")
    values = serializers.DictField(required=False)


class ExternalAlertView(APIView):
    """Another system raises an alert (the older seed's endpoint): with a personal token, for
    you (optionally about one of your nodes), or with a node's device key, about that node.
    It is shown live and notified like the alerts of your rules."""

    permission_classes = [IsPerson | IsDevice]

    @extend_schema(request=ExternalAlertSerializer, responses={201: AlertSerializer})
    def post(self, request):
        data = ExternalAlertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if getattr(request.user, "is_device", False):
            node = getattr(request.auth, "energy_node", None)
            if node is None:
                raise exceptions.PermissionDenied(_("This device key belongs to no energy node."))
            owner = node.owner
        else:
            owner, node = request.user, None
            if fields.get("node"):
                node = Node.objects.filter(owner=owner, device_id=fields["node"]).first()
                if node is None:
                    raise exceptions.ValidationError({"node": [_("You have no such node.")]})
        with transaction.atomic():
            alert = alerts.raise_external(
                owner=owner,
                node=node,
                message=fields["message"],
                severity=fields["severity"],
                source=fields["source"],
                values=fields.get("values"),
            )
        return Response(AlertSerializer(alert).data, status=status.HTTP_201_CREATED)


class LegacyExternalAlertView(ExternalAlertView):
    schema = None
