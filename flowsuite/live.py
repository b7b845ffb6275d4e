"""The live-update layer: push events from any sync code to browsers subscribed to a group.

Group names are `<domain>.<topic>[.<id>]`, e.g. `system.status`, `energy.node.42`,
`gatepass.station.3`, `user.7`. The part before the first dot is the domain: the app that owns
the group registers who may subscribe to it:

    # energy/apps.py, in ready():
    live.register_domain("energy", energy.live.may_subscribe)   # (user, group) -> bool

and publishes after its writes:

    live.publish("energy.node.42", "reading", {"power_w": 812.5})

An event reaches the browser as
    {"group": "energy.node.42", "type": "reading", "data": {...}, "sent_at": "<ISO 8601>"}
"""

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

# Channels' message type: LiveConsumer.live_event() handles it.
MESSAGE_TYPE = "live.event"
MAX_GROUP_LENGTH = 90  # channels refuses group names of 100 characters or more

Authorizer = Callable[[Any, str], bool]
_authorizers: dict[str, Authorizer] = {}


def register_domain(domain: str, may_subscribe: Authorizer) -> None:
    """Let `may_subscribe(user, group)` decide who may subscribe to `<domain>.*` groups.

    It runs in a worker thread (it may query the database) once per subscription request.
    """
    if "." in domain:
        raise ValueError("a domain is one word: the part of a group name before the first dot")
    _authorizers[domain] = may_subscribe


def is_valid_group(group: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    return 0 < len(group) <= MAX_GROUP_LENGTH and "." in group and set(group) <= allowed


def may_subscribe(user, group: str) -> bool:
    """Whether `user` may receive the events of `group`; unknown domains are refused."""
    if not (user and user.is_authenticated and is_valid_group(group)):
        return False
    authorizer = _authorizers.get(group.split(".", 1)[0])
    return bool(authorizer and authorizer(user, group))


def event_message(group: str, event_type: str, data: Any) -> dict:
    event = {"group": group, "type": event_type, "data": data, "sent_at": timezone.now()}
    # Serialised here, once, so that dates and decimals survive any channel layer.
    return {"type": MESSAGE_TYPE, "event": json.dumps(event, cls=DjangoJSONEncoder)}


def publish(group: str, event_type: str, data: Any = None) -> None:
    """Send an event to `group` once the current transaction commits (now, outside one).

    An event about a write that rolls back is never sent, and a browser that reacts to it by
    reading the database sees the committed write.
    """
    if not is_valid_group(group):
        raise ValueError(f"invalid live group name {group!r}")
    message = event_message(group, event_type, data)
    transaction.on_commit(lambda: _send(group, message), robust=True)


def publish_many(events: list[tuple[str, str, Any]]) -> None:
    """publish() for many (group, type, data) events at once: one hop to the channel layer
    after commit instead of one per event (the energy ingest path sends dozens per batch)."""
    messages = []
    for group, event_type, data in events:
        if not is_valid_group(group):
            raise ValueError(f"invalid live group name {group!r}")
        messages.append((group, event_message(group, event_type, data)))
    if messages:
        transaction.on_commit(lambda: _send_many(messages), robust=True)


def _send_many(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(_group_send_all)(layer, messages)


async def _group_send_all(layer, messages: list[tuple[str, dict]]) -> None:
    await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


async def apublish(group: str, event_type: str, data: Any = None) -> None:
    """Send an event now, from async code that has no transaction (a monitor, a consumer)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, event_message(group, event_type, data))


def _may_subscribe_to_own_user_group(user, group: str) -> bool:
    return group == f"user.{user.pk}"


def _may_subscribe_to_system(user, group: str) -> bool:
    return group == "system.status"


register_domain("user", _may_subscribe_to_own_user_group)
register_domain("system", _may_subscribe_to_system)
