"""Is the system working? One check per service, used by the home page, /healthz and
`manage.py check_services`."""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from . import mqtt


@dataclass
class ServiceStatus:
    service: str  # "database", "channel_layer", "mqtt"
    ok: bool
    state: str  # "ok", "down" or "not_configured"
    detail: str
    latency_ms: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(service: str, describe: str, probe: Callable[[], None]) -> ServiceStatus:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # any failure of a service is a finding, not a crash
        return ServiceStatus(service, False, "down", f"{describe}: {exc}")
    latency = round((time.perf_counter() - started) * 1000, 1)
    return ServiceStatus(service, True, "ok", describe, latency)


def check_database() -> ServiceStatus:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    return _timed("database", f"{connection.vendor} {connection.settings_dict['NAME']}", probe)


def check_channel_layer() -> ServiceStatus:
    layer = get_channel_layer()
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]

    def probe():
        async_to_sync(_round_trip)(layer)

    return _timed("channel_layer", backend, probe)


async def _round_trip(layer) -> None:
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=3)
    if message.get("token") != token:
        raise RuntimeError("the layer returned another message")


def check_mqtt() -> ServiceStatus:
    broker = mqtt.configured_broker()
    if broker is None:
        return ServiceStatus("mqtt", True, "not_configured", _("no broker configured (demo mode)"))
    return _timed("mqtt", str(broker), lambda: mqtt.ping(broker))


CHECKS = (check_database, check_channel_layer, check_mqtt)


def collect() -> list[ServiceStatus]:
    return [check() for check in CHECKS]


def snapshot() -> dict:
    """What the home page shows, JSON-ready."""
    statuses = collect()
    return {"ok": all(s.ok for s in statuses), "services": [s.as_dict() for s in statuses]}


async def asnapshot() -> dict:
    # thread_sensitive=False: the broker check may wait seconds; it must not hold the
    # thread that every other database call of this process waits for.
    return await sync_to_async(_snapshot_closing_connection, thread_sensitive=False)()


def _snapshot_closing_connection() -> dict:
    try:
        return snapshot()
    finally:
        connection.close()
