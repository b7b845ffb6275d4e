"""The people's API: cameras and events (helper-3 fills this in)."""

urlpatterns = []
