from django.conf import settings
from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from surveillance import retention

WORDS = {
    ("remove", False): "removed",
    ("remove", True): "would remove",
    ("remake", False): "made again",
    ("remake", True): "would make again",
}


class Command(BaseCommand):
    help = (
        "Tidy the motion snapshots: remove files no snapshot names and snapshots or events "
        "whose files are gone, then events older than --days and the oldest events while the "
        "snapshots use more than --max-disk-mb. Reports what it did; run it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=settings.SURVEILLANCE_RETENTION_DAYS,
            help="keep events this many days (0: for ever; default SURVEILLANCE_RETENTION_DAYS)",
        )
        parser.add_argument(
            "--max-disk-mb",
            type=int,
            default=settings.SURVEILLANCE_MAX_DISK_MB,
            help="keep at most this many MB of snapshots (0: no cap; SURVEILLANCE_MAX_DISK_MB)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be removed, remove nothing"
        )

    def handle(self, *args, days, max_disk_mb, dry_run, **options):
        now = timezone.now()
        files = retention.files_on_disk()
        steps = [
            retention.remove_orphan_files(files, now=now, dry_run=dry_run),
            *retention.remove_records_without_files(files, dry_run=dry_run),
            retention.remove_older_than(days, files, now=now, dry_run=dry_run),
            retention.enforce_disk_cap(max_disk_mb, files, dry_run=dry_run),
        ]
        for step in steps:
            self.stdout.write(
                f"{WORDS[step.action, dry_run]} {step.count} {step.label}"
                + (f" ({filesizeformat(step.bytes)})" if step.action == "remove" else "")
            )
        size = filesizeformat(retention.total_bytes(files))
        after = "would then use" if dry_run else "now use"
        self.stdout.write(f"snapshots {after} {size} in {len(files)} files")
