"""The MQTT broker as configured by MQTT_URL (and MQTT_CA_FILE): parse it, connect to it."""

import ssl
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_url(cls, url: str, ca_file: str = "") -> "Broker":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ImproperlyConfigured(
                f"MQTT_URL must be mqtt://host[:port] or mqtts://...: {url!r}"
            )
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=ca_file or None,
        )

    def __str__(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def configured_broker() -> Broker | None:
    """The broker of MQTT_URL, or None when no broker is configured (demo mode)."""
    if not settings.MQTT_URL:
        return None
    return Broker.from_url(settings.MQTT_URL, settings.MQTT_CA_FILE)


def make_client(
    broker: Broker,
    *,
    purpose: str,
    clean_start: bool = True,
    client_id: str = "",
    protocol: int = mqtt.MQTTv311,
    **kwargs,
) -> mqtt.Client:
    """A paho-mqtt 2 client (callback API v2) set up for `broker`, not yet connected.

    A persistent session (clean_start=False) needs a stable `client_id`: the broker keeps the
    session, and the messages published while the client is away, under that id.
    """
    client_id = client_id or f"{settings.MQTT_CLIENT_ID_PREFIX}-{purpose}-{uuid.uuid4().hex[:8]}"
    session = {"clean_session": clean_start} if protocol != mqtt.MQTTv5 else {}
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        **session,
        **kwargs,
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=broker.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    return client


def ping(broker: Broker, timeout: float = 3.0) -> None:
    """Connect and disconnect; raises ConnectionError with the reason if the broker refuses."""
    client = make_client(broker, purpose="ping")
    connected = threading.Event()
    outcome = {}

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["reason"] = reason_code
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=10)
        client.loop_start()
        if not connected.wait(timeout):
            raise ConnectionError("no answer from the broker")
        if outcome["reason"].is_failure:
            raise ConnectionError(f"refused: {outcome['reason']}")
    except OSError as exc:
        raise ConnectionError(str(exc) or exc.__class__.__name__) from exc
    finally:
        client.disconnect()
        client.loop_stop()
