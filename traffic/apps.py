from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrafficConfig(AppConfig):
    name = "traffic"
    verbose_name = _("Traffic")

    # Operators configure cameras and validate counts (LocalTrack's analysts); viewers watch the
    # counts; guards have no traffic rights. Admins get every permission.
    role_permissions = {
        "operator": [
            "view_intersection",
            "view_trafficcamera",
            "change_trafficcamera",
            "view_countline",
            "add_countline",
            "change_countline",
            "delete_countline",
            "view_count",
            "validate_counts",
            "view_movement",
            "view_syncbatch",
        ],
        "viewer": [
            "view_intersection",
            "view_trafficcamera",
            "view_countline",
            "view_count",
            "view_movement",
        ],
    }

    def ready(self):
        from . import live

        live.register()
