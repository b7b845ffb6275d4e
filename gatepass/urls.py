from django.urls import include, path
from rest_framework import routers

from . import api, views

app_name = "gatepass"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard.json", views.dashboard_data, name="dashboard_data"),
    path("inside/", views.inside, name="inside"),
    path("banned/", views.banned, name="banned"),
    path("history/", views.history, name="history"),
    path("drivers/", views.driver_list, name="drivers"),
    path("drivers/new/", views.driver_edit, name="driver_new"),
    path("drivers/<int:pk>/", views.driver_detail, name="driver"),
    path("drivers/<int:pk>/edit/", views.driver_edit, name="driver_edit"),
    path("drivers/<int:pk>/ban/", views.driver_ban, name="driver_ban"),
    path("drivers/<int:pk>/unban/", views.driver_unban, name="driver_unban"),
    path("drivers/<int:pk>/correct/", views.driver_correct, name="driver_correct"),
    path("drivers/<int:pk>/photo/", views.driver_photo, name="driver_photo"),
    path("drivers/<int:pk>/badge/", views.badge, name="badge"),
    path("drivers/<int:pk>/badge.<str:kind>", views.badge_image, name="badge_image"),
    path("drivers/<int:pk>/badge/reissue/", views.badge_reissue, name="badge_reissue"),
    path("stations/", views.station_list, name="stations"),
    path("stations/<int:pk>/", views.station_scan, name="station"),
]

router = routers.DefaultRouter()
router.register("drivers", api.DriverViewSet, basename="gatepass-driver")
router.register("stations", api.StationViewSet, basename="gatepass-station")
router.register("movements", api.MovementViewSet, basename="gatepass-movement")

api_urlpatterns = [
    path("scans/", api.ScanView.as_view(), name="gatepass-scan"),
    path("inside/", api.ActiveDriversView.as_view(), name="gatepass-inside"),
    path("", include(router.urls)),
]
