from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatepassConfig(AppConfig):
    name = "gatepass"
    verbose_name = _("Gate pass")
