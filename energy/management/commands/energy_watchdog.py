from django.core.management.base import BaseCommand

from energy import worker
from flowsuite.commands import repeat_until_stopped


class Command(BaseCommand):
    help = (
        "Run the energy worker (offline and budget checks, notifications, automations) for "
        "set-ups without an MQTT bridge, which runs it too. --once: one pass, then exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=worker.INTERVAL)

    def handle(self, *args, **options):
        if options["once"]:
            self.stdout.write(str(worker.tick()))
            return
        repeat_until_stopped(worker.tick, options["interval"])
