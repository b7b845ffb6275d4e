"""The live view: a camera pushes frames only while someone watches, and the server relays them
to the camera's live group.

- The live view page calls `mark_watched(camera_id)` (through a small POST) every 10 s while
  it is open; the mark expires WATCH_SECONDS later, so a closed tab stops the stream.
- The heartbeat and frames answers tell the agent `is_watched(camera_id)` and STREAM_FPS.
- `relay_frame(camera, jpeg)` publishes "frame" `{"jpeg": base64, "at": ISO time}` to
  `surveillance.camera.<id>`, at most STREAM_FPS a second per camera (more are dropped).

The marks live in the cache: with several server processes, REDIS_URL makes them shared.
"""

import base64
import io
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from flowsuite import live

from .live import camera_group
from .models import Camera
from .uploads import ImageRejected

WATCH_SECONDS = 25
STREAM_FPS = 2
MAX_FRAME_BYTES = 1024 * 1024
# A frame arriving a little early (network jitter) still passes.
MIN_FRAME_GAP = 0.8 / STREAM_FPS


def _watched_key(camera_id: int) -> str:
    return f"surveillance:watched:{camera_id}"


def mark_watched(camera_id: int) -> None:
    """Someone has camera `camera_id`'s live view open (call again within WATCH_SECONDS)."""
    cache.set(_watched_key(camera_id), True, WATCH_SECONDS)


def is_watched(camera_id: int) -> bool:
    return bool(cache.get(_watched_key(camera_id)))


def relay_frame(camera: Camera, jpeg: bytes) -> bool:
    """Send a live frame to the camera's viewers; False if it came too soon after the last
    one (the frames cap) and was dropped."""
    key = f"surveillance:frame-at:{camera.pk}"
    now = time.time()  # wall clock: several server processes share the cache
    last = cache.get(key)
    if last is not None and 0 <= now - last < MIN_FRAME_GAP:
        return False
    cache.set(key, now, 60)
    live.publish(
        camera_group(camera.pk),
        "frame",
        {"jpeg": base64.b64encode(jpeg).decode("ascii"), "at": timezone.now()},
    )
    return True


def check_frame(jpeg: bytes) -> None:
    """ImageRejected unless `jpeg` starts like a JPEG of at most SURVEILLANCE_MAX_PIXELS. Only
    the header is read: a live frame is shown, never stored, and decoding each would cost."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            fmt, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        fmt, width, height = None, 0, 0
    if fmt != "JPEG":
        raise ImageRejected("not_a_jpeg", _("A live frame is one JPEG picture."))
    if width * height > settings.SURVEILLANCE_MAX_PIXELS:
        raise ImageRejected("too_many_pixels", _("The frame has too many pixels."))
