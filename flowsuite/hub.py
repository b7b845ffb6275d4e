"""One channel-layer subscription per group per process, shared by the process's websockets.

Without it every socket is a member of the groups it follows: an event to a group watched by
ten sockets of a daphne process is ten messages through Redis, each one a round trip for that
process's single event loop. The hub joins each group once, on its own channel, and hands each
event to the process's sockets itself: one message per process, whatever the number of viewers.

The hub of a loop runs while it has members and stops with the last; it renews its memberships
hourly, since the channel layers forget a member after a day (`group_expiry`).
"""

import asyncio
import logging
import weakref

log = logging.getLogger(__name__)

RENEW_EVERY = 3600  # seconds; the layers' group_expiry is a day


class Hub:
    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, set] = {}
        self.channel: str | None = None
        self._changes = asyncio.Lock()
        self._task: asyncio.Task | None = None

    async def join(self, group: str, socket) -> None:
        async with self._changes:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            if group not in self.members:
                await self.layer.group_add(group, self.channel)
                self.members[group] = set()
            self.members[group].add(socket)
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._relay())

    async def leave(self, group: str, socket) -> None:
        async with self._changes:
            members = self.members.get(group)
            if members is None or socket not in members:
                return
            members.discard(socket)
            if not members:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)
            if not self.members and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _relay(self) -> None:
        renew = asyncio.get_running_loop().time() + RENEW_EVERY
        while True:
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), RENEW_EVERY)
            except TimeoutError:
                message = None
            except Exception:  # Redis away: keep trying, the sockets stay open
                log.exception("live: the hub could not receive; retrying in a second")
                await asyncio.sleep(1)
                continue
            if message is not None:
                await self._deliver(message)
            if asyncio.get_running_loop().time() >= renew:
                await self._renew()
                renew = asyncio.get_running_loop().time() + RENEW_EVERY

    async def _deliver(self, message: dict) -> None:
        for socket in list(self.members.get(message.get("group"), ())):
            try:
                await socket.send(text_data=message["event"])
            except Exception:  # one broken socket must not starve the others
                log.exception("live: could not relay an event to a socket")

    async def _renew(self) -> None:
        for group in list(self.members):
            await self.layer.group_add(group, self.channel)


# One hub per event loop (tests run a loop per test; a server runs one).
_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub_for(layer) -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub
