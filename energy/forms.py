from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User

from . import selectors
from .models import Node

VIEW_ALL = "energy.view_all_nodes"
CUSTOM = "custom"
LONGEST_RANGE = timedelta(days=3660)


class NodeForm(forms.ModelForm):
    """A node's settings. Admins adding one choose its owner; device keys are not edited here."""

    class Meta:
        model = Node
        fields = ["device_id", "name", "location", "description", "expected_interval"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "device_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["device_id"].help_text = _(
                "Changing it changes the MQTT topic: the meter must send the new id."
            )
        elif user.has_perm(VIEW_ALL):
            self.fields["owner"] = forms.ModelChoiceField(
                label=_("owner"),
                queryset=User.objects.filter(is_active=True).order_by("email"),
                initial=user,
                help_text=_("Who sees this node and its data (you see every node)."),
            )

    def clean_device_id(self):
        device_id = self.cleaned_data["device_id"].strip()
        taken = Node.objects.filter(device_id=device_id).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(
                _(
                    "A node with the device id “%(device_id)s” already exists: "
                    "every meter needs an id of its own."
                ),
                code="unique",
                params={"device_id": device_id},
            )
        return device_id

    def node_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ClaimForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("owner"), queryset=User.objects.filter(is_active=True).order_by("email")
    )
    name = forms.CharField(label=_("name"), max_length=100)


# --- the node dashboard's time range --------------------------------------------------------

RANGE_LABELS = {"1h": _("1 h"), "24h": _("24 h"), "7d": _("7 d"), "30d": _("30 d"), "1y": _("1 y")}
DEFAULT_RANGE = "24h"


def _moment_input():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class RangeForm(forms.Form):
    """A range back from now (1 h … 1 y), or a custom start and end (end default: now)."""

    range = forms.ChoiceField(
        label=_("range"), choices=[*RANGE_LABELS.items(), (CUSTOM, _("custom"))], required=False
    )
    start = forms.DateTimeField(label=_("from"), required=False, widget=_moment_input())
    end = forms.DateTimeField(label=_("to"), required=False, widget=_moment_input())

    def __init__(self, *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if data.get("range") != CUSTOM and not (start or end):
            return data
        data["range"] = CUSTOM
        end = end or self.now
        if start is None:
            self.add_error("start", _("Give the start of the range."))
        elif end <= start:
            self.add_error("end", _("The end must be after the start."))
        elif end - start > LONGEST_RANGE:
            self.add_error("start", _("A range is at most ten years."))
        return data

    def bounds(self) -> tuple[datetime, datetime, str]:
        """(start, end, range name) chosen, or the last 24 hours."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        name = data.get("range") or DEFAULT_RANGE
        if name == CUSTOM:
            return data["start"], data.get("end") or self.now, CUSTOM
        return self.now - selectors.RANGES[name], self.now, name


# --- consumption ------------------------------------------------------------------------

PERIOD_LABELS = {
    "hour": _("By hour"),
    "day": _("By day"),
    "month": _("By month"),
    "year": _("By year"),
}
# How many periods back each period offers, the first being the default.
LAST = {
    "hour": [(24, _("Last 24 hours")), (48, _("Last 48 hours")), (168, _("Last 7 days"))],
    "day": [
        (30, _("Last 30 days")),
        (7, _("Last 7 days")),
        (90, _("Last 90 days")),
        (365, _("Last 365 days")),
    ],
    "month": [(12, _("Last 12 months")), (24, _("Last 24 months")), (60, _("Last 5 years"))],
    "year": [(5, _("Last 5 years")), (10, _("Last 10 years"))],
}
MAX_BUCKETS = 1000
ALL_MINE, EVERYONE = "", "all"


class ConsumptionForm(forms.Form):
    """Which consumption to show: per what period, of which nodes, over which stretch."""

    period = forms.ChoiceField(label=_("period"), choices=PERIOD_LABELS.items(), required=False)
    node = forms.ChoiceField(label=_("nodes"), required=False)
    last = forms.TypedChoiceField(
        label=_("range"),
        coerce=int,
        required=False,
        choices=sorted({(n, label) for options in LAST.values() for n, label in options}),
    )
    start = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, nodes: list[Node], user, now: datetime, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.nodes = {str(node.pk): node for node in nodes}
        self.user, self.now, self.zone = user, now, zone
        choices = [(ALL_MINE, _("All my nodes"))]
        if user.has_perm(VIEW_ALL):
            choices.append((EVERYONE, _("Every user's nodes")))
        for pk, node in self.nodes.items():
            mine = node.owner_id == user.pk
            choices.append((pk, node.name if mine else f"{node.name} · {node.owner}"))
        self.fields["node"].choices = choices

    def clean(self):
        data = super().clean()
        period = data["period"] = data.get("period") or "day"
        if data.get("last") not in dict(LAST[period]):
            data["last"] = LAST[period][0][0]
        start, end = data.get("start"), data.get("end")
        today = self.now.astimezone(self.zone).date()
        if end and not start:
            self.add_error("start", _("Give the start of the range."))
        elif start and start > today:
            self.add_error("start", _("The start is in the future."))
        elif start and end and end < start:
            self.add_error("end", _("The end must be after the start."))
        elif start:
            days = (min(end or today, today) - start).days + 1
            buckets = {"hour": days * 24, "day": days, "month": days / 28, "year": days / 365}
            if buckets[period] > MAX_BUCKETS:
                self.add_error(
                    None, _("That is too many bars: choose a shorter range or a longer period.")
                )
        return data

    @property
    def choice(self) -> dict:
        """The valid choice, or the defaults (by day, all my nodes, the last 30 days)."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data
        period = getattr(self, "cleaned_data", {}).get("period") or "day"
        return {"period": period, "last": LAST[period][0][0], "node": ALL_MINE}

    @property
    def period_name(self) -> str:
        return self.choice["period"]

    @property
    def last_options(self) -> list:
        return LAST[self.period_name]

    def selected_nodes(self) -> list[Node]:
        node = self.choice.get("node") or ALL_MINE
        if node == EVERYONE and self.user.has_perm(VIEW_ALL):
            return list(self.nodes.values())
        if node in self.nodes:
            return [self.nodes[node]]
        return [n for n in self.nodes.values() if n.owner_id == self.user.pk]

    def window(self) -> tuple[datetime, datetime]:
        """Whole periods back from the current one (which ends now), or from the start
        date's midnight to the end of the end date (or now)."""
        choice, zone = self.choice, self.zone
        if choice.get("start"):
            start = _midnight(choice["start"], zone)
            end = _midnight(choice["end"] + timedelta(days=1), zone) if choice.get("end") else None
            return start, min(end, self.now) if end else self.now
        current = selectors.period_start(self.period_name, self.now, zone)
        return _periods_back(self.period_name, current, choice["last"] - 1, zone), self.now


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone)


def _periods_back(period: str, start: datetime, count: int, zone: ZoneInfo) -> datetime:
    if period == "hour":
        return (start.astimezone(ZoneInfo("UTC")) - timedelta(hours=count)).astimezone(zone)
    day = start.date()
    if period == "day":
        return _midnight(day - timedelta(days=count), zone)
    if period == "month":
        months = day.year * 12 + day.month - 1 - count
        return _midnight(date(months // 12, months % 12 + 1, 1), zone)
    return _midnight(date(day.year - count, 1, 1), zone)
