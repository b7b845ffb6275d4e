"""Permissions, cached across requests.

Django's ModelBackend loads a user's permissions with two queries on every request that checks
one. This backend keeps them in the cache (Redis when configured) for a minute, and forgets all
of them as soon as any role, group or permission assignment changes.
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

VERSION_KEY = "accounts:permissions-version"
TIMEOUT = 60


def _version() -> int:
    return cache.get_or_set(VERSION_KEY, 1, None)


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = f"accounts:permissions:{_version()}:{user_obj.pk}:{user_obj.is_superuser}"
            permissions = cache.get(key)
            if permissions is None:
                permissions = super().get_all_permissions(user_obj)
                cache.set(key, permissions, TIMEOUT)
            user_obj._perm_cache = permissions
        return user_obj._perm_cache


def forget_all_permissions(**kwargs) -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not set yet (or evicted): nothing cached under a version to forget
        cache.set(VERSION_KEY, 2, None)


@receiver(m2m_changed)
def _on_assignment_change(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    if kwargs.get("action", "").startswith("post_") and (
        kwargs.get("model") in (Group, Permission) or isinstance(kwargs.get("instance"), Group)
    ):
        forget_all_permissions()


@receiver([post_save, post_delete], sender="auth.Group")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _on_group_or_user_removal(sender, **kwargs):
    forget_all_permissions()
