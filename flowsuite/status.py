"""Is the system working? One check per service, used by the home page, /healthz and
`manage.py check_services`."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from . import mqtt


@dataclass
class ServiceStatus:
    service: str  # "database", "channel_layer", "mqtt"
    ok: bool
    state: str  # "ok", "down" or "not_configured"
    # Technical and untranslated, like the services' own errors: one snapshot is pushed to
    # every watcher, whatever their language. The page translates `state`.
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
    if not settings.REDIS_URL:
        # The in-memory layer lives in this process: it is up whenever the process is.
        return ServiceStatus("channel_layer", True, "ok", "in-memory (one process)", 0.0)

    def probe():
        with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3) as client:
            client.ping()

    return _timed("channel_layer", f"redis {_without_password(settings.REDIS_URL)}", probe)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def check_mqtt() -> ServiceStatus:
    broker = mqtt.configured_broker()
    if broker is None:
        return ServiceStatus("mqtt", True, "not_configured", "MQTT_URL not set (demo mode)")
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
