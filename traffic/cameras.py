"""Adding traffic cameras and their device keys, and telling their agents of a new config."""

from django.db import transaction
from django.db.models import F

from accounts.services import device_key_create

from .models import TrafficCamera


@transaction.atomic
def camera_create(*, owner, intersection, name: str, **fields) -> tuple[TrafficCamera, str]:
    """Add a camera with its own device key; return it and the raw key (shown once)."""
    key, raw_key = device_key_create(owner=owner, name=f"Traffic: {name}"[:100])
    camera = TrafficCamera.objects.create(
        intersection=intersection, name=name, device_key=key, **fields
    )
    return camera, raw_key


@transaction.atomic
def camera_rotate_key(camera: TrafficCamera, *, owner) -> str:
    """Revoke the camera's key and give it a new one; return the new raw key (shown once)."""
    if camera.device_key:
        camera.device_key.revoke()
    camera.device_key, raw_key = device_key_create(
        owner=owner, name=f"Traffic: {camera.name}"[:100]
    )
    camera.save(update_fields=["device_key"])
    return raw_key


def config_changed(camera_id: int) -> None:
    """A camera's lines, masks or analysis variables changed: its agent reloads them."""
    TrafficCamera.objects.filter(pk=camera_id).update(config_version=F("config_version") + 1)
