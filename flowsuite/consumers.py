"""The one websocket consumer of the site: /ws/live/.

The browser sends {"action": "subscribe" | "unsubscribe", "groups": [...]}; the server answers
{"type": "subscribed", "groups": [...], "refused": [...]} and then relays every event published
to those groups (see flowsuite.live), through the process's hub (flowsuite.hub). Anonymous
connections are closed with code 4401.
"""

import asyncio
import json
import logging
from collections import Counter

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import live, status
from .hub import hub_for

log = logging.getLogger(__name__)

MAX_GROUPS_PER_SOCKET = 50
SYSTEM_STATUS_GROUP = "system.status"

# How many sockets of this process are subscribed to each group.
local_subscribers: Counter[str] = Counter()


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.subscribed: set[str] = set()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.accept()

    async def disconnect(self, code):
        for group in list(getattr(self, "subscribed", ())):
            await self._leave(group)

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        groups = content.get("groups") if isinstance(content, dict) else None
        if action not in ("subscribe", "unsubscribe") or not _is_list_of_str(groups):
            await self.send_json({"type": "error", "message": "expected {action, groups}"})
            return
        if action == "subscribe":
            await self.subscribe(groups)
        else:
            for group in set(groups) & self.subscribed:
                await self._leave(group)
            await self.send_json({"type": "unsubscribed", "groups": groups})

    async def subscribe(self, groups: list[str]):
        room = MAX_GROUPS_PER_SOCKET - len(self.subscribed)
        wanted = [g for g in dict.fromkeys(groups) if g not in self.subscribed]
        allowed, refused = await self._authorize(wanted[: max(room, 0)])
        refused += wanted[max(room, 0) :]
        for group in allowed:
            await hub_for(self.channel_layer).join(group, self)
            self.subscribed.add(group)
            local_subscribers[group] += 1
        await self.send_json({"type": "subscribed", "groups": allowed, "refused": refused})
        if SYSTEM_STATUS_GROUP in allowed:
            await self._send_status_now()

    async def _leave(self, group: str):
        await hub_for(self.channel_layer).leave(group, self)
        self.subscribed.discard(group)
        local_subscribers[group] -= 1

    @database_sync_to_async
    def _authorize(self, groups: list[str]) -> tuple[list[str], list[str]]:
        user = self.scope["user"]
        allowed = [g for g in groups if live.may_subscribe(user, g)]
        return allowed, [g for g in groups if g not in allowed]

    async def _send_status_now(self):
        ensure_status_monitor()
        message = live.event_message(SYSTEM_STATUS_GROUP, "status", await status.asnapshot())
        await self.send(text_data=message["event"])

    @classmethod
    async def encode_json(cls, content):
        return json.dumps(content)


def _is_list_of_str(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_monitor_task: asyncio.Task | None = None


def ensure_status_monitor() -> None:
    """Start, once per process, the loop that pushes system status while someone watches."""
    global _monitor_task
    if _monitor_task is None or _monitor_task.done():
        _monitor_task = asyncio.get_running_loop().create_task(_monitor_status())


async def _monitor_status():
    while local_subscribers[SYSTEM_STATUS_GROUP] > 0:
        await asyncio.sleep(settings.SYSTEM_STATUS_INTERVAL)
        try:
            await live.apublish(SYSTEM_STATUS_GROUP, "status", await status.asnapshot())
        except Exception:
            log.exception("system status monitor failed")
