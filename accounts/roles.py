"""Roles are Django groups: admin, operator, guard, viewer.

The groups are created by a migration (0002_roles). Their permissions come from the apps: each
FlowSuite app's AppConfig may declare `role_permissions = {"operator": ["view_node", ...]}`,
and admin gets every permission of every FlowSuite app. They are applied after each `migrate`,
once Django has created the permissions, so a new app only declares what its roles may do.
"""

from django.apps import AppConfig
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

ADMIN = "admin"
OPERATOR = "operator"
GUARD = "guard"
VIEWER = "viewer"

ROLES = {
    ADMIN: _("Admin"),
    OPERATOR: _("Operator"),
    GUARD: _("Guard"),
    VIEWER: _("Viewer"),
}
# Roles that work in the Django admin.
STAFF_ROLES = {ADMIN, OPERATOR}

FLOWSUITE_APPS = {"accounts", "energy", "traffic", "surveillance", "gatepass"}


def sync_role_permissions(app_config: AppConfig) -> None:
    """Give each role the permissions `app_config` declares for it (adds, never removes)."""
    if app_config.label not in FLOWSUITE_APPS:
        return
    app_perms = Permission.objects.filter(content_type__app_label=app_config.label)
    Group.objects.get_or_create(name=ADMIN)[0].permissions.add(*app_perms)
    for role, codenames in getattr(app_config, "role_permissions", {}).items():
        if role not in ROLES:
            raise ImproperlyConfigured(f"{app_config.label}: unknown role {role!r}")
        perms = list(app_perms.filter(codename__in=codenames))
        missing = set(codenames) - {p.codename for p in perms}
        if missing:
            raise ImproperlyConfigured(f"{app_config.label}: no permissions {sorted(missing)}")
        Group.objects.get_or_create(name=role)[0].permissions.add(*perms)


def sync_role_permissions_after_migrate(sender: AppConfig, **kwargs) -> None:
    sync_role_permissions(sender)


def assign_role(user, role: str) -> None:
    """Make `role` the user's only role; admins and operators may use the Django admin."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    user.is_staff = role in STAFF_ROLES or user.is_superuser
    user.save(update_fields=["is_staff"])


def role_of(user) -> str | None:
    names = {g.name for g in user.groups.all()}
    return next((role for role in ROLES if role in names), None)
