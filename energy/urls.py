from django.urls import include, path
from rest_framework import routers

from . import api, views

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
]

router = routers.DefaultRouter()
router.register("nodes", api.NodeViewSet, basename="energy-node")
router.register("pending", api.PendingDeviceViewSet, basename="energy-pending")

api_urlpatterns = [
    path("", api.LatestReadingsView.as_view(), name="energy-latest"),
    path("ingest/", api.IngestView.as_view(), name="energy-ingest"),
    path("consumption/", api.ConsumptionView.as_view(), name="energy-consumption"),
    path("kpis/", api.KpiView.as_view(), name="energy-kpis"),
    path("", include(router.urls)),
]
