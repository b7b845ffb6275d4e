"""A camera's heartbeat: it is online, how its agent is doing, and whether to stream.

Each heartbeat publishes "status" to `surveillance.camera.<id>` (after commit):
    {"camera": 1, "online": true, "last_seen_at": "<ISO 8601>",
     "health": {"fps": 12.5, "outbox_pending": 0, "outbox_dropped": 0, "events_sent": 3,
                "version": "1"}}
"""

from django.db import transaction
from django.utils import timezone

from flowsuite import live

from . import streaming
from .live import camera_group
from .models import Camera


@transaction.atomic
def record_heartbeat(camera: Camera, health: dict) -> dict:
    """Store the agent's health and last-seen time; return the answer for the agent."""
    camera.last_seen_at, camera.health = timezone.now(), health
    Camera.objects.filter(pk=camera.pk).update(last_seen_at=camera.last_seen_at, health=health)
    live.publish(
        camera_group(camera.pk),
        "status",
        {
            "camera": camera.pk,
            "online": True,
            "last_seen_at": camera.last_seen_at,
            "health": health,
        },
    )
    return {"stream": streaming.is_watched(camera.pk), "stream_fps": streaming.STREAM_FPS}
