import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Direction, DriverStatus, Method, Outcome, Reason, StationMode


def normalize_licence(value: str) -> str:
    return "".join(value.split()).upper()


class Driver(models.Model):
    """A truck driver who comes in and out of the site with a QR badge."""

    name = models.CharField(_("name"), max_length=150)
    company = models.CharField(_("company"), max_length=150, blank=True)
    licence_number = models.CharField(_("licence number"), max_length=40, unique=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    plate = models.CharField(_("vehicle plate"), max_length=20, blank=True)
    photo = models.ImageField(_("photo"), upload_to="gatepass/photos/", blank=True)
    thumbnail = models.ImageField(upload_to="gatepass/thumbnails/", blank=True, editable=False)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=DriverStatus.choices, default=DriverStatus.ACTIVE
    )
    banned_at = models.DateTimeField(_("banned at"), null=True, blank=True, editable=False)
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("banned by"),
    )
    ban_reason = models.TextField(_("reason for the ban"), blank=True, editable=False)
    # Where the driver is now: kept by each accepted scan (gatepass.scanning), so that
    # "inside now" never has to replay the history.
    inside_since = models.DateTimeField(_("inside since"), null=True, blank=True, editable=False)
    # The last accepted scan, so that a repeat within the double-scan window is told apart
    # without reading the history.
    last_scan_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_scan_station = models.ForeignKey(
        "Station",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")
        ordering = ["name"]
        permissions = [("ban_driver", _("Can ban and unban drivers"))]
        indexes = [models.Index(fields=["inside_since"]), models.Index(fields=["company"])]

    def __str__(self):
        return self.name

    def clean(self):
        self.licence_number = normalize_licence(self.licence_number or "")
        duplicate = Driver.objects.filter(licence_number=self.licence_number).exclude(pk=self.pk)
        if self.licence_number and duplicate.exists():
            raise ValidationError(
                {
                    "licence_number": _(
                        "A driver with licence number %(number)s is already registered."
                    )
                    % {"number": self.licence_number}
                }
            )

    @property
    def is_banned(self) -> bool:
        return self.status == DriverStatus.BANNED

    @property
    def is_inside(self) -> bool:
        return self.inside_since is not None


def new_badge_code() -> str:
    return secrets.token_urlsafe(12)


class Badge(models.Model):
    """A QR badge. Its code is random; the QR carries it signed (gatepass.badges)."""

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="badges")
    code = models.CharField(max_length=32, unique=True, default=new_badge_code, editable=False)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        ordering = ["-issued_at"]

    def __str__(self):
        return f"{self.driver} · {self.issued_at:%Y-%m-%d}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Station(models.Model):
    """A gate or guard house where badges are scanned."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    mode = models.CharField(
        _("direction mode"), max_length=8, choices=StationMode.choices, default=StationMode.BOTH
    )
    is_active = models.BooleanField(_("active"), default=True)
    guards = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="gatepass_stations",
        verbose_name=_("guards"),
    )

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Movement(models.Model):
    """One scan attempt, accepted or refused. Never edited: a correction is a new movement."""

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    station = models.ForeignKey(
        Station, on_delete=models.PROTECT, related_name="movements", verbose_name=_("station")
    )
    driver = models.ForeignKey(
        Driver,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="movements",
        verbose_name=_("driver"),
    )
    # The driver's company at the time, so that history filters need no join.
    company = models.CharField(_("company"), max_length=150, blank=True)
    guard = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("guard"),
    )
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices)
    direction = models.CharField(
        _("direction"), max_length=5, choices=Direction.choices, blank=True
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    note = models.TextField(_("note"), blank=True)
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        verbose_name=_("corrects"),
    )

    class Meta:
        verbose_name = _("movement")
        verbose_name_plural = _("movements")
        ordering = ["-occurred_at", "-id"]
        permissions = [("correct_movement", _("Can record corrections of movements"))]
        indexes = [
            models.Index(fields=["station", "-occurred_at"]),
            models.Index(fields=["driver", "-occurred_at"]),
            models.Index(fields=["company", "-occurred_at"]),
            models.Index(fields=["outcome", "-occurred_at"]),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.station} {self.get_outcome_display()}"

    @property
    def accepted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED
