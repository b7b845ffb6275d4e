from django.core.management.base import BaseCommand, CommandError

from flowsuite import status


class Command(BaseCommand):
    help = (
        "Check the database, the channel layer and the MQTT broker: a line each; "
        "exit 1 if any is down."
    )

    requires_system_checks = []

    def handle(self, *args, **options):
        statuses = status.collect()
        for service in statuses:
            latency = f" ({service.latency_ms} ms)" if service.latency_ms is not None else ""
            line = f"{service.service:14} {service.state:15} {service.detail}{latency}"
            self.stdout.write(self.style.SUCCESS(line) if service.ok else self.style.ERROR(line))
        down = [s.service for s in statuses if not s.ok]
        if down:
            raise CommandError(f"down: {', '.join(down)}", returncode=1)
