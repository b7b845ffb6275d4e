"""The analyst's review of counts, and the batches that take reviewed counts to FlowTrack: the
one place counts change after the edge reported them.

Counts arrive *pending*. An analyst (permission `traffic.validate_counts`, checked by the views
and the API) reviews a range and:
- validates counts (pending or rejected → validated; a corrected count stays corrected),
- corrects one (a new value and a reason; `original_count` keeps what the camera counted),
- rejects counts (with an optional reason; they are never sent).
Counts already in a FlowTrack batch are never touched again: range actions skip them (and say
how many), `correct` refuses.

`queue_batch` puts the validated and corrected counts of a range that are in no batch yet into
a new SyncBatch with FlowTrack's JSON (see `batch_payload`); flowtrack.py delivers it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Count, CountStatus, Intersection, SyncBatch
from .selectors import range_counts, zone_of

REVIEWED = (CountStatus.VALIDATED, CountStatus.CORRECTED)


class ReviewRefused(Exception):
    """The action cannot be done (a message for people, and a short code for the API)."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Reviewed:
    changed: int  # counts whose status (or value) changed
    batched: int  # counts left alone: already in a FlowTrack batch


def validate(counts: QuerySet[Count], user) -> Reviewed:
    """Mark the counts validated (pending and rejected ones; corrected ones stay corrected)."""
    with transaction.atomic():
        locked, batched = _lock(counts)
        todo = locked.filter(status__in=[CountStatus.PENDING, CountStatus.REJECTED])
        changed = todo.update(
            status=CountStatus.VALIDATED, reviewed_by=user, reviewed_at=timezone.now(), reason=""
        )
    return Reviewed(changed, batched)


def reject(counts: QuerySet[Count], reason: str, user) -> Reviewed:
    """Mark the counts rejected (wrong: never sent to FlowTrack). A corrected count goes back
    to what the camera counted, so that validating it again means the camera's number."""
    reason = (reason or "").strip()[:300]
    now = timezone.now()
    with transaction.atomic():
        locked, batched = _lock(counts)
        todo = list(locked.exclude(status=CountStatus.REJECTED))
        for count in todo:
            count.count = count.original_count
            count.status, count.reviewed_by, count.reviewed_at = CountStatus.REJECTED, user, now
            count.reason = reason
        fields = ["count", "status", "reviewed_by", "reviewed_at", "reason"]
        Count.objects.bulk_update(todo, fields)
    return Reviewed(len(todo), batched)


def correct(count: Count, new_value: int, reason: str, user) -> Count:
    """Set the number of vehicles of one count, with the reason (required); the camera's
    number stays in `original_count`."""
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused(_("Say why the count is corrected."), "reason_required")
    if not isinstance(new_value, int) or isinstance(new_value, bool) or new_value < 0:
        raise ReviewRefused(_("A count is a whole number, 0 or more."), "invalid")
    with transaction.atomic():
        count = Count.objects.select_for_update().get(pk=count.pk)
        if count.sync_batch_id is not None:
            raise ReviewRefused(
                _("This count is already in a FlowTrack batch: it cannot change."), "batched"
            )
        count.count, count.reason = new_value, reason[:300]
        count.status, count.reviewed_by, count.reviewed_at = (
            CountStatus.CORRECTED,
            user,
            timezone.now(),
        )
        count.save(update_fields=["count", "reason", "status", "reviewed_by", "reviewed_at"])
    return count


def _lock(counts: QuerySet[Count]) -> tuple[QuerySet[Count], int]:
    # Locked so that a batch being queued and a review of the same counts do not interleave.
    pks = list(counts.select_for_update(of=("self",)).order_by().values_list("pk", flat=True))
    chosen = Count.objects.filter(pk__in=pks)
    batched = chosen.filter(sync_batch__isnull=False).count()
    return chosen.filter(sync_batch__isnull=True), batched


# --- batches --------------------------------------------------------------------------------


def queue_batch(intersection: Intersection, start: datetime, end: datetime, user) -> SyncBatch:
    """A new FlowTrack batch of the range's validated and corrected counts that are in no
    batch yet. Refused while the range has pending counts (an analyst decides them first) or
    when there is nothing to send."""
    with transaction.atomic():
        in_range = range_counts(intersection=intersection, start=start, end=end)
        pending = in_range.filter(status=CountStatus.PENDING).count()
        if pending:
            raise ReviewRefused(
                ngettext(
                    "%(count)d count of this range is still pending: review it first.",
                    "%(count)d counts of this range are still pending: review them first.",
                    pending,
                )
                % {"count": pending},
                "pending",
            )
        counts = list(
            in_range.filter(status__in=REVIEWED, sync_batch__isnull=True)
            .select_for_update(of=("self",))
            .order_by("start", "line__camera__name", "line__name", "direction", "vehicle_class")
        )
        if not counts:
            raise ReviewRefused(_("Nothing to send: no reviewed counts in this range."), "empty")
        batch = SyncBatch(intersection=intersection, start=start, end=end, created_by=user)
        batch.payload = batch_payload(batch, counts)
        batch.save()
        claimed = Count.objects.filter(
            pk__in=[c.pk for c in counts], sync_batch__isnull=True
        ).update(sync_batch=batch)
        if claimed != len(counts):  # another batch took some meanwhile
            raise ReviewRefused(_("These counts were just queued by someone else."), "conflict")
    return batch


def batch_payload(batch: SyncBatch, counts: list[Count]) -> dict:
    """FlowTrack's JSON for a batch:

    {"batch": "<uuid: the idempotency key>", "source": "flowsuite",
     "intersection": {"flowtrack_id": str, "name": str, "time_zone": str},
     "from": "<ISO 8601>", "to": "<ISO 8601>", "created_at": "<ISO 8601>",
     "intervals": [{"start", "end", "camera": str, "line": str, "direction": "in"|"out",
                    "direction_label": str, "class": str, "count": int,
                    "corrected": bool, "original_count": int, "reason": str}]}
    (`original_count` and `reason` only for corrected counts.)
    """
    intersection = batch.intersection
    zone = zone_of(intersection)
    intervals = []
    for count in counts:
        line = count.line
        label = line.in_label if count.direction == "in" else line.out_label
        item = {
            "start": count.start.astimezone(zone).isoformat(),
            "end": count.end.astimezone(zone).isoformat(),
            "camera": line.camera.name,
            "line": line.name,
            "direction": count.direction,
            "direction_label": label,
            "class": count.vehicle_class,
            "count": count.count,
            "corrected": count.status == CountStatus.CORRECTED,
        }
        if item["corrected"]:
            item["original_count"], item["reason"] = count.original_count, count.reason
        intervals.append(item)
    return {
        "batch": str(batch.key),
        "source": "flowsuite",
        "intersection": {
            "flowtrack_id": intersection.flowtrack_id,
            "name": intersection.name,
            "time_zone": zone.key,
        },
        "from": batch.start.astimezone(zone).isoformat(),
        "to": batch.end.astimezone(zone).isoformat(),
        "created_at": timezone.now().astimezone(zone).isoformat(),
        "intervals": intervals,
    }
