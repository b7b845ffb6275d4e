"""Adding cameras and their device keys."""

from django.db import transaction

from accounts.services import device_key_create

from .models import Camera


@transaction.atomic
def camera_create(*, owner, name: str, location: str = "", **settings) -> tuple[Camera, str]:
    """Add a camera with its own device key; return it and the raw key (shown once)."""
    key, raw_key = device_key_create(owner=owner, name=f"Camera: {name}"[:100])
    camera = Camera.objects.create(name=name, location=location, device_key=key, **settings)
    return camera, raw_key


@transaction.atomic
def camera_rotate_key(camera: Camera, *, owner) -> str:
    """Revoke the camera's key and give it a new one; return the new raw key (shown once)."""
    if camera.device_key:
        camera.device_key.revoke()
    camera.device_key, raw_key = device_key_create(owner=owner, name=f"Camera: {camera.name}"[:100])
    camera.save(update_fields=["device_key"])
    return raw_key
