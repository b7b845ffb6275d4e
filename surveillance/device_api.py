"""Endpoints the camera agent calls with its device key (helper-2 fills this in)."""

urlpatterns = []
