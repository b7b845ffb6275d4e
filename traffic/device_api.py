"""Endpoints the traffic counter calls with its device key (being written)."""

urlpatterns = []
