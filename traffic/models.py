import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# A camera that sent nothing (heartbeat or counts) for this long is shown offline.
OFFLINE_AFTER = timedelta(seconds=90)


class Intersection(models.Model):
    """A place where the site counts vehicles with one or more cameras (LocalTrack's unit)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    # The intersection's id in the central FlowTrack system, sent with its batches.
    flowtrack_id = models.CharField(_("FlowTrack id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("intersection")
        verbose_name_plural = _("intersections")
        ordering = ["name"]
        permissions = [
            ("validate_counts", _("Can validate, correct and reject counts")),
        ]

    def __str__(self):
        return self.name


class VehicleClass(models.TextChoices):
    MOTORBIKE = "motorbike", _("motorbike")
    CAR = "car", _("car")
    TRUCK = "truck", _("truck")
    BUS = "bus", _("bus")
    BICYCLE = "bicycle", _("bicycle")


# The classes that are no motor vehicles (the edge's NOT_MOTOR, less pedestrians, which it never
# counts): a total of vehicles is of motor vehicles, and these are shown apart as "bicycles".
# The one rule pages, API and live events follow (traffic.selectors.vehicle_sums).
NOT_MOTOR = frozenset({VehicleClass.BICYCLE.value})


def is_motor(vehicle_class: str) -> bool:
    """Whether vehicles of `vehicle_class` count in a total of vehicles."""
    return vehicle_class not in NOT_MOTOR


def default_size_classes() -> list[dict]:
    # The size classes every camera had before they were automatic (blob areas fitted to
    # 640x480, wrong on any other frame): migration 0001 names this function.
    return [
        {"class": VehicleClass.MOTORBIKE, "min_area": 0},
        {"class": VehicleClass.CAR, "min_area": 2500},
        {"class": VehicleClass.TRUCK, "min_area": 12000},
    ]


class TrafficCamera(models.Model):
    """A camera looking at an intersection; the edge counter runs it (`python -m edge traffic`).

    Its configuration (lines, masks and the analysis variables) is pulled by the agent, which
    picks up a new `config_version` without a restart.
    """

    intersection = models.ForeignKey(
        Intersection,
        on_delete=models.CASCADE,
        related_name="cameras",
        verbose_name=_("intersection"),
    )
    name = models.CharField(_("name"), max_length=100)
    device_key = models.OneToOneField(
        "accounts.DeviceKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="traffic_camera",
        verbose_name=_("device key"),
    )
    # What the agent opens: a camera index, a file or an rtsp:// URL (it may override it).
    source = models.CharField(_("stream source"), max_length=300, blank=True)
    width = models.PositiveIntegerField(_("width"), default=640)
    height = models.PositiveIntegerField(_("height"), default=480)
    # --- analysis variables ---
    interval_minutes = models.PositiveSmallIntegerField(
        _("count interval (minutes)"),
        default=5,
        choices=[(1, "1"), (5, "5"), (15, "15")],
    )
    # Blank (None): automatic, the counter decides from the camera's frame (it is left out
    # of the device config). A value overrides it.
    min_blob_area = models.PositiveIntegerField(
        _("minimum blob area (px)"),
        null=True,
        blank=True,
        help_text=_(
            "Smaller moving blobs are noise, not vehicles. Blank: automatic, relative to the "
            "camera's frame."
        ),
    )
    sensitivity = models.FloatField(
        _("detector sensitivity"),
        default=0.5,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("0 to 1: higher finds fainter vehicles, and more noise."),
    )
    size_classes = models.JSONField(
        _("vehicle size classes"),
        null=True,
        blank=True,
        help_text=_(
            'Blank: automatic, learnt from the vehicles the camera sees. Or [{"class": name, '
            '"min_area": pixels}, ...] in the camera\'s frame, the first from 0.'
        ),
    )
    # Polygons [[x, y], ...] in frame pixels where nothing is counted (trees, a road sign).
    masks = models.JSONField(_("masks"), default=list, blank=True)
    config_version = models.PositiveIntegerField(default=1, editable=False)
    # --- what the agent reports ---
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    health = models.JSONField(_("health"), default=dict, blank=True, editable=False)
    snapshot = models.FileField(
        _("snapshot"), upload_to="traffic/snapshots/", blank=True, editable=False
    )
    snapshot_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The counter's own view: its processing frame with its lines, tracks and counts drawn.
    annotated_snapshot = models.FileField(
        _("what the counter sees"), upload_to="traffic/snapshots/", blank=True, editable=False
    )
    annotated_snapshot_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("traffic camera")
        verbose_name_plural = _("traffic cameras")
        ordering = ["intersection", "name"]
        constraints = [
            models.UniqueConstraint(fields=["intersection", "name"], name="one_camera_name")
        ]

    def __str__(self):
        return f"{self.intersection} · {self.name}"

    @property
    def is_online(self) -> bool:
        return bool(self.last_seen_at and timezone.now() - self.last_seen_at < OFFLINE_AFTER)

    def clean(self):
        errors = {}
        try:
            check_size_classes(self.size_classes)
        except ValidationError as error:
            errors["size_classes"] = error.messages
        try:
            check_masks(self.masks, self.width, self.height)
        except ValidationError as error:
            errors["masks"] = error.messages
        if errors:
            raise ValidationError(errors)


def check_size_classes(value) -> None:
    """[{"class": "motorbike", "min_area": 0}, ...]: distinct vehicle classes (the counter
    reports them, and counts of another class are refused), areas rising from 0; or None,
    automatic (the counter learns them)."""
    message = _('A list of {"class": name, "min_area": pixels}, the first from 0, areas rising.')
    if value is None:
        return
    if not isinstance(value, list) or not value:
        raise ValidationError(message)
    areas, names = [], set()
    for item in value:
        if not (
            isinstance(item, dict)
            and set(item) == {"class", "min_area"}
            and isinstance(item["class"], str)
            and item["class"].strip()
            and len(item["class"]) <= 20
            and type(item["min_area"]) in (int, float)
            and item["min_area"] >= 0
        ):
            raise ValidationError(message)
        if item["class"] not in VehicleClass.values:
            raise ValidationError(
                _("Unknown class %(name)s: the classes are %(classes)s.")
                % {"name": item["class"], "classes": ", ".join(VehicleClass.values)}
            )
        areas.append(item["min_area"])
        names.add(item["class"])
    if areas[0] != 0 or areas != sorted(set(areas)) or len(names) != len(value):
        raise ValidationError(message)


def check_masks(value, width: int, height: int) -> None:
    """[[[x, y], ...], ...]: polygons of 3 or more points inside the frame."""
    message = _("A list of polygons [[x, y], ...] of 3 or more points inside the frame.")
    if not isinstance(value, list):
        raise ValidationError(message)
    for polygon in value:
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise ValidationError(message)
        for point in polygon:
            if not (
                isinstance(point, list)
                and len(point) == 2
                and all(type(n) in (int, float) for n in point)
                and 0 <= point[0] <= width
                and 0 <= point[1] <= height
            ):
                raise ValidationError(message)


class CountLine(models.Model):
    """A counting line: two points in the camera's frame pixels. A vehicle crossing it from
    the right to the left, seen from the first point towards the second, goes "in"."""

    camera = models.ForeignKey(
        TrafficCamera, on_delete=models.CASCADE, related_name="lines", verbose_name=_("camera")
    )
    name = models.CharField(_("name"), max_length=50)
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    # What "in" and "out" mean on site, e.g. "northbound" / "southbound".
    in_label = models.CharField(_("“in” means"), max_length=50, blank=True)
    out_label = models.CharField(_("“out” means"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("counting line")
        verbose_name_plural = _("counting lines")
        ordering = ["camera", "name"]
        constraints = [models.UniqueConstraint(fields=["camera", "name"], name="one_line_name")]

    def __str__(self):
        return self.name

    def clean(self):
        camera = self.camera if self.camera_id else None
        if (self.x1, self.y1) == (self.x2, self.y2):
            raise ValidationError(_("A line needs two different points."))
        if camera is not None:
            for x, y in ((self.x1, self.y1), (self.x2, self.y2)):
                if not (0 <= x <= camera.width and 0 <= y <= camera.height):
                    raise ValidationError(
                        _("The points are pixels of the camera's %(width)dx%(height)d frame.")
                        % {"width": camera.width, "height": camera.height}
                    )


class Direction(models.TextChoices):
    IN = "in", _("in")
    OUT = "out", _("out")


class CountStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    VALIDATED = "validated", _("validated")
    CORRECTED = "corrected", _("corrected")
    REJECTED = "rejected", _("rejected")


class Count(models.Model):
    """Vehicles of one class that crossed one line in one direction during one interval."""

    line = models.ForeignKey(
        CountLine, on_delete=models.CASCADE, related_name="counts", verbose_name=_("line")
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    vehicle_class = models.CharField(_("class"), max_length=20, choices=VehicleClass.choices)
    start = models.DateTimeField(_("from"), db_index=True)
    end = models.DateTimeField(_("until"))
    count = models.PositiveIntegerField(_("count"))
    # What the edge counted, kept when an analyst corrects `count`.
    original_count = models.PositiveIntegerField(_("counted by the camera"))
    status = models.CharField(
        _("status"), max_length=10, choices=CountStatus.choices, default=CountStatus.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    sync_batch = models.ForeignKey(
        "SyncBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="counts",
        verbose_name=_("FlowTrack batch"),
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("count")
        verbose_name_plural = _("counts")
        ordering = ["-start", "line", "direction", "vehicle_class"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "direction", "vehicle_class", "start"], name="one_count_per_bucket"
            )
        ]
        indexes = [models.Index(fields=["status", "start"])]

    def __str__(self):
        return f"{self.line} {self.direction} {self.vehicle_class} {self.start:%Y-%m-%d %H:%M}"


class Movement(models.Model):
    """Turning movements: vehicles of a class whose track crossed `from_line` and then
    `to_line` of the same camera during an interval."""

    camera = models.ForeignKey(
        TrafficCamera, on_delete=models.CASCADE, related_name="movements", verbose_name=_("camera")
    )
    from_line = models.ForeignKey(
        CountLine, on_delete=models.CASCADE, related_name="+", verbose_name=_("from")
    )
    to_line = models.ForeignKey(
        CountLine, on_delete=models.CASCADE, related_name="+", verbose_name=_("to")
    )
    vehicle_class = models.CharField(_("class"), max_length=20, choices=VehicleClass.choices)
    start = models.DateTimeField(_("from"), db_index=True)
    end = models.DateTimeField(_("until"))
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("turning movement")
        verbose_name_plural = _("turning movements")
        constraints = [
            models.UniqueConstraint(
                fields=["from_line", "to_line", "vehicle_class", "start"],
                name="one_movement_per_bucket",
            )
        ]

    def __str__(self):
        return f"{self.from_line} → {self.to_line} {self.vehicle_class} {self.start:%H:%M}"


class Upload(models.Model):
    """An interval report the edge posted, by its idempotency key: a re-sent report is
    recognised and stored once. Also the edge's health over the interval (fps, gaps)."""

    camera = models.ForeignKey(TrafficCamera, on_delete=models.CASCADE, related_name="uploads")
    key = models.UUIDField(editable=False)
    start = models.DateTimeField()
    end = models.DateTimeField()
    health = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("count report")
        verbose_name_plural = _("count reports")
        constraints = [models.UniqueConstraint(fields=["camera", "key"], name="one_upload_per_key")]

    def __str__(self):
        return f"{self.camera} {self.start:%Y-%m-%d %H:%M}"


class SyncBatch(models.Model):
    """Validated counts on their way to FlowTrack (an outbox): sent with its key as the
    idempotency key, retried with backoff, never sent twice once delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", pgettext_lazy("FlowTrack batch", "sent")
        # gave up: an operator may retry it
        FAILED = "failed", pgettext_lazy("FlowTrack batch", "failed")

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    intersection = models.ForeignKey(
        Intersection, on_delete=models.PROTECT, related_name="sync_batches"
    )
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("FlowTrack batch")
        verbose_name_plural = _("FlowTrack batches")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.intersection} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}"
