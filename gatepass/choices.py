from django.db import models
from django.utils.translation import gettext_lazy as _


class DriverStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    BANNED = "banned", _("Banned")


class StationMode(models.TextChoices):
    ENTRY = "entry", _("Entry only")
    EXIT = "exit", _("Exit only")
    BOTH = "both", _("Entry and exit")


class Direction(models.TextChoices):
    ENTRY = "entry", _("Entry")
    EXIT = "exit", _("Exit")


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", _("Refused")


class Reason(models.TextChoices):
    """Why a scan ended as it did; refusals say what the guard must know."""

    OK = "ok", _("Recorded")
    BANNED = "banned", _("Banned driver")
    UNKNOWN = "unknown", _("Unknown badge or driver")
    FORGED = "forged", _("Forged or damaged badge")
    REVOKED = "revoked", _("Badge revoked (a newer one was issued)")
    EXPIRED = "expired", _("Badge expired")
    ALREADY_INSIDE = "already_inside", _("Already inside")
    NOT_INSIDE = "not_inside", _("Not inside: no entry recorded")
    STATION_INACTIVE = "station_inactive", _("Station closed")
    CORRECTION = "correction", _("Correction by an administrator")


class Method(models.TextChoices):
    QR = "qr", _("QR badge")
    MANUAL = "manual", _("Manual (licence number)")
    CORRECTION = "correction", _("Correction")
