"""`manage.py surveillance_cleanup`: orphaned files, records without files, retention by age
and by disk use, each reported, and a dry run that changes nothing."""

import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from PIL import Image

from surveillance import events
from surveillance.models import MotionEvent, Snapshot

from .device_helpers import event_fields, new_camera, picture

pytestmark = [pytest.mark.backend, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def cleanup(django_capture_on_commit_callbacks):
    """Run the command as cron would: files go once the deletes commit."""

    def run(*args) -> str:
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("surveillance_cleanup", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def camera():
    return new_camera()[0]


def motion(camera, days_ago: float = 0, pictures=None) -> MotionEvent:
    started = datetime.now(UTC) - timedelta(days=days_ago, minutes=1)
    fields = event_fields(started_at=started)
    return events.record_event(camera, fields, pictures or [picture()])[0]


def files_in(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def stray_file(media, name: str, age: timedelta) -> str:
    path = media / "surveillance" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 1000)
    stamp = time.time() - age.total_seconds()
    os.utime(path, (stamp, stamp))
    return f"surveillance/{name}"


def test_files_no_snapshot_names_are_removed_once_old_enough(media, camera, cleanup):
    event = motion(camera)
    kept = files_in(media)
    old = stray_file(media, "2026/01/02/lost.jpg", timedelta(hours=2))
    young = stray_file(media, "2026/01/03/uploading.jpg", timedelta(minutes=1))

    out = cleanup("--days", "0")

    assert "removed 1 orphaned files (1000" in out
    assert files_in(media) == kept | {young}
    assert old not in files_in(media)
    assert not (media / "surveillance/2026/01/02").exists()  # its empty folder too
    assert Snapshot.objects.filter(event=event).count() == 1


def test_a_dry_run_reports_and_removes_nothing(media, camera, cleanup):
    motion(camera, days_ago=40)
    stray_file(media, "lost.png", timedelta(days=1))
    before = files_in(media)

    out = cleanup("--dry-run", "--days", "30")

    assert "would remove 1 orphaned files" in out
    assert "would remove 1 events older than 30 days" in out
    assert files_in(media) == before
    assert MotionEvent.objects.count() == 1


def test_records_whose_files_are_gone_are_removed_and_missing_thumbnails_made_again(
    media, camera, cleanup
):
    gone = motion(camera)
    half = motion(camera, pictures=[picture(), picture()])
    thumbless = motion(camera)
    (media / gone.snapshots.get().image.name).unlink()
    (media / half.snapshots.get(position=1).image.name).unlink()
    lost_thumbnail = thumbless.snapshots.get().thumbnail.name
    (media / lost_thumbnail).unlink()

    out = cleanup("--days", "0")

    assert "removed 2 snapshots whose picture is missing" in out
    assert "removed 1 events left without snapshots" in out
    assert "made again 1 missing thumbnails" in out
    assert set(MotionEvent.objects.all()) == {half, thumbless}
    assert half.snapshots.count() == 1
    rebuilt = thumbless.snapshots.get().thumbnail.name
    with Image.open(media / rebuilt) as thumbnail:
        assert thumbnail.format == "JPEG"
    named = {n for pair in Snapshot.objects.values_list("image", "thumbnail") for n in pair}
    assert files_in(media) == named  # the lost snapshots' thumbnails went too


def test_events_past_the_retention_days_are_removed_with_their_files(
    media, camera, cleanup, settings
):
    settings.SURVEILLANCE_RETENTION_DAYS = 30
    old = motion(camera, days_ago=31)
    recent = motion(camera, days_ago=29)
    old_files = {old.snapshots.get().image.name, old.snapshots.get().thumbnail.name}

    out = cleanup()  # the default comes from the setting

    assert "removed 1 events older than 30 days" in out
    assert list(MotionEvent.objects.all()) == [recent]
    assert not old_files & files_in(media)


def noise(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_oldest_events_go_first_to_stay_under_the_disk_cap(media, camera, cleanup):
    big = [motion(camera, days_ago=days, pictures=[noise(420)]) for days in (3, 2, 1)]
    assert sum(p.stat().st_size for p in media.rglob("*") if p.is_file()) > 1.4 * 1024 * 1024

    out = cleanup("--days", "0", "--max-disk-mb", "1")

    assert "removed 2 events, the oldest, to stay under 1 MB" in out
    assert list(MotionEvent.objects.all()) == [big[2]]
    assert sum(p.stat().st_size for p in media.rglob("*") if p.is_file()) <= 1024 * 1024
    assert "snapshots now use" in out
