from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import status


class ServiceStatusSerializer(serializers.Serializer):
    service = serializers.CharField()
    ok = serializers.BooleanField()
    state = serializers.ChoiceField(["ok", "down", "not_configured"])
    detail = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)


class SystemStatusSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    services = ServiceStatusSerializer(many=True)


class StatusView(APIView):
    """The state of the services FlowSuite depends on (what the home page shows)."""

    @extend_schema(responses=SystemStatusSerializer)
    def get(self, request):
        return Response(status.snapshot())
