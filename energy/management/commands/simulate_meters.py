import json
import signal
import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from energy import ingest, simulator
from flowsuite.mqtt import configured_broker, make_client


class Command(BaseCommand):
    help = (
        "Simulated ESP32 meters: publish realistic telemetry to the broker (MQTT_URL), or with "
        "no broker (or --direct) feed the ingest service directly (demo mode). Creates the "
        "nodes sim-01, sim-02... for --owner when missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--nodes", type=int, default=3, help="How many meters.")
        parser.add_argument(
            "--rate", type=float, default=0.5, help="Readings per second of each meter."
        )
        parser.add_argument("--owner", default="operator@flowsuite.demo", help="Their owner.")
        parser.add_argument("--duration", type=float, default=0, help="Seconds; 0: until ^C.")
        parser.add_argument(
            "--backfill", type=float, default=0, help="First store this many days of history."
        )
        parser.add_argument(
            "--backfill-step", type=int, default=60, help="Seconds between history readings."
        )
        parser.add_argument("--direct", action="store_true", help="Skip the broker.")
        parser.add_argument("--prefix", default=simulator.SIMULATED_PREFIX)

    def handle(self, *args, **options):
        owner = User.objects.filter(email=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user {options['owner']} (run seed_demo, or pass --owner).")
        if options["rate"] <= 0 or options["nodes"] < 1:
            raise CommandError("--rate and --nodes must be positive.")
        interval = 1 / options["rate"]
        zone = ZoneInfo(owner.time_zone or settings.TIME_ZONE)
        meter_list = simulator.meters(options["nodes"], options["prefix"])
        simulator.ensure_nodes(meter_list, owner, interval)
        now = timezone.now()
        if options["backfill"]:
            start = now - timedelta(days=options["backfill"])
            step = timedelta(seconds=options["backfill_step"])
            stored = 0
            for batch in simulator.backfill(meter_list, start, now, step, zone):
                stored += ingest.ingest(batch, source="simulator").accepted
            self.stdout.write(f"history: {stored} readings since {start:%Y-%m-%d %H:%M}")
        broker = None if options["direct"] else configured_broker()
        send = self._publisher(broker) if broker else self._ingest
        where = f"to {broker}" if broker else "into the ingest service"
        self.stdout.write(
            f"{len(meter_list)} meters, one reading each every {interval:g} s, {where}; ^C stops"
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        deadline = time.monotonic() + options["duration"] if options["duration"] else None
        sent = 0
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            tick = time.monotonic()
            batch = simulator.readings_at(meter_list, timezone.now(), zone)
            send(batch)
            sent += len(batch)
            stop.wait(max(0.0, interval - (time.monotonic() - tick)))
        send(None)
        self.stdout.write(f"sent {sent} readings")

    def _ingest(self, batch):
        if batch:
            ingest.ingest(batch, source="simulator")

    def _publisher(self, broker):
        client = make_client(broker, purpose="simulator")
        client.connect(broker.host, broker.port, keepalive=30)
        client.loop_start()
        announced = set()

        def send(batch):
            if batch is None:
                for device_id in announced:
                    client.publish(_topic(device_id, "status"), "offline", qos=1, retain=True)
                time.sleep(0.2)
                client.disconnect()
                client.loop_stop()
                return
            for device_id, reading in batch:
                if device_id not in announced:
                    client.publish(_topic(device_id, "status"), "online", qos=1, retain=True)
                    announced.add(device_id)
                client.publish(_topic(device_id, "telemetry"), json.dumps(reading), qos=1)

        return send


def _topic(device_id: str, kind: str) -> str:
    return f"flowsuite/energy/{device_id}/{kind}"
