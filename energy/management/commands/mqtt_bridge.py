import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from energy.bridge import Bridge
from flowsuite.mqtt import configured_broker


class Command(BaseCommand):
    help = (
        "Run the MQTT bridge: meters' telemetry and status from the broker (MQTT_URL) into "
        "the energy ingest service. Stops cleanly, flushing what it holds, on SIGTERM/SIGINT."
    )
    # The system checks load every URL and view (about 20 MB the bridge would keep for its
    # whole life, and it serves none); `check`, `migrate` and the site's start run them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, help="Flush at this many.")
        parser.add_argument(
            "--flush-interval", type=float, default=0.02, help="Flush at least this often (s)."
        )
        parser.add_argument(
            "--stats-interval", type=float, default=60, help="Log the counters this often (s)."
        )
        parser.add_argument(
            "--client-id",
            default="",
            help="The persistent session's id (default <MQTT_CLIENT_ID_PREFIX>-energy-bridge); "
            "each bridge needs its own.",
        )
        parser.add_argument(
            "--share-group",
            default=settings.ENERGY_MQTT_SHARE_GROUP,
            help="Subscribe with an MQTT v5 shared subscription of this group, so that "
            "several bridges split the messages (default ENERGY_MQTT_SHARE_GROUP).",
        )

        parser.add_argument(
            "--worker-interval",
            type=float,
            default=5,
            help="Run the energy worker (offline checks, notifications, automations) this "
            "often (s), in a thread of its own.",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Leave the worker to energy_watchdog."
        )

    def handle(self, *args, **options):
        broker = configured_broker()
        if broker is None:
            raise CommandError("MQTT_URL is not set: the bridge needs a broker.")
        bridge = Bridge(
            broker,
            batch_size=options["batch_size"],
            flush_interval=options["flush_interval"],
            stats_interval=options["stats_interval"],
            client_id=options["client_id"],
            share_group=options["share_group"],
            legacy_device_id=settings.ENERGY_LEGACY_DEVICE_ID,
            worker_interval=0 if options["no_worker"] else options["worker_interval"],
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: bridge.stop())
        bridge.run()
