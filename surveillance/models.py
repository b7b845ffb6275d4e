import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A camera that sent nothing (heartbeat or event) for this long is shown offline.
OFFLINE_AFTER = timedelta(seconds=90)


def snapshot_path(snapshot: "Snapshot", filename: str) -> str:
    # Unique, unguessable names; the date folder keeps a day's files together for cleanup.
    day = snapshot.event.started_at.strftime("%Y/%m/%d")
    return f"surveillance/{day}/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1].lower()}"


def thumbnail_path(snapshot: "Snapshot", filename: str) -> str:
    day = snapshot.event.started_at.strftime("%Y/%m/%d")
    return f"surveillance/{day}/thumbs/{uuid.uuid4().hex}.jpg"


class Camera(models.Model):
    """A motion camera at the site (a Raspberry Pi running `python -m edge motion`)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    device_key = models.OneToOneField(
        "accounts.DeviceKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="camera",
        verbose_name=_("device key"),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    notify = models.BooleanField(_("send notifications"), default=True)
    discord_webhook_url = models.URLField(_("Discord webhook URL"), max_length=500, blank=True)
    webhook_url = models.URLField(_("JSON webhook URL"), max_length=500, blank=True)
    # Quiet hours in the camera's time zone: events are stored, but no webhook is sent.
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    # The agent's last heartbeat: fps, outbox pending/dropped, version...
    health = models.JSONField(_("health"), default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_online(self) -> bool:
        return bool(self.last_seen_at and timezone.now() - self.last_seen_at < OFFLINE_AFTER)


class MotionEvent(models.Model):
    """One motion event a camera detected, with its snapshots (best first)."""

    camera = models.ForeignKey(
        Camera, on_delete=models.CASCADE, related_name="events", verbose_name=_("camera")
    )
    # The agent's idempotency key: a re-sent event is recognised, never stored twice.
    event_id = models.UUIDField(_("event id"), editable=False)
    started_at = models.DateTimeField(_("started"), db_index=True)
    ended_at = models.DateTimeField(_("ended"))
    score = models.FloatField(_("score"), help_text=_("Fraction of the picture that changed."))
    # Motion boxes [x, y, width, height] in the pixels of a frame_width x frame_height frame.
    boxes = models.JSONField(_("motion boxes"), default=list, blank=True)
    frame_width = models.PositiveIntegerField(_("frame width"))
    frame_height = models.PositiveIntegerField(_("frame height"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("motion event")
        verbose_name_plural = _("motion events")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["camera", "event_id"], name="one_event_per_event_id")
        ]
        indexes = [models.Index(fields=["camera", "-started_at"])]

    def __str__(self):
        return f"{self.camera} {self.started_at:%Y-%m-%d %H:%M:%S}"


class Snapshot(models.Model):
    """A JPEG or PNG picture of an event, checked by decoding, with a JPEG thumbnail."""

    event = models.ForeignKey(
        MotionEvent, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("event")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)  # 0 = the best frame
    image = models.FileField(_("image"), upload_to=snapshot_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=thumbnail_path, max_length=200)
    content_type = models.CharField(_("content type"), max_length=20)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    size = models.PositiveIntegerField(_("size in bytes"))

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["event", "position"]
        constraints = [
            models.UniqueConstraint(fields=["event", "position"], name="one_snapshot_per_position")
        ]

    def __str__(self):
        return f"{self.event} #{self.position}"


class Webhook(models.TextChoices):
    DISCORD = "discord", _("Discord")
    JSON = "json", _("JSON")


class Delivery(models.Model):
    """A webhook notice of an event, sent outside the request path and retried (an outbox)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")  # gave up after the last retry

    event = models.ForeignKey(
        MotionEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    kind = models.CharField(_("webhook"), max_length=10, choices=Webhook.choices)
    url = models.URLField(_("URL"), max_length=500)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("queued"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.event} ({self.get_status_display()})"
