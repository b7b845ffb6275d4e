from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    # What each role may do in this app; every app declares its own (see accounts.roles).
    # What each role may do in this app, beyond admin (which gets every permission of a
    # FlowSuite app). Every app declares its own; accounts.roles applies them after migrate.
    role_permissions = {
        "operator": ["view_user", "view_devicekey", "add_devicekey", "change_devicekey"],
    }

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import backends, roles, schema  # noqa: F401  (they register signal handlers)

        post_migrate.connect(roles.sync_role_permissions_after_migrate)
