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
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

# Channels' message type; flowsuite.hub relays it to the group's sockets.
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
    return {
        "type": MESSAGE_TYPE,
        "group": group,  # the hub hands the event to the group's sockets by it
        "event": json.dumps(event, cls=DjangoJSONEncoder),
    }


def publish(group: str, event_type: str, data: Any = None) -> None:
    """Send an event to `group` once the current transaction commits (now, outside one).

    An event about a write that rolls back is never sent, and a browser that reacts to it by
    reading the database sees the committed write.
    """
    publish_many([(group, event_type, data)])


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


# A process with no event loop of its own (the MQTT bridge) sends from one long-lived loop:
# async_to_sync would make a loop per call, and channels-redis a connection pool per loop.
_sender_loop: asyncio.AbstractEventLoop | None = None
SENDS_AT_ONCE = 50


def start_sender_loop() -> None:
    """Send this process's live events from a background event loop, without waiting."""
    global _sender_loop
    if _sender_loop is None:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="live-sender", daemon=True).start()
        _sender_loop = loop


def stop_sender_loop(timeout: float = 5.0) -> None:
    """Let the background loop finish what it is sending, then stop it."""
    global _sender_loop
    loop, _sender_loop = _sender_loop, None
    if loop is None:
        return

    async def drain():
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.wait(pending, timeout=timeout) if pending else None

    asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout + 1)
    loop.call_soon_threadsafe(loop.stop)


def _send_many(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if _sender_loop is not None:
        future = asyncio.run_coroutine_threadsafe(_group_send_all(layer, messages), _sender_loop)
        future.add_done_callback(_log_failure)
    else:
        async_to_sync(_group_send_all)(layer, messages)


def _log_failure(future) -> None:
    if future.exception() is not None:
        log.warning("live: events were not sent: %s", future.exception())


async def _group_send_all(layer, messages: list[tuple[str, dict]]) -> None:
    limit = asyncio.Semaphore(SENDS_AT_ONCE)

    async def send(group, message):
        async with limit:
            await layer.group_send(group, message)

    await asyncio.gather(*(send(group, message) for group, message in messages))


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
