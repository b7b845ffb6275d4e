from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = _("Energy")

    # Anyone signed in manages their own meters; admins (who get every permission) see all.
    role_permissions = {}

    def ready(self):
        from flowsuite import live

        from . import live as energy_live
        from . import (  # noqa: F401  (signal receivers)
            nodes,  # keeps day buckets in the owner's time zone
            rules,  # judges alert rules in the ingest transaction
        )

        live.register_domain("energy", energy_live.may_subscribe)
