from django.core.management.base import BaseCommand

from flowsuite.commands import repeat_until_stopped
from surveillance import notifications


class Command(BaseCommand):
    help = (
        "Send the motion events' webhook notices that are due, with retries (the energy worker "
        "does it too: run this where neither mqtt_bridge nor energy_watchdog runs). "
        "--once: one pass, then exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")

    def handle(self, *args, once=False, interval=5.0, **options):
        if once:
            self.stdout.write(self.report(notifications.deliver_due()))
            return
        repeat_until_stopped(self.deliver, interval)

    def deliver(self):
        done = notifications.deliver_due()
        if any(done.values()):
            self.stdout.write(self.report(done))

    @staticmethod
    def report(done: dict) -> str:
        return "sent {sent}, to retry {retry}, given up {failed}".format(**done)
