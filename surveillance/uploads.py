"""Checking a camera's snapshot by decoding it: JPEG or PNG whatever its name says, within the
byte and pixel caps, and its JPEG thumbnail."""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

THUMBNAIL_SIZE = (320, 320)
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}


class ImageRejected(ValueError):
    """An upload that is not a picture we keep; `code` says why (too_large is HTTP 413)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    data: bytes  # the file as uploaded: stored unchanged
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes  # JPEG

    @property
    def size(self) -> int:
        return len(self.data)


def check_image(upload) -> CheckedImage:
    """Decode an upload (a file object or bytes) and make its thumbnail; ImageRejected if it is
    too big, too many pixels, or not a whole JPEG or PNG. The file name is never trusted."""
    data = _read_capped(upload, settings.SURVEILLANCE_MAX_UPLOAD_BYTES)
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: make it an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                return _checked(image, data)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels() from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageRejected(
                "not_an_image", _("The file is not a complete JPEG or PNG picture.")
            ) from None


def _checked(image: Image.Image, data: bytes) -> CheckedImage:
    if image.format not in FORMATS:
        raise ImageRejected(
            "unsupported_format",
            _("Only JPEG and PNG pictures are accepted, not %(format)s.")
            % {"format": image.format},
        )
    width, height = image.size
    # Checked from the header, before anything is decoded.
    if width * height > settings.SURVEILLANCE_MAX_PIXELS:
        raise _too_many_pixels()
    content_type, extension = FORMATS[image.format]
    # thumbnail() decodes the whole picture (a JPEG at a reduced scale, which is faster), so a
    # truncated or corrupt file fails here. No EXIF rotation: the motion boxes are in the
    # frame's own pixels.
    image.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return CheckedImage(data, content_type, extension, width, height, buffer.getvalue())


def _read_capped(upload, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise _too_large(limit)
        upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise ImageRejected("empty", _("The file is empty."))
    return data


def _too_large(limit: int) -> ImageRejected:
    return ImageRejected(
        "too_large",
        _("A snapshot may be at most %(mb).1f MB.") % {"mb": limit / 1024 / 1024},
    )


def _too_many_pixels() -> ImageRejected:
    return ImageRejected(
        "too_many_pixels",
        _("A snapshot may have at most %(pixels)s pixels (width x height).")
        % {"pixels": f"{settings.SURVEILLANCE_MAX_PIXELS:,}"},
    )
