"""Keeping the snapshot store consistent and bounded (`manage.py surveillance_cleanup`).

Each step takes the files on disk (name → size, modification time) and a dry-run flag, removes
what it must (or only counts it), keeps the file map current, and returns what it did:
- files under MEDIA_ROOT/surveillance that no snapshot names (older than GRACE: a younger
  one may belong to an upload whose transaction has not committed yet);
- snapshots whose picture is gone (a missing thumbnail is made again from the picture), then
  events left with no snapshot;
- events older than the retention days;
- the oldest events while the snapshots use more than the disk cap.
"""

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Q

from .deletion import delete_events
from .models import MotionEvent, Snapshot
from .uploads import ImageRejected, check_image

ROOT = "surveillance"
GRACE = timedelta(hours=1)
CHUNK = 500


@dataclass
class DiskFile:
    size: int
    modified: float


@dataclass
class Step:
    label: str
    action: str = "remove"  # or "remake"
    count: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


def _storage():
    return Snapshot._meta.get_field("image").storage


def files_on_disk() -> dict[str, DiskFile]:
    """Every file under MEDIA_ROOT/surveillance, by its storage name."""
    storage = _storage()
    top = storage.path(ROOT)
    files = {}
    for folder, _, names in os.walk(top):
        for name in names:
            full = os.path.join(folder, name)
            try:
                stat = os.stat(full)
            except FileNotFoundError:  # removed meanwhile
                continue
            relative = os.path.relpath(full, storage.path("")).replace(os.sep, "/")
            files[relative] = DiskFile(stat.st_size, stat.st_mtime)
    return files


def total_bytes(files: dict[str, DiskFile]) -> int:
    return sum(f.size for f in files.values())


def remove_orphan_files(files: dict[str, DiskFile], *, now: datetime, dry_run: bool) -> Step:
    step = Step("orphaned files")
    named = set()
    for image, thumbnail in Snapshot.objects.values_list("image", "thumbnail").iterator():
        named.update((image, thumbnail))
    before = (now - GRACE).timestamp()
    for name in [n for n, f in files.items() if n not in named and f.modified < before]:
        step.count += 1
        step.bytes += files.pop(name).size
        if not dry_run:
            _storage().delete(name)
    if not dry_run:
        _remove_empty_folders()
    return step


def _remove_empty_folders() -> None:
    top = _storage().path(ROOT)
    for folder, _, _ in os.walk(top, topdown=False):  # children first: their parents empty out
        if folder != top and not os.listdir(folder):
            with contextlib.suppress(OSError):  # a file arrived meanwhile
                os.rmdir(folder)


def remove_records_without_files(files: dict[str, DiskFile], *, dry_run: bool) -> list[Step]:
    """Snapshots whose picture is missing, and events then left with none."""
    lost, thumbs = Step("snapshots whose picture is missing"), Step("missing thumbnails", "remake")
    missing = []
    for snapshot in Snapshot.objects.only("pk", "event_id", "image", "thumbnail").iterator():
        if snapshot.image.name not in files:
            missing.append(snapshot)
        elif snapshot.thumbnail.name not in files:
            thumbs.count += 1
            if not dry_run:
                _make_thumbnail_again(snapshot, files)
    lost.count = len(missing)
    for snapshot in missing:
        lost.bytes += files.pop(snapshot.thumbnail.name, DiskFile(0, 0)).size
    if missing and not dry_run:
        _delete_snapshots(missing)
    empty = Step("events left without snapshots")
    missing_ids = {s.pk for s in missing}
    left = Count("snapshots")
    if dry_run and missing_ids:  # the missing ones are still in the database: do not count them
        left = Count("snapshots", filter=~Q(snapshots__pk__in=missing_ids))
    events = MotionEvent.objects.annotate(left=left).filter(left=0)
    empty.count = events.count()
    if empty.count and not dry_run:
        delete_events(events)
    return [lost, thumbs, empty]


def _make_thumbnail_again(snapshot: Snapshot, files: dict[str, DiskFile]) -> None:
    try:
        with snapshot.image.open("rb") as image:
            checked = check_image(image.read())
    except (ImageRejected, OSError):
        return  # a picture we cannot read: left for a person to look at
    snapshot.thumbnail.save("thumbnail.jpg", ContentFile(checked.thumbnail), save=False)
    Snapshot.objects.filter(pk=snapshot.pk).update(thumbnail=snapshot.thumbnail.name)
    files[snapshot.thumbnail.name] = DiskFile(len(checked.thumbnail), 0)


def _delete_snapshots(snapshots: list[Snapshot]) -> None:
    names = [s.thumbnail.name for s in snapshots if s.thumbnail.name]
    with transaction.atomic():
        Snapshot.objects.filter(pk__in=[s.pk for s in snapshots]).delete()
        transaction.on_commit(lambda: [_storage().delete(name) for name in names])


def remove_older_than(
    days: int, files: dict[str, DiskFile], *, now: datetime, dry_run: bool
) -> Step:
    step = Step(f"events older than {days} days")
    if days <= 0:
        return step
    events = MotionEvent.objects.filter(started_at__lt=now - timedelta(days=days))
    ids = list(events.values_list("pk", flat=True))
    step.count, step.bytes = len(ids), _forget_files(ids, files)
    if not dry_run:
        _delete_in_chunks(ids)
    return step


def enforce_disk_cap(max_mb: int, files: dict[str, DiskFile], *, dry_run: bool) -> Step:
    """Remove the oldest events until the snapshots use at most `max_mb` megabytes."""
    step = Step(f"events, the oldest, to stay under {max_mb} MB")
    if max_mb <= 0:
        return step
    excess = total_bytes(files) - max_mb * 1024 * 1024
    ids = []
    rows = Snapshot.objects.order_by("event__started_at", "event_id").values_list(
        "event_id", "image", "thumbnail"
    )
    for event_id, image, thumbnail in rows.iterator():
        if step.bytes >= excess and event_id not in ids[-1:]:
            break
        if event_id not in ids[-1:]:
            ids.append(event_id)
        step.bytes += sum(files[n].size for n in (image, thumbnail) if n in files)
    step.count = len(ids)
    _forget_files(ids, files)
    if not dry_run:
        _delete_in_chunks(ids)
    return step


def _forget_files(event_ids: list[int], files: dict[str, DiskFile]) -> int:
    freed = 0
    for start in range(0, len(event_ids), CHUNK):
        rows = Snapshot.objects.filter(event_id__in=event_ids[start : start + CHUNK])
        for image, thumbnail in rows.values_list("image", "thumbnail"):
            freed += sum(files.pop(n).size for n in (image, thumbnail) if n in files)
    return freed


def _delete_in_chunks(event_ids: list[int]) -> None:
    for start in range(0, len(event_ids), CHUNK):
        delete_events(MotionEvent.objects.filter(pk__in=event_ids[start : start + CHUNK]))
