"""Deleting events removes their files too, once the rows are gone for good."""

from django.db import transaction

from .models import MotionEvent, Snapshot


def delete_events(events) -> int:
    """Delete the events of a queryset with their snapshots' files; return how many."""
    snapshots = Snapshot.objects.filter(event__in=events)
    names = [name for pair in snapshots.values_list("image", "thumbnail") for name in pair if name]
    with transaction.atomic():
        count = (
            MotionEvent.objects.filter(pk__in=events.values("pk"))
            .delete()[1]
            .get(MotionEvent._meta.label, 0)
        )
        # The files go only if the rows did: a rolled-back delete keeps both.
        transaction.on_commit(lambda: _remove_files(names))
    return count


def _remove_files(names: list[str]) -> None:
    storage = Snapshot._meta.get_field("image").storage
    for name in names:
        storage.delete(name)
