"""Snapshots are checked by decoding them, never by their name: format, size, pixels."""

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from surveillance.models import Snapshot
from surveillance.uploads import ImageRejected, check_image

from .device_helpers import event_form, new_camera, picture, post_event, upload_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_png_named_jpg_is_stored_as_a_png_with_a_jpeg_thumbnail(media):
    camera, key = new_camera()
    png = picture(640, 480, fmt="PNG")
    answer = post_event(key, event_form(upload_file(png, "frame.jpg", "image/jpeg")))

    assert answer.status_code == 201, answer.json()
    snapshot = Snapshot.objects.get(event__camera=camera)
    assert snapshot.content_type == "image/png"
    assert snapshot.image.name.endswith(".png")
    assert (snapshot.width, snapshot.height, snapshot.size) == (640, 480, len(png))
    assert (media / snapshot.image.name).read_bytes() == png
    with Image.open(media / snapshot.thumbnail.name) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (320, 240)


def test_a_text_file_named_jpg_is_refused_with_a_clear_400(media):
    camera, key = new_camera()
    answer = post_event(key, event_form(upload_file(b"hello, I am not a picture\n", "a.jpg")))

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "JPEG or PNG" in error["fields"]["snapshots"][0]
    assert not camera.events.exists()
    assert not any(media.rglob("*.*"))


def test_a_truncated_jpeg_is_refused():
    data = picture(320, 240)
    with pytest.raises(ImageRejected) as refused:
        check_image(data[: len(data) // 2])
    assert refused.value.code == "not_an_image"


def test_a_gif_is_refused_even_named_png():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    with pytest.raises(ImageRejected) as refused:
        check_image(upload_file(buffer.getvalue(), "x.png", "image/png"))
    assert refused.value.code == "unsupported_format"


def test_an_oversized_snapshot_is_refused_with_413(settings, media):
    settings.SURVEILLANCE_MAX_UPLOAD_BYTES = 10_000
    camera, key = new_camera()
    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    assert len(buffer.getvalue()) > 10_000

    answer = post_event(key, event_form(upload_file(buffer.getvalue(), "big.png")))

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert not camera.events.exists()


def test_a_picture_with_too_many_pixels_is_refused(settings):
    settings.SURVEILLANCE_MAX_PIXELS = 100 * 100
    camera, key = new_camera()
    answer = post_event(key, event_form(upload_file(picture(101, 100))))

    assert answer.status_code == 400
    assert "pixels" in answer.json()["error"]["fields"]["snapshots"][0]
    assert not camera.events.exists()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size but holds almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding():
    with pytest.raises(ImageRejected) as refused:
        check_image(png_header_only(100_000, 100_000))
    assert refused.value.code == "too_many_pixels"


def test_more_snapshots_than_allowed_are_refused(settings):
    settings.SURVEILLANCE_MAX_SNAPSHOTS = 2
    camera, key = new_camera()
    files = [upload_file(picture()) for _ in range(3)]
    answer = post_event(key, event_form(*files))

    assert answer.status_code == 400
    assert not camera.events.exists()
