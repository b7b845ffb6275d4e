"""Writes on accounts: every creation of a user, token or device key goes through here."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from flowsuite import live

from . import roles
from .models import ApiToken, DeviceKey, User


@transaction.atomic
def user_create(*, email: str, password: str, display_name: str = "", role: str = roles.VIEWER):
    user = User.objects.create_user(email=email, password=password, display_name=display_name)
    roles.assign_role(user, role)
    return user


def api_token_create(*, user: User, name: str, expires_at: datetime | None = None):
    """Create a personal API token; returns (token, raw_key). The raw key is never stored.

    Every open page of the user hears of it: a token nobody expected is worth noticing.
    """
    token = ApiToken(user=user, name=name, expires_at=expires_at)
    raw_key = token.set_new_key()
    token.save()
    with translation.override(user.language or settings.LANGUAGE_CODE):
        message = _("A new API token “%(name)s” was created for your account.") % {"name": name}
    notify_user(user, message, level="warning")
    return token, raw_key


def notify_user(user: User, message: str, *, level: str = "info") -> None:
    """A toast on every page the user has open (the live group user.<id>)."""
    live.publish(f"user.{user.pk}", "notify", {"message": message, "level": level})


def device_key_create(*, owner: User, name: str, description: str = ""):
    """Create a device key; returns (key, raw_key). The raw key is never stored."""
    key = DeviceKey(owner=owner, name=name, description=description)
    raw_key = key.set_new_key()
    key.save()
    return key, raw_key
