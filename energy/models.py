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

    # No index of its own: the (node, ts) constraint's serves, and each index costs every insert.
    node = models.ForeignKey(
        Node, on_delete=models.CASCADE, related_name="readings", db_index=False
    )
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

    # Indexed by the (node, start) constraint of each kind: an index of its own only costs.
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", db_index=False)
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


class OwnerHourRollup(models.Model):
    """The energy all of an owner's nodes used together in a UTC hour: "all my nodes" by the
    hour over a year is 8,760 rows here instead of one per node and hour."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    start = models.DateTimeField()
    energy_used = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "start"], name="energy_owner_hour_start")
        ]

    def __str__(self):
        return f"{self.owner_id} @ {self.start}"


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


# --- Alerts, recommendations, automation ------------------------------------------------


class EnergyProfile(models.Model):
    """A user's energy settings: the tariff that prices advice, and quiet hours."""

    class Tariff(models.TextChoices):
        FLAT = "flat", _("flat rate")
        TIME_OF_USE = "tou", _("time of use (peak / off-peak)")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="energy_profile"
    )
    tariff = models.CharField(_("tariff"), max_length=4, choices=Tariff.choices, default="flat")
    currency = models.CharField(_("currency"), max_length=8, default="USD")
    price = models.DecimalField(
        _("price per kWh (flat, and off-peak)"), max_digits=8, decimal_places=4, default=0.15
    )
    peak_price = models.DecimalField(
        _("peak price per kWh"), max_digits=8, decimal_places=4, default=0.25
    )
    peak_start = models.TimeField(_("peak hours from"), default="18:00")
    peak_end = models.TimeField(_("peak hours until"), default="22:00")
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    notify_email = models.BooleanField(_("e-mail me about alerts"), default=True)

    class Meta:
        verbose_name = _("energy profile")
        verbose_name_plural = _("energy profiles")

    def __str__(self):
        return str(self.user)


class Comparison(models.TextChoices):
    ABOVE = "above", _("above")
    BELOW = "below", _("below")
    OUTSIDE = "outside", _("outside the range")


class AlertRule(models.Model):
    """What should raise an alert, for one node or for each of the owner's nodes."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("a magnitude crosses a threshold")
        OFFLINE = "offline", _("the node stops reporting")
        BUDGET = "budget", _("energy over a budget")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        MONTH = "month", _("per month")

    class WebhookFormat(models.TextChoices):
        JSON = "json", _("generic JSON")
        DISCORD = "discord", _("Discord")
        SLACK = "slack", _("Slack")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="energy_rules"
    )
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rules",
        help_text=_("Empty: each of the owner's nodes."),
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    magnitude = models.CharField(_("magnitude"), max_length=16, blank=True)
    comparison = models.CharField(
        _("comparison"), max_length=8, choices=Comparison.choices, blank=True
    )
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    threshold_high = models.FloatField(_("upper threshold"), null=True, blank=True)
    hysteresis = models.FloatField(
        _("hysteresis"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("How far back past the threshold the value must go to clear the alert."),
    )
    duration = models.PositiveIntegerField(
        _("held for (s)"), default=0, help_text=_("The condition must hold this long.")
    )
    offline_intervals = models.PositiveIntegerField(
        _("missed intervals"), default=5, validators=[MinValueValidator(1)]
    )
    budget_kwh = models.FloatField(_("budget (kWh)"), null=True, blank=True)
    budget_period = models.CharField(
        _("budget period"), max_length=5, choices=Period.choices, blank=True
    )
    notify_interval = models.PositiveIntegerField(
        _("least minutes between notifications"), default=15
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    webhook_format = models.CharField(
        _("webhook format"), max_length=8, choices=WebhookFormat.choices, default="json"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from .rules import validate

        validate(self)


class RuleState(models.Model):
    """Where a rule stands for one node, so that each reading is judged without rescans."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(null=True, blank=True)  # the condition has held from then
    active = models.BooleanField(default=False)  # an alert is open
    period = models.CharField(max_length=10, blank=True)  # budget: the day or month counted
    period_kwh = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "node"], name="energy_rulestate_rule_node")
        ]

    def __str__(self):
        return f"{self.rule_id}/{self.node_id}"


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RESOLVED = "resolved", _("resolved")

    class Severity(models.TextChoices):
        INFO = "info", _("information")
        WARNING = "warning", _("warning")
        CRITICAL = "critical", _("critical")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="energy_alerts"
    )
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    source = models.CharField(_("source"), max_length=100, default="rule")
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default="warning"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default="open")
    message = models.CharField(_("message"), max_length=300)
    values = models.JSONField(_("values"), default=dict, blank=True)
    opened_at = models.DateTimeField(_("opened"))
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comment = models.TextField(_("comment"), blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "node"],
                condition=models.Q(resolved_at__isnull=True, rule__isnull=False),
                name="energy_alert_one_open_per_rule_node",
            )
        ]
        indexes = [models.Index(fields=["owner", "status"], name="energy_alert_owner_status")]

    def __str__(self):
        return self.message


class Notification(models.Model):
    """An alert's message to one channel, sent by the worker with retries (an outbox)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WEBHOOK = "webhook", _("webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10)  # opened / resolved
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=Status.choices, default="pending")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="energy_notif_due")]

    def __str__(self):
        return f"{self.channel} {self.event} of {self.alert_id}"


class Recommendation(models.Model):
    class Kind(models.TextChoices):
        STANDBY = "standby", _("standby load")
        PEAK_SHIFT = "peak_shift", _("shift out of peak hours")
        POWER_FACTOR = "power_factor", _("poor power factor")
        UNUSUAL = "unusual", _("unusually high consumption")
        ALWAYS_ON = "always_on", _("never turns off")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="energy_advice"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="advice"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    detail = models.TextField(_("detail"))
    evidence = models.JSONField(_("evidence"), default=dict)
    saving_kwh_year = models.FloatField(_("saving (kWh/year)"))
    saving_money_year = models.DecimalField(_("saving per year"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=8)
    computed_at = models.DateTimeField(_("computed"))
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["-saving_kwh_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "node", "kind"], name="energy_recommendation_per_kind"
            )
        ]

    def __str__(self):
        return self.title


class Automation(models.Model):
    """When an alert opens or resolves, or on a schedule: publish an MQTT message to one of
    the owner's nodes, or call a webhook."""

    class Trigger(models.TextChoices):
        ALERT_OPENED = "opened", _("an alert opens")
        ALERT_RESOLVED = "resolved", _("an alert resolves")
        SCHEDULE = "schedule", _("on a schedule")

    class Action(models.TextChoices):
        MQTT = "mqtt", _("publish an MQTT message")
        WEBHOOK = "webhook", _("call a webhook")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="energy_automations"
    )
    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    trigger = models.CharField(_("when"), max_length=10, choices=Trigger.choices)
    rule = models.ForeignKey(
        AlertRule,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="automations",
        help_text=_("Empty: any of your rules."),
    )
    at_time = models.TimeField(_("at"), null=True, blank=True)
    weekdays = models.CharField(
        _("on weekdays"), max_length=13, default="0,1,2,3,4,5,6", help_text=_("0 is Monday.")
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="automations",
        help_text=_("The node commanded (MQTT); empty: the alert's node."),
    )
    topic = models.CharField(
        _("topic"),
        max_length=200,
        blank=True,
        default="flowsuite/energy/{{device_id}}/command",
        help_text=_("Placeholders: {{device_id}}, {{node}}, {{rule}}, {{value}}, {{event}}."),
    )
    payload = models.TextField(_("payload"), blank=True, default='{"relay": "off"}')
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from .automations import validate

        validate(self)


class AutomationRun(models.Model):
    """One action of an automation, queued and then run by the worker, with its outcome."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("pending")
        OK = "ok", _("done")
        FAILED = "failed", _("failed")

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL)
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=10)
    queued_at = models.DateTimeField()
    ran_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default="pending")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at"]

    def __str__(self):
        return f"{self.automation_id} {self.trigger} {self.outcome}"
