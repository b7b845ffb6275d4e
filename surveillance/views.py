"""The surveillance pages (helper-3 fills this in)."""

from django.urls import path

from flowsuite import views as site_views

urlpatterns = [
    path("", site_views.domain, {"domain": "surveillance"}, name="home"),
]
