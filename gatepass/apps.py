from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatepassConfig(AppConfig):
    name = "gatepass"
    verbose_name = _("Gate pass")

    role_permissions = {
        "operator": [
            "view_driver",
            "add_driver",
            "change_driver",
            "view_badge",
            "add_badge",
            "view_station",
            "view_movement",
        ],
        "guard": ["view_driver", "view_station", "view_movement", "add_movement"],
        "viewer": ["view_driver", "view_station", "view_movement"],
    }

    def ready(self):
        from flowsuite import live

        live.register_domain("gatepass", may_subscribe)


def may_subscribe(user, group: str) -> bool:
    return group == "gatepass.movements" and user.has_perm("gatepass.view_movement")
