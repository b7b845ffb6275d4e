"""Writes on drivers: registration with photo, bans."""

import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from . import badges
from .choices import DriverStatus
from .models import Driver

THUMBNAIL_SIZE = (320, 320)


@transaction.atomic
def driver_save(driver: Driver, *, photo=None) -> Driver:
    """Save a new or edited driver (validated by Driver.clean); a new one gets a badge."""
    created = driver.pk is None
    driver.full_clean()
    if photo is not None:
        driver.photo = photo
        driver.thumbnail.save(f"{driver.licence_number}.jpg", make_thumbnail(photo), save=False)
    driver.save()
    if created:
        badges.issue_badge(driver=driver)
    return driver


def make_thumbnail(upload) -> ContentFile:
    upload.seek(0)
    with Image.open(upload) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
    upload.seek(0)
    return ContentFile(buffer.getvalue())


def ban(*, driver: Driver, by, reason: str) -> None:
    driver.status = DriverStatus.BANNED
    driver.banned_at, driver.banned_by, driver.ban_reason = timezone.now(), by, reason
    driver.save(update_fields=["status", "banned_at", "banned_by", "ban_reason"])


def unban(*, driver: Driver) -> None:
    driver.status = DriverStatus.ACTIVE
    driver.banned_at, driver.banned_by, driver.ban_reason = None, None, ""
    driver.save(update_fields=["status", "banned_at", "banned_by", "ban_reason"])
