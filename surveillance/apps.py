from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveillanceConfig(AppConfig):
    name = "surveillance"
    verbose_name = _("Surveillance")

    # Guards watch the cameras and the gallery; operators also tidy it; viewers have no camera
    # rights. Admins (every permission) delete a day or everything and change camera settings.
    role_permissions = {
        "operator": ["view_camera", "view_motionevent", "delete_motionevent"],
        "guard": ["view_camera", "view_motionevent"],
    }

    def ready(self):
        from . import live

        live.register()
