"""The bridge's receiving process: paho's MQTT client, and nothing else.

The bridge (energy.bridge) starts it as `python -m energy.receiver FD`, so it has a core and
a GIL of its own: paho reading the socket and acknowledging every QoS 1 message costs about as
much CPU as storing the message, and in one process the two took turns. Here it only collects
(topic, payload, received time) and sends them to the bridge in chunks over a pipe, with what
happens to the connection (connected, subscribed, disconnected) as events for the bridge's log.

No Django here: the process never sets Django up. It reads its subscription as one JSON line
on stdin (not in its arguments, which `ps` shows: the broker's password is in it), then waits
on stdin for "stop" (or EOF, when the bridge is gone) while it forwards.

When the bridge falls behind, the pipe fills, the chunks wait here, and past `backlog`
messages paho's callback waits too: paho stops reading the socket and the broker keeps the rest
of the burst (QoS 1, its queue), so memory stays bounded whatever the meters publish.
"""

import json
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from flowsuite.mqtt import Broker, make_client

SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps a v5 bridge's session while away


@dataclass(frozen=True)
class Subscription:
    broker: Broker
    client_id: str
    topics: tuple[str, ...]
    mqtt_v5: bool = False
    chunk: int = 500  # send at this many messages,
    linger: float = 0.02  # or when the first waited this long (s)
    backlog: int = 1000  # hold at most this many while the bridge is busy

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> "Subscription":
        fields = json.loads(line)
        return cls(**{**fields, "broker": Broker(**fields["broker"]), "topics": fields["topics"]})


class Receiver:
    def __init__(self, subscription: Subscription, out: Connection):
        self.subscription = subscription
        self.out = out
        self.chunk = subscription.chunk
        self.linger = subscription.linger
        self.backlog = subscription.backlog
        self._pending: list[tuple[str, bytes, float]] = []
        self._ready = threading.Condition()
        self._closing = False
        self._send_lock = threading.Lock()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.subscription.mqtt_v5 else mqtt.MQTTv311
        client = make_client(
            self.subscription.broker,
            purpose="energy-bridge",
            clean_start=False,
            client_id=self.subscription.client_id,
            protocol=protocol,
            read_ahead=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _send(self, event: tuple) -> None:
        with self._send_lock:
            self.out.send(event)

    # --- paho's thread ---------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._send(("refused", str(reason_code)))
            return
        self._send(("connected", bool(getattr(flags, "session_present", False))))
        client.subscribe([(topic, 1) for topic in self.subscription.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self._send(("subscribed",))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self._closing:
            self._send(("disconnected", str(reason_code)))

    def _on_message(self, client, userdata, message):
        with self._ready:
            while len(self._pending) >= self.backlog and not self._closing:
                self._ready.wait(0.5)
            self._pending.append((message.topic, message.payload, time.time()))
            if len(self._pending) >= self.chunk:
                self._ready.notify_all()

    # --- the forwarding thread -------------------------------------------------------------

    def forward(self) -> None:
        """Send what paho collected: a chunk as soon as it is full, the rest after `linger`."""
        while True:
            with self._ready:
                if len(self._pending) < self.chunk and not self._closing:
                    self._ready.wait(self.linger)
                messages = self._pending[: self.chunk]
                del self._pending[: self.chunk]
                closing = self._closing
                self._ready.notify_all()
            if messages:
                self._send(("messages", messages))
            if closing and not messages:
                return

    # --- the process's main thread ---------------------------------------------------------

    def run(self, control) -> None:
        forwarder = threading.Thread(target=self.forward, name="forward", daemon=True)
        forwarder.start()
        options = {}
        if self.subscription.mqtt_v5:  # a v5 session outlives the connection only if asked
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY
            options = {"clean_start": False, "properties": properties}
        self._client.connect_async(
            self.subscription.broker.host, self.subscription.broker.port, keepalive=30, **options
        )
        self._client.loop_start()
        control.readline()  # "stop", or EOF: the bridge is gone
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self._client.disconnect()
        self._client.loop_stop()
        forwarder.join()
        self._send(("stopped",))


def main() -> None:
    # The bridge handles Ctrl-C and SIGTERM for both processes: it stops this one when it has
    # flushed, so that nothing received is lost.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subscription = Subscription.from_json(sys.stdin.readline())
    out = Connection(int(sys.argv[1]), readable=False)
    Receiver(subscription, out).run(sys.stdin)
    out.close()


if __name__ == "__main__":
    main()
