from django.urls import include, path

from . import api, device_api, views

app_name = "traffic"

urlpatterns = views.urlpatterns

api_urlpatterns = [
    path("device/", include(device_api.urlpatterns)),
    *api.urlpatterns,
]
