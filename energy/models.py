from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class LinkState(models.TextChoices):
    """What the meter last said on its status topic (its last will says offline)."""

    UNKNOWN = "", _("unknown")
    ONLINE = "online", _("online")
    OFFLINE = "offline", _("offline")


class NodeQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm("energy.view_all_nodes"):
            return self
        return self.filter(owner=user)


class Node(models.Model):
    """An energy meter (an ESP32 with a metering chip) that reports readings."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="energy_nodes",
        verbose_name=_("owner"),
    )
    device_id = models.CharField(
        _("device id"),
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                DEVICE_ID_PATTERN,
                _(
                    "Use up to 64 letters, digits and the signs _ . : - "
                    "(no spaces or slashes: it is part of the MQTT topic)."
                ),
            )
        ],
        help_text=_("As the meter sends it in its MQTT topic, e.g. esp32-kitchen."),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    location = models.CharField(_("location"), max_length=150, blank=True)
    expected_interval = models.PositiveIntegerField(
        _("expected reporting interval (s)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(86_400)],
        help_text=_("How often the meter sends a reading; the node is offline after a few."),
    )
    device_key = models.OneToOneField(
        "accounts.DeviceKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="energy_node",
        verbose_name=_("device key"),
    )
    # The zone of the owner's days, in which DayRollup buckets are cut (energy.nodes keeps it).
    time_zone = models.CharField(max_length=64, editable=False, default="UTC")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # Kept current by the ingest service, so that pages never read the readings for them.
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    last_reading_at = models.DateTimeField(_("last reading"), null=True, blank=True, editable=False)
    latest = models.JSONField(default=dict, blank=True, editable=False)
    link_state = models.CharField(
        max_length=8, choices=LinkState.choices, blank=True, default="", editable=False
    )
    link_state_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The meter's cumulative counter at its latest reading: consumption is the difference.
    counter_kwh = models.FloatField(null=True, blank=True, editable=False)
    counter_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = NodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("nodes")
        ordering = ["name", "device_id"]
        permissions = [("view_all_nodes", _("Can see and change every user's nodes"))]

    def __str__(self):
        return f"{self.name} ({self.device_id})"


class Reading(models.Model):
    """One message from a meter. `energy` is its raw counter; `energy_used` the consumption
    since its previous reading, reset-safe (a counter that goes back to zero adds nothing)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="readings")
    ts = models.DateTimeField(_("time"))
    voltage = models.FloatField(null=True, blank=True)
    current = models.FloatField(null=True, blank=True)
    power = models.FloatField(null=True, blank=True)
    power_factor = models.FloatField(null=True, blank=True)
    frequency = models.FloatField(null=True, blank=True)
    energy = models.FloatField(null=True, blank=True)
    energy_used = models.FloatField(default=0)

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(fields=["node", "ts"], name="energy_reading_node_ts")
        ]
        indexes = [models.Index(fields=["ts"], name="energy_reading_ts")]

    def __str__(self):
        return f"{self.node_id} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class Rollup(models.Model):
    """count/sum/min/max of each sampled magnitude and the energy used in one bucket."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    readings = models.PositiveIntegerField(default=0)
    energy_used = models.FloatField(default=0)
    voltage_count = models.PositiveIntegerField(default=0)
    voltage_sum = models.FloatField(default=0)
    voltage_min = models.FloatField(null=True)
    voltage_max = models.FloatField(null=True)
    current_count = models.PositiveIntegerField(default=0)
    current_sum = models.FloatField(default=0)
    current_min = models.FloatField(null=True)
    current_max = models.FloatField(null=True)
    power_count = models.PositiveIntegerField(default=0)
    power_sum = models.FloatField(default=0)
    power_min = models.FloatField(null=True)
    power_max = models.FloatField(null=True)
    power_factor_count = models.PositiveIntegerField(default=0)
    power_factor_sum = models.FloatField(default=0)
    power_factor_min = models.FloatField(null=True)
    power_factor_max = models.FloatField(null=True)
    frequency_count = models.PositiveIntegerField(default=0)
    frequency_sum = models.FloatField(default=0)
    frequency_min = models.FloatField(null=True)
    frequency_max = models.FloatField(null=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.node_id} @ {self.start}"


class MinuteRollup(Rollup):
    start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "start"], name="energy_minute_node_start")
        ]


class HourRollup(Rollup):
    start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "start"], name="energy_hour_node_start")
        ]


class DayRollup(Rollup):
    """A calendar day in the node's time zone (its owner's)."""

    start = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "start"], name="energy_day_node_start")
        ]


class PendingDevice(models.Model):
    """A device id that sent data but belongs to no node: an admin may claim it."""

    device_id = models.CharField(_("device id"), max_length=64, unique=True)
    source = models.CharField(_("source"), max_length=16)
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"))
    messages = models.PositiveIntegerField(_("messages"), default=0)
    last_payload = models.TextField(_("last payload"), blank=True)

    class Meta:
        verbose_name = _("pending device")
        verbose_name_plural = _("pending devices")
        ordering = ["-last_seen_at"]

    def __str__(self):
        return self.device_id
