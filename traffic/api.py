"""The people's traffic API (being written)."""

urlpatterns = []
