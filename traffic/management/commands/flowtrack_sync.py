from django.core.management.base import BaseCommand

from flowsuite.commands import repeat_until_stopped
from traffic import flowtrack
from traffic.selectors import flowtrack_configured


class Command(BaseCommand):
    help = (
        "Send the queued FlowTrack batches (validated counts) to FLOWTRACK_URL and/or "
        "FLOWTRACK_MQTT_TOPIC, retrying with backoff while FlowTrack is away, until "
        "SIGTERM/SIGINT (the energy worker does it too). --once: one pass, then exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")

    def handle(self, *args, once=False, interval=5.0, **options):
        if not flowtrack_configured():
            self.stderr.write("FlowTrack not configured (FLOWTRACK_URL, FLOWTRACK_MQTT_TOPIC)")
        if once:
            self.stdout.write(self.report(flowtrack.deliver_due()))
            return
        repeat_until_stopped(self.deliver, interval)

    def deliver(self):
        done = flowtrack.deliver_due()
        if any(done.values()):
            self.stdout.write(self.report(done))

    @staticmethod
    def report(done: dict) -> str:
        return "sent {sent}, to retry {retry}, refused {failed}".format(**done)
