"""Forms of the alert, rule, automation, advice and energy-settings pages.

The rules of what makes a rule or an automation whole live in the models' clean()
(energy.rules.validate, energy.automations.validate): these forms only offer the user's own
nodes and rules, convert units, and drop what a kind of rule or action does not use.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .magnitudes import SAMPLED
from .models import Alert, AlertRule, Automation, Comparison, EnergyProfile, Node

WEEKDAYS = [
    ("0", _("Mon")),
    ("1", _("Tue")),
    ("2", _("Wed")),
    ("3", _("Thu")),
    ("4", _("Fri")),
    ("5", _("Sat")),
    ("6", _("Sun")),
]


def formfield(field, **kwargs):
    """Model fields' form fields; a URL typed without its scheme is taken as https."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


def own_nodes(user):
    return Node.objects.filter(owner=user).order_by("name", "device_id")


class AlertFilter(forms.Form):
    status = forms.ChoiceField(
        label=_("status"), required=False, choices=[("", _("All"))] + Alert.Status.choices
    )
    severity = forms.ChoiceField(
        label=_("severity"), required=False, choices=[("", _("All"))] + Alert.Severity.choices
    )
    node = forms.ModelChoiceField(
        Node.objects.none(), label=_("node"), required=False, empty_label=_("All")
    )
    date_from = forms.DateField(
        label=_("opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = own_nodes(user)

    def apply(self, alerts):
        """`alerts` narrowed to the valid filters (an invalid form filters nothing out)."""
        if not self.is_bound or not self.is_valid():
            return alerts
        data = self.cleaned_data
        if data["status"]:
            alerts = alerts.filter(status=data["status"])
        if data["severity"]:
            alerts = alerts.filter(severity=data["severity"])
        if data["node"]:
            alerts = alerts.filter(node=data["node"])
        if data["date_from"]:
            alerts = alerts.filter(opened_at__gte=_midnight(data["date_from"]))
        if data["date_to"]:
            alerts = alerts.filter(opened_at__lt=_midnight(data["date_to"], days=1))
        return alerts

    def is_filtering(self) -> bool:
        return self.is_bound and self.is_valid() and any(self.cleaned_data.values())


def _midnight(day, days: int = 0) -> datetime:
    """Midnight of `day` (+ days) in the current (the user's) time zone."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=days), time.min))


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("comment"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": _("Comment (optional)")}),
    )


class KindFieldsMixin:
    """Fields that only one kind of rule (or one trigger, one action) uses: the page hides
    the others, and the server drops what the browser still sent for them (a page without
    JavaScript shows them all), so that a value left in a hidden field cannot block the form.
    """

    # {form field that chooses: {choice: [fields it uses]}}
    depends: dict[str, dict[str, list[str]]] = {}

    def clean(self):
        cleaned = super().clean()
        for chooser, uses in self.depends.items():
            chosen = cleaned.get(chooser)
            wanted = set(uses.get(chosen, []))
            for name in {name for names in uses.values() for name in names} - wanted:
                self._errors.pop(name, None)
                cleaned[name] = self._unused_value(name)
        return cleaned

    def _unused_value(self, name):
        try:
            return self.instance._meta.get_field(name).get_default()
        except FieldDoesNotExist:  # a form-only field (a unit): its initial value
            return self.fields[name].initial

    def show_if(self) -> dict[str, str]:
        """{field: "chooser:choice,choice"}, for the page's data-show-if attributes."""
        shown = {}
        for chooser, uses in self.depends.items():
            for choice, names in uses.items():
                for name in names:
                    previous = shown.get(name, f"{chooser}:")
                    shown[name] = previous + ("" if previous.endswith(":") else ",") + choice
        return shown


class RuleForm(KindFieldsMixin, forms.ModelForm):
    DURATION_UNITS = [("s", _("seconds")), ("min", _("minutes"))]

    magnitude = forms.ChoiceField(label=_("magnitude"), required=False)
    duration = forms.IntegerField(label=_("held for"), min_value=0, initial=0, required=False)
    duration_unit = forms.ChoiceField(
        label=_("unit"), choices=DURATION_UNITS, initial="s", required=False
    )

    depends = {
        "kind": {
            AlertRule.Kind.THRESHOLD: [
                "magnitude",
                "comparison",
                "threshold",
                "threshold_high",
                "hysteresis",
                "duration",
                "duration_unit",
            ],
            AlertRule.Kind.OFFLINE: ["offline_intervals"],
            AlertRule.Kind.BUDGET: ["budget_kwh", "budget_period"],
        }
    }

    class Meta:
        model = AlertRule
        formfield_callback = formfield
        fields = [
            "name",
            "enabled",
            "kind",
            "node",
            "magnitude",
            "comparison",
            "threshold",
            "threshold_high",
            "hysteresis",
            "offline_intervals",
            "budget_kwh",
            "budget_period",
            "notify_interval",
            "webhook_url",
            "webhook_format",
        ]
        widgets = {
            "threshold": forms.NumberInput(attrs={"step": "any"}),
            "threshold_high": forms.NumberInput(attrs={"step": "any"}),
            "hysteresis": forms.NumberInput(attrs={"step": "any", "min": 0}),
            "budget_kwh": forms.NumberInput(attrs={"step": "any", "min": 0}),
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }
        labels = {"notify_interval": _("minutes between messages, at least")}
        help_texts = {
            "threshold_high": _("Only for “outside the range”: the range is threshold to this."),
            "offline_intervals": _(
                "Alert when the node has sent nothing for this many of its reporting intervals."
            ),
            "notify_interval": _(
                "Alerts of this rule that open sooner after the last message show here, "
                "without another e-mail or webhook."
            ),
            "webhook_url": _("Optional: also post each alert to this address."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        node = self.fields["node"]
        node.queryset = own_nodes(user)
        node.empty_label = _("Each of my nodes")
        node.required = False
        node.help_text = _("A rule for each of your nodes also watches the nodes you add later.")
        self.fields["magnitude"].choices = [("", "---------")] + [
            (m.key, f"{m.label} ({m.unit})" if m.unit else str(m.label)) for m in SAMPLED
        ]
        self.fields["kind"].choices = AlertRule.Kind.choices
        self.fields["comparison"].choices = Comparison.choices
        self.fields["budget_period"].choices = AlertRule.Period.choices
        self.fields["webhook_format"].choices = AlertRule.WebhookFormat.choices
        self.fields["comparison"].required = False
        self.fields["budget_period"].required = False
        for name, value in [
            ("kind", AlertRule.Kind.THRESHOLD),
            ("magnitude", "power"),
            ("comparison", Comparison.ABOVE),
            ("budget_period", AlertRule.Period.DAY),
        ]:
            if not self.initial.get(name):  # a new rule, or a choice its kind left empty
                self.initial[name] = value
        for name in ("hysteresis", "offline_intervals", "notify_interval"):
            self.fields[name].required = False
        for name in ("threshold", "threshold_high", "hysteresis", "budget_kwh"):
            value = self.initial.get(name)
            if isinstance(value, float) and value.is_integer():
                self.initial[name] = int(value)  # 3000, not 3000.0
        seconds = self.instance.duration or 0
        if not self.is_bound and seconds and seconds % 60 == 0:
            self.initial.update(duration=seconds // 60, duration_unit="min")
        elif not self.is_bound:
            self.initial.update(duration=seconds, duration_unit="s")

    def clean(self):
        cleaned = super().clean()
        for name in ("hysteresis", "offline_intervals", "notify_interval"):
            if cleaned.get(name) is None and name not in self._errors:
                cleaned[name] = self._unused_value(name)
        factor = 60 if cleaned.get("duration_unit") == "min" else 1
        self.instance.duration = (cleaned.get("duration") or 0) * factor
        return cleaned


class AutomationForm(KindFieldsMixin, forms.ModelForm):
    weekdays = forms.MultipleChoiceField(
        label=_("on"),
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    depends = {
        "trigger": {
            Automation.Trigger.ALERT_OPENED: ["rule"],
            Automation.Trigger.ALERT_RESOLVED: ["rule"],
            Automation.Trigger.SCHEDULE: ["at_time", "weekdays"],
        },
        "action": {
            Automation.Action.MQTT: ["node", "topic", "payload"],
            Automation.Action.WEBHOOK: ["webhook_url"],
        },
    }

    class Meta:
        model = Automation
        formfield_callback = formfield
        fields = [
            "name",
            "enabled",
            "trigger",
            "rule",
            "at_time",
            "weekdays",
            "action",
            "node",
            "topic",
            "payload",
            "webhook_url",
        ]
        widgets = {
            "at_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "topic": forms.TextInput(attrs={"class": "font-monospace", "spellcheck": "false"}),
            "payload": forms.Textarea(
                attrs={"rows": 3, "class": "font-monospace", "spellcheck": "false"}
            ),
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }
        help_texts = {
            "rule": _("Only the alerts of this rule start it."),
            "at_time": _("In your time zone."),
            "payload": _("Text or JSON, with the same placeholders as the topic."),
            "webhook_url": _("Posted a JSON body with the automation, the trigger and the alert."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        rule = self.fields["rule"]
        rule.queryset = AlertRule.objects.filter(owner=user).order_by("name")
        rule.empty_label = _("Any of my rules")
        node = self.fields["node"]
        node.queryset = own_nodes(user)
        node.empty_label = _("The alert's node")
        self.fields["trigger"].choices = Automation.Trigger.choices
        self.fields["action"].choices = Automation.Action.choices
        if not self.instance.pk:
            self.initial["trigger"] = Automation.Trigger.ALERT_OPENED
            self.initial["action"] = Automation.Action.MQTT
        if not self.is_bound:
            self.initial["weekdays"] = [
                day for day in self.instance.weekdays.split(",") if day.strip()
            ]

    def clean_weekdays(self):
        return ",".join(sorted(self.cleaned_data["weekdays"]))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("trigger") == Automation.Trigger.SCHEDULE and not cleaned.get("weekdays"):
            self.add_error("weekdays", _("Choose at least one day."))
        return cleaned

    def _unused_value(self, name):
        if name == "weekdays":
            return self.instance.weekdays or Automation._meta.get_field(name).get_default()
        if name in ("topic", "payload"):  # kept, so that switching back finds them
            return getattr(self.instance, name)
        return super()._unused_value(name)


class EnergyProfileForm(forms.ModelForm):
    CURRENCIES = ["USD", "EUR", "MXN", "GBP", "COP", "ARS", "CLP", "PEN", "BRL", "CAD"]

    class Meta:
        model = EnergyProfile
        fields = [
            "tariff",
            "currency",
            "price",
            "peak_price",
            "peak_start",
            "peak_end",
            "quiet_start",
            "quiet_end",
            "notify_email",
        ]
        widgets = {
            "price": forms.NumberInput(attrs={"step": "0.0001", "min": 0}),
            "peak_price": forms.NumberInput(attrs={"step": "0.0001", "min": 0}),
            "peak_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "peak_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "currency": forms.TextInput(
                attrs={"list": "currencies", "autocomplete": "off", "class": "text-uppercase"}
            ),
        }
        help_texts = {
            "currency": _("The code of your currency, e.g. USD, EUR, MXN."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("price", "peak_price"):
            value = self.initial.get(name)
            if value is not None:  # 0.12, not 0.1200
                amount = Decimal(str(value)).normalize()
                if amount.as_tuple().exponent > -2:
                    amount = amount.quantize(Decimal("0.01"))
                self.initial[name] = amount

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        quiet = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if (quiet[0] is None) != (quiet[1] is None):
            self.add_error("quiet_end", _("Give both ends of the quiet hours, or neither."))
        price, peak = cleaned.get("price"), cleaned.get("peak_price")
        for name, value in (("price", price), ("peak_price", peak)):
            if value is not None and value < 0:
                self.add_error(name, _("A price cannot be negative."))
        return cleaned
