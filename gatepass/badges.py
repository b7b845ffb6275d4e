"""QR badges: a badge's code, signed with the site's secret key, is what the QR carries.

Editing any character of a token breaks its signature (refused as forged); issuing a new badge
revokes the driver's earlier ones.
"""

import io
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from .choices import Reason
from .models import Badge, Driver

TOKEN_PREFIX = "FSG1:"
_signer = signing.Signer(salt="gatepass.badge")


class BadgeRefused(Exception):
    def __init__(self, reason: str, badge: Badge | None = None):
        super().__init__(reason)
        self.reason = reason
        self.badge = badge


def token_for(badge: Badge) -> str:
    return TOKEN_PREFIX + _signer.sign(badge.code)


def badge_from_token(token: str, *, lock: bool = False) -> Badge:
    """The valid badge a scanned token stands for; BadgeRefused(reason) otherwise.

    lock: inside a transaction, lock the badge and its driver until it ends.
    """
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX):
        raise BadgeRefused(Reason.UNKNOWN)
    try:
        code = _signer.unsign(token[len(TOKEN_PREFIX) :])
    except signing.BadSignature:
        raise BadgeRefused(Reason.FORGED) from None
    badges = Badge.objects.select_related("driver")
    badge = (badges.select_for_update() if lock else badges).filter(code=code).first()
    if badge is None:
        raise BadgeRefused(Reason.UNKNOWN)
    if badge.revoked_at is not None:
        raise BadgeRefused(Reason.REVOKED, badge)
    if badge.is_expired:
        raise BadgeRefused(Reason.EXPIRED, badge)
    return badge


@transaction.atomic
def issue_badge(*, driver: Driver) -> Badge:
    """A new badge for `driver`; the earlier ones stop working."""
    now = timezone.now()
    driver.badges.filter(revoked_at__isnull=True).update(revoked_at=now)
    days = settings.GATEPASS_BADGE_VALID_DAYS
    expires_at = now + timedelta(days=days) if days else None
    return Badge.objects.create(driver=driver, issued_at=now, expires_at=expires_at)


def current_badge(driver: Driver) -> Badge | None:
    return driver.badges.filter(revoked_at__isnull=True).order_by("-issued_at").first()


def qr_png(token: str, *, box_size: int = 10) -> bytes:
    import qrcode  # here, not at the top: every process imports the admin, few draw badges

    image = qrcode.make(token, box_size=box_size, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(token: str) -> bytes:
    import qrcode.image.svg

    image = qrcode.make(token, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    return image.to_string()
