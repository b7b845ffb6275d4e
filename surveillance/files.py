"""A snapshot's picture as an HTTP response: the web pages and the API serve them the same way,
each behind its own permission check (there is no public media URL)."""

from django.http import FileResponse, Http404

from .models import Snapshot

KINDS = {"image", "thumbnail"}


def snapshot_response(snapshot: Snapshot, kind: str, *, download: bool = False) -> FileResponse:
    file = getattr(snapshot, kind)
    if not file:
        raise Http404
    try:
        handle = file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    content_type = snapshot.content_type if kind == "image" else "image/jpeg"
    name = f"event-{snapshot.event_id}-{snapshot.position}.{file.name.rsplit('.', 1)[-1]}"
    response = FileResponse(
        handle, content_type=content_type, as_attachment=download, filename=name
    )
    # The names are unique and never reused: the browser may keep them, but only for itself.
    response["Cache-Control"] = "private, max-age=86400"
    return response
