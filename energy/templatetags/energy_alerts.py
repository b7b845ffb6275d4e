"""The navbar's alert bell, and how alerts, rules, automations and advice read on their pages:
badges, one-line summaries, and the figures of an alert or a recommendation."""

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django import template
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from energy import alerts
from energy.alert_forms import WEEKDAYS
from energy.magnitudes import BY_KEY
from energy.models import Alert, AlertRule, AutomationRun, Comparison

register = template.Library()

NBSP = "\u00a0"

SEVERITY_STYLE = {
    Alert.Severity.INFO: ("info", "bi-info-circle-fill"),
    Alert.Severity.WARNING: ("warning", "bi-exclamation-triangle-fill"),
    Alert.Severity.CRITICAL: ("danger", "bi-exclamation-octagon-fill"),
}
STATUS_STYLE = {
    Alert.Status.OPEN: ("danger", "bi-bell-fill"),
    Alert.Status.ACKNOWLEDGED: ("warning", "bi-eye-fill"),
    Alert.Status.RESOLVED: ("success", "bi-check-circle-fill"),
}
OUTCOME_STYLE = {
    AutomationRun.Outcome.PENDING: ("secondary", "bi-hourglass-split"),
    AutomationRun.Outcome.OK: ("success", "bi-check-circle-fill"),
    AutomationRun.Outcome.FAILED: ("danger", "bi-x-circle-fill"),
}

# Labels of the figures rules put in an alert's values (energy.rules).
VALUE_LABELS = {
    "threshold": gettext_lazy("threshold"),
    "threshold_high": gettext_lazy("upper threshold"),
    "since": gettext_lazy("condition held since"),
    "kwh": gettext_lazy("energy used"),
    "budget_kwh": gettext_lazy("budget"),
    "from": gettext_lazy("counted from"),
    "last_reading_at": gettext_lazy("last reading"),
    "silent_seconds": gettext_lazy("silent for"),
    "expected_interval": gettext_lazy("expected interval"),
    "reported": gettext_lazy("reported again"),
    "new_period": gettext_lazy("new period"),
}
# Units that end the names of a recommendation's evidence figures: "base_w" → W,
# "peak_kwh_year" → kWh/year. Longest first.
SUFFIX_UNITS = [
    (("kwh", "year"), "kWh/year"),
    (("kwh", "month"), "kWh/month"),
    (("kwh", "day"), "kWh/day"),
    (("kwh",), "kWh"),
    (("kw",), "kW"),
    (("w",), "W"),
    (("v",), "V"),
    (("a",), "A"),
    (("hz",), "Hz"),
    (("pct",), "%"),
    (("percent",), "%"),
]
# Translated names of the evidence figures the advice gives today (energy.recommendations);
# others read as their key.
EVIDENCE_LABELS = {
    "base": gettext_lazy("base load"),
    "nights": gettext_lazy("nights measured"),
    "night_hours": gettext_lazy("night hours"),
    "time_zone": gettext_lazy("time zone"),
    "standby": gettext_lazy("standby energy"),
    "share_saved": gettext_lazy("share saved"),
    "price": gettext_lazy("price"),
    "peak_price": gettext_lazy("peak price"),
    "peak": gettext_lazy("in peak hours"),
    "peak_hours": gettext_lazy("peak hours"),
    "shift_share": gettext_lazy("share moved"),
    "shifted": gettext_lazy("moved out of peak hours"),
    "nodes": gettext_lazy("nodes"),
    "average_power_factor": gettext_lazy("average power factor"),
    "target_power_factor": gettext_lazy("target power factor"),
    "readings": gettext_lazy("readings"),
    "kwh_year": gettext_lazy("consumption"),
    "loss_share": gettext_lazy("wiring losses"),
    "losses": gettext_lazy("losses"),
    "last_week": gettext_lazy("last 7 days"),
    "usual_week": gettext_lazy("a usual week"),
    "rise": gettext_lazy("rise"),
    "excess": gettext_lazy("excess"),
    "min": gettext_lazy("lowest power"),
    "mean": gettext_lazy("mean power"),
    "hours_off_a_night": gettext_lazy("hours off a night"),
}


# --- the navbar's bell ---------------------------------------------------------------------


@register.inclusion_tag("energy/alerts/_badge.html", takes_context=True)
def open_alerts_badge(context):
    """The bell with the count of the user's open alerts (site.js keeps it live)."""
    user = context.get("user")
    count = alerts.open_count(user.pk) if user and user.is_authenticated else 0
    request = context.get("request")
    current = bool(request and request.resolver_match and request.resolver_match.url_name)
    active = current and request.resolver_match.view_name == "energy:alerts"
    return {"user": user, "count": count, "active": active}


# --- badges ----------------------------------------------------------------------------------


@register.inclusion_tag("energy/alerts/_pill.html")
def severity_badge(severity: str):
    tone, icon = SEVERITY_STYLE.get(severity, ("secondary", "bi-question-circle"))
    return {"tone": tone, "icon": icon, "label": Alert.Severity(severity).label, "kind": severity}


@register.inclusion_tag("energy/alerts/_pill.html")
def alert_status_badge(status: str):
    tone, icon = STATUS_STYLE[status]
    return {"tone": tone, "icon": icon, "label": Alert.Status(status).label, "kind": status}


@register.inclusion_tag("energy/alerts/_pill.html")
def outcome_badge(outcome: str):
    tone, icon = OUTCOME_STYLE[outcome]
    label = AutomationRun.Outcome(outcome).label
    return {"tone": tone, "icon": icon, "label": label, "kind": outcome}


@register.filter
def severity_tone(severity: str) -> str:
    return SEVERITY_STYLE.get(severity, ("secondary", ""))[0]


# --- numbers -------------------------------------------------------------------------------


def _number(value, decimals: int = 2, trim: bool = True) -> str:
    """In the user's locale; `trim`: a whole number without decimals (2, not 2.00)."""
    if not math.isfinite(float(value)):
        return str(value)
    rounded = round(float(value), decimals)
    if trim and rounded == int(rounded):
        decimals = 0
    return formats.number_format(rounded, decimals, use_l10n=True, force_grouping=True)


def _with_unit(value, unit: str, decimals: int = 2, trim: bool = True) -> str:
    text = _number(value, decimals, trim)
    return f"{text}{NBSP}{unit}" if unit else text


def _seconds(value) -> str:
    """A span as people say it: "45 s", "1 min 30 s", "5 min", "2 h 05 min"."""
    seconds = round(value)
    if seconds < 60:
        return _("%(count)d s") % {"count": seconds}
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        if rest and minutes < 10:
            return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
        return _("%(count)d min") % {"count": round(seconds / 60)}
    return _("%(hours)d h %(minutes)02d min") % {
        "hours": seconds // 3600,
        "minutes": seconds % 3600 // 60,
    }


def _moment(value) -> str:
    """An ISO time or date from an alert's values (or another system's), in the user's zone;
    anything else as it is."""
    if not isinstance(value, str):
        return _plain(value)
    try:
        day = parse_date(value) if len(value) == 10 else None  # a bare date, not midnight
        moment = None if day else parse_datetime(value)
    except ValueError:  # shaped like a date but not one (2024-13-45)
        return value
    if moment is not None:
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    return formats.date_format(day, "SHORT_DATE_FORMAT") if day else value


@register.filter
def duration_seconds(value) -> str:
    """A rule's "held for" in seconds, as people say it: "45 s", "5 min", "1 h 30 min"."""
    if not value:
        return _("at once")
    return _seconds(value)


def _price_text(value) -> str:
    """A price per kWh: its own decimals, at least two, at most four (0.12, 0.1275)."""
    amount = Decimal(str(value)).quantize(Decimal("0.0001"))
    decimals = max(2, -amount.normalize().as_tuple().exponent)
    return formats.number_format(amount, min(decimals, 4), use_l10n=True, force_grouping=True)


@register.filter
def price(value, currency: str = "") -> str:
    if value is None or value == "":
        return "—"
    return f"{_price_text(value)}{NBSP}{currency}/kWh" if currency else _price_text(value)


@register.filter
def money(value, currency: str = "") -> str:
    if value is None:
        return "—"
    text = formats.number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    return f"{text}{NBSP}{currency}" if currency else text


# --- an alert's figures ----------------------------------------------------------------------


@register.simple_tag
def alert_figures(alert: Alert) -> list[dict]:
    """The values that opened the alert, as [{label, text}], and under "cleared" the ones that
    resolved it."""
    values = alert.values or {}
    unit = values.get("unit", "")
    figures = _figures(values, unit)
    cleared = values.get("cleared")
    if isinstance(cleared, dict) and cleared:
        cleared_figures = _figures(cleared, unit)
        if cleared_figures:
            figures.append(
                {
                    "label": _("cleared with"),
                    "text": "; ".join(f"{f['label']} {f['text']}" for f in cleared_figures),
                    "cleared": True,
                }
            )
    return figures


def _figures(values: dict, unit: str) -> list[dict]:
    figures = []
    for key, value in values.items():
        if key in ("unit", "cleared") or value is None or value == "":
            continue
        figures.append({"label": _label(key), "text": _value_text(key, value, unit)})
    return figures


def _label(key: str) -> str:
    if key in BY_KEY:
        return str(BY_KEY[key].label).lower()
    if key in VALUE_LABELS:
        return str(VALUE_LABELS[key])
    return key.replace("_", " ")


def _value_text(key: str, value, unit: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in BY_KEY and isinstance(value, int | float):
        magnitude = BY_KEY[key]
        return _with_unit(value, magnitude.unit, magnitude.decimals, trim=False)
    if key in ("threshold", "threshold_high") and isinstance(value, int | float):
        return _with_unit(value, unit)
    if key in ("kwh", "budget_kwh") and isinstance(value, int | float):
        return _with_unit(value, "kWh")
    if key in ("silent_seconds",) and isinstance(value, int | float):
        return _seconds(value)
    if key == "expected_interval" and isinstance(value, int | float):
        return _seconds(value)
    if key in ("since", "last_reading_at", "from", "new_period"):
        return _moment(value)
    return _plain(value)


def _plain(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    return str(value)


# --- a recommendation's evidence -------------------------------------------------------------


@register.simple_tag
def evidence_rows(evidence, currency: str = "") -> list[dict]:
    """A recommendation's evidence as rows of a small table: [{label, text}]. A key ending in
    a unit shows it (base_w: W), shares show as percentages and prices in the currency."""
    if isinstance(evidence, list):
        return [
            {"label": str(n), "text": _evidence_text(item, currency)}
            for n, item in enumerate(evidence, 1)
        ]
    if not isinstance(evidence, dict):
        return [{"label": "", "text": _plain(evidence)}] if evidence else []
    rows = []
    for key, value in evidence.items():
        label, text = _evidence_figure(str(key), value, currency)
        rows.append({"label": label[:1].upper() + label[1:], "text": text})
    return rows


def _evidence_figure(key: str, value, currency: str) -> tuple[str, str]:
    words = key.lower().split("_")
    name, unit = key, None
    for suffix, suffix_unit in SUFFIX_UNITS:
        if len(words) >= len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            name, unit = "_".join(key.split("_")[: -len(suffix)]), suffix_unit
            break
    label = (
        EVIDENCE_LABELS.get((name or key).lower())
        or EVIDENCE_LABELS.get(key.lower())
        or (name or key).replace("_", " ")
    )
    label = str(label)
    number = _as_number(value)
    if unit and number is not None:
        return label, _with_unit(number, unit, 1)
    if number is not None and "share" in words and 0 <= number <= 1:
        return label, _with_unit(number * 100, "%", 1)
    if number is not None and "price" in words:
        return label, price(value, currency)
    return label, _evidence_text(value, currency)


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return None
    return None


def _evidence_text(value, currency: str) -> str:
    if isinstance(value, dict):
        named = {k: v for k, v in value.items() if k not in ("device_id", "node", "name")}
        parts = [_evidence_figure(str(k), v, currency) for k, v in named.items()]
        text = ", ".join(f"{label} {text}" for label, text in parts)
        if len(parts) == 1:
            text = parts[0][1]
        name = value.get("name") or value.get("node") or value.get("device_id")
        return f"{name}: {text}" if name is not None else text
    if isinstance(value, list):
        return "; ".join(_evidence_text(item, currency) for item in value)
    if isinstance(value, str):
        return _moment(value)
    return _plain(value)


# --- summaries -------------------------------------------------------------------------------


@register.simple_tag
def rule_summary(rule: AlertRule) -> str:
    """One line a person reads: "Power above 2 kW for 5 min"."""
    if rule.kind == AlertRule.Kind.OFFLINE:
        return _("No data for %(count)d reporting intervals") % {"count": rule.offline_intervals}
    if rule.kind == AlertRule.Kind.BUDGET:
        text = (
            _("More than %(kwh)s per day")
            if rule.budget_period == AlertRule.Period.DAY
            else _("More than %(kwh)s per month")
        )
        return text % {"kwh": _with_unit(rule.budget_kwh or 0, "kWh")}
    magnitude = BY_KEY.get(rule.magnitude)
    if magnitude is None or rule.threshold is None:
        return _("Incomplete threshold")
    limit = _with_unit(rule.threshold, magnitude.unit, magnitude.decimals)
    if rule.comparison == Comparison.OUTSIDE:
        high = _with_unit(rule.threshold_high or 0, magnitude.unit, magnitude.decimals)
        text = _("%(magnitude)s outside %(low)s – %(high)s") % {
            "magnitude": magnitude.label,
            "low": limit,
            "high": high,
        }
    elif rule.comparison == Comparison.BELOW:
        text = _("%(magnitude)s below %(limit)s") % {"magnitude": magnitude.label, "limit": limit}
    else:
        text = _("%(magnitude)s above %(limit)s") % {"magnitude": magnitude.label, "limit": limit}
    if rule.duration:
        text = _("%(condition)s for %(duration)s") % {
            "condition": text,
            "duration": _seconds(rule.duration),
        }
    return text


@register.simple_tag
def weekdays_text(weekdays: str) -> str:
    chosen = {day.strip() for day in weekdays.split(",") if day.strip()}
    if len(chosen) == 7:
        return _("every day")
    if chosen == {"0", "1", "2", "3", "4"}:
        return _("Monday to Friday")
    if chosen == {"5", "6"}:
        return _("weekends")
    return ", ".join(str(label) for key, label in WEEKDAYS if key in chosen)


@register.filter
def local_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


@register.filter
def took(start: datetime | None, end: datetime | None) -> str:
    """How long from one moment to another: "3 min"."""
    if start is None or end is None:
        return ""
    return _seconds(max((end - start) / timedelta(seconds=1), 0))


# --- forms -----------------------------------------------------------------------------------


@register.filter
def control(field, extra: str = ""):
    """A bound field's widget with Bootstrap's classes, keeping the widget's own."""
    widget = field.field.widget
    if field.widget_type == "checkbox":
        css = "form-check-input"
    elif field.widget_type in ("select", "nullbooleanselect"):
        css = "form-select"
    else:
        css = "form-control"
    css = " ".join(filter(None, [css, widget.attrs.get("class", ""), extra]))
    if field.errors:
        css += " is-invalid"
    attrs = {"class": css}
    if field.errors:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}-errors"
    return field.as_widget(attrs=attrs)


@register.filter
def show_if(form, name: str) -> str:
    """The data-show-if of a field: "kind:threshold" (energy/alerts.js hides it otherwise)."""
    shown = getattr(form, "show_if", None)
    return shown().get(name, "") if shown else ""
