from django.urls import include, path
from rest_framework import routers

from . import alert_api, alert_views, api, views

app_name = "energy"

urlpatterns = [
    path("", views.panel, name="panel"),
    path("consumption/", views.consumption, name="consumption"),
    path("nodes/", views.node_list, name="nodes"),
    path("nodes/new/", views.node_create, name="node_new"),
    path("nodes/<int:pk>/", views.node_dashboard, name="node"),
    path("nodes/<int:pk>/edit/", views.node_edit, name="node_edit"),
    path("nodes/<int:pk>/delete/", views.node_delete, name="node_delete"),
    path("nodes/<int:pk>/key/", views.node_rotate_key, name="node_key"),
    path("pending/<int:pk>/claim/", views.pending_claim, name="pending_claim"),
    path("pending/<int:pk>/discard/", views.pending_discard, name="pending_discard"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alert_views.alert_acknowledge, name="alert_ack"),
    path("alerts/<int:pk>/resolve/", alert_views.alert_resolve, name="alert_resolve"),
    path("rules/", alert_views.rule_list, name="rules"),
    path("rules/new/", alert_views.rule_edit, name="rule_new"),
    path("rules/<int:pk>/", alert_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", alert_views.rule_delete, name="rule_delete"),
    path("automations/", alert_views.automation_list, name="automations"),
    path("automations/new/", alert_views.automation_edit, name="automation_new"),
    path("automations/<int:pk>/", alert_views.automation_edit, name="automation_edit"),
    path("automations/<int:pk>/delete/", alert_views.automation_delete, name="automation_delete"),
    path("advice/", alert_views.recommendation_list, name="recommendations"),
    path("advice/<int:pk>/dismiss/", alert_views.recommendation_dismiss, name="advice_dismiss"),
    path("advice/refresh/", alert_views.recommendation_refresh, name="advice_refresh"),
    path("settings/", alert_views.energy_settings, name="settings"),
]

router = routers.DefaultRouter()
router.register("nodes", api.NodeViewSet, basename="energy-node")
router.register("pending", api.PendingDeviceViewSet, basename="energy-pending")
router.register("rules", alert_api.RuleViewSet, basename="energy-rule")
router.register("alerts", alert_api.AlertViewSet, basename="energy-alert")
router.register("automations", alert_api.AutomationViewSet, basename="energy-automation")
router.register("recommendations", alert_api.RecommendationViewSet, basename="energy-advice")

api_urlpatterns = [
    path("", api.LatestReadingsView.as_view(), name="energy-latest"),
    path("ingest/", api.IngestView.as_view(), name="energy-ingest"),
    path("consumption/", api.ConsumptionView.as_view(), name="energy-consumption"),
    path("kpis/", api.KpiView.as_view(), name="energy-kpis"),
    path("", include(router.urls)),
]
