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
    read_ahead: bool = False,
    **kwargs,
) -> mqtt.Client:
    """A paho-mqtt 2 client (callback API v2) set up for `broker`, not yet connected.

    A persistent session (clean_start=False) needs a stable `client_id`: the broker keeps the
    session, and the messages published while the client is away, under that id.
    `read_ahead`: a ReadAheadClient, for a subscriber that receives many messages.
    """
    client_id = client_id or f"{settings.MQTT_CLIENT_ID_PREFIX}-{purpose}-{uuid.uuid4().hex[:8]}"
    session = {"clean_session": clean_start} if protocol != mqtt.MQTTv5 else {}
    client = (ReadAheadClient if read_ahead else mqtt.Client)(
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


# --- Reading ahead ------------------------------------------------------------------------


class ReadAheadSocket:
    """The broker's socket, read 64 KB at a time, with what paho writes in one go gathered.

    paho reads a packet with a system call for its first byte, one per byte of its length and
    one for its body, and acknowledges each QoS 1 message with a send of its own: at tens of
    thousands of messages a second those calls were 40 % of a subscriber's CPU. Here they
    are served from memory. `pending()` tells paho's loop that bytes are waiting here (as an
    SSL socket's does), so it reads them without waiting in select().
    """

    BUFFER = 65536

    def __init__(self, sock):
        self._sock = sock
        self._data = b""
        self._read = 0
        self._unsent = bytearray()
        self._lock = threading.Lock()
        self.gathering = False

    def recv(self, size: int) -> bytes:
        available = len(self._data) - self._read
        if not available:
            data = self._sock.recv(self.BUFFER)  # BlockingIOError, SSLWantReadError: to paho
            if len(data) <= size:
                return data
            self._data, self._read, available = data, 0, len(data)
        size = min(size, available)
        self._read += size
        return self._data[self._read - size : self._read]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._data) - self._read + inner

    def send(self, data) -> int:
        with self._lock:
            if self.gathering or self._unsent:  # never ahead of what waits
                self._unsent += data
                return len(data)
        return self._sock.send(data)

    def flush(self) -> None:
        """Send what was gathered, as far as the socket takes it now; the rest stays (paho's
        loop asks to write while `unsent`)."""
        with self._lock:
            while self._unsent:
                try:
                    sent = self._sock.send(self._unsent)
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    return
                except OSError:  # the connection is gone: paho's next read says so
                    self._unsent.clear()
                    return
                del self._unsent[:sent]

    def close(self) -> None:
        self.flush()  # paho closes right after "writing" its DISCONNECT
        self._sock.close()

    @property
    def unsent(self) -> bool:
        return bool(self._unsent)

    def __getattr__(self, name):  # fileno, close, setblocking...: the socket's
        return getattr(self._sock, name)


class ReadAheadClient(mqtt.Client):
    """paho's client on a ReadAheadSocket: each read handles every packet already received
    (up to MAX_PACKETS), each write sends every queued packet (the PUBACKs) in one call."""

    MAX_PACKETS = 1000

    def _create_socket(self):  # paho 2.2's, pinned in requirements.txt
        return ReadAheadSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        sock = self._sock
        rc = super().loop_read(max_packets)
        for _ in range(self.MAX_PACKETS):
            if rc != mqtt.MQTT_ERR_SUCCESS or self._sock is not sock or not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc

    def loop_write(self) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if not isinstance(sock, ReadAheadSocket):
            return super().loop_write()
        sock.gathering = True
        try:
            return super().loop_write()
        finally:
            sock.gathering = False
            sock.flush()

    def want_write(self) -> bool:
        return super().want_write() or (
            isinstance(self._sock, ReadAheadSocket) and self._sock.unsent
        )
