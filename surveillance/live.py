"""Live events of the surveillance domain. Groups:

- `surveillance.events`: "event" with a new motion event's summary (toasts, the gallery of today);
- `surveillance.camera.<id>`: "frame" (a live JPEG, base64) and "status" of one camera.

Only people who may view cameras subscribe; a camera's frames flow only while someone watches.
"""

from flowsuite import live

EVENTS_GROUP = "surveillance.events"


def camera_group(camera_id: int) -> str:
    return f"surveillance.camera.{camera_id}"


def may_subscribe(user, group: str) -> bool:
    if group == EVENTS_GROUP:
        return user.has_perm("surveillance.view_motionevent")
    parts = group.split(".")
    if len(parts) == 3 and parts[1] == "camera" and parts[2].isdigit():
        return user.has_perm("surveillance.view_camera")
    return False


def register() -> None:
    live.register_domain("surveillance", may_subscribe)
