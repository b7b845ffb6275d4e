from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from energy import rollups


class Command(BaseCommand):
    help = (
        "Delete raw energy readings older than ENERGY_RAW_RETENTION_DAYS and minute rollups "
        "older than ENERGY_MINUTE_RETENTION_DAYS; hour and day rollups stay (run it daily)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--raw-days", type=int, default=settings.ENERGY_RAW_RETENTION_DAYS)
        parser.add_argument(
            "--minute-days", type=int, default=settings.ENERGY_MINUTE_RETENTION_DAYS
        )

    def handle(self, *args, **options):
        deleted = rollups.prune(timezone.now(), options["raw_days"], options["minute_days"])
        for label, count in deleted.items():
            self.stdout.write(f"deleted {count} {label}")
