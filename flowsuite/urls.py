from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import routers

from accounts import api as accounts_api
from accounts.urls import auth_urlpatterns
from energy import alert_api as energy_alert_api
from energy import urls as energy_urls
from gatepass import urls as gatepass_urls
from surveillance import urls as surveillance_urls
from traffic import urls as traffic_urls

from . import api_views, views

admin.site.site_header = "FlowSuite"
admin.site.site_title = _("FlowSuite administration")
admin.site.index_title = _("Administration")
admin.site.site_url = "/"

energy_api_latest = energy_urls.api.LegacyLatestReadingsView.as_view()

router = routers.DefaultRouter()
router.register("tokens", accounts_api.ApiTokenViewSet, basename="apitoken")
router.register("device-keys", accounts_api.DeviceKeyViewSet, basename="devicekey")

api_urlpatterns = [
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("device/whoami/", accounts_api.DeviceWhoAmIView.as_view(), name="device-whoami"),
    path("status/", api_views.StatusView.as_view(), name="status"),
    path("energy", energy_api_latest, name="energy-latest-legacy"),
    path("alert/", energy_alert_api.ExternalAlertView.as_view(), name="alert"),
    path("alert", energy_alert_api.LegacyExternalAlertView.as_view(), name="alert-legacy"),
    path("energy/", include(energy_urls.api_urlpatterns)),
    path("gatepass/", include(gatepass_urls.api_urlpatterns)),
    path("surveillance/", include(surveillance_urls.api_urlpatterns)),
    path("traffic/", include(traffic_urls.api_urlpatterns)),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("energy/", include("energy.urls")),
    path("traffic/", include("traffic.urls")),
    path("surveillance/", include("surveillance.urls")),
    path("gatepass/", include("gatepass.urls")),
    path("accounts/", include(auth_urlpatterns)),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include((api_urlpatterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]
