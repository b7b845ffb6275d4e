"""The traffic pages (being written)."""

from django.urls import path

from flowsuite import views as site_views

urlpatterns = [
    path("", site_views.domain, {"domain": "traffic"}, name="home"),
]
