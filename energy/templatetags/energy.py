"""Formatting for the energy pages: values with their units in the user's locale, node status
badges, and bucket labels. The pages' scripts format live values the same way (energy.js)."""

from datetime import datetime, timedelta

from django import template
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from energy.magnitudes import BY_KEY
from energy.nodes import Status

register = template.Library()

NBSP = "\u00a0"

STATUS_STYLE = {
    Status.ONLINE: ("success", "bi-check-circle-fill"),
    Status.SILENT: ("warning", "bi-pause-circle-fill"),
    Status.OFFLINE: ("danger", "bi-x-circle-fill"),
    Status.NEVER: ("secondary", "bi-question-circle"),
}


def number(value: float, decimals: int) -> str:
    # number_format cuts the digits it drops: round first (1.99 is "2.0", not "1.9").
    rounded = round(value, decimals)
    return formats.number_format(rounded, decimals, use_l10n=True, force_grouping=True)


@register.filter
def magnitude(value, key: str) -> str:
    """A value of magnitude `key` with its unit: "231.4 V", "1.25 kW"; "—" for no value."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if key == "power" and abs(value) >= 999_995:
        return f"{number(value / 1_000_000, 2)}{NBSP}MW"
    if key == "power" and abs(value) >= 999.5:
        return f"{number(value / 1000, 2)}{NBSP}kW"
    unit = BY_KEY[key].unit
    text = number(value, BY_KEY[key].decimals)
    return f"{text}{NBSP}{unit}" if unit else text


@register.filter
def kwh(value, decimals=2) -> str:
    if value is None:
        return "—"
    return f"{number(value, int(decimals))}{NBSP}kWh"


@register.filter
def signed_pct(value, decimals=1) -> str:
    """+1.5 % / −0.3 %, with a real minus sign."""
    if value is None:
        return "—"
    rounded = round(value, int(decimals))
    text = number(abs(rounded), int(decimals))
    sign = "+" if rounded > 0 else "−" if rounded < 0 else ""
    return f"{sign}{text}{NBSP}%"


@register.filter
def deviation_tone(value) -> str:
    """Bootstrap tone of a voltage deviation (%): EN 50160 allows ±10 %, we warn from ±5 %."""
    if value is None:
        return "secondary"
    size = abs(value)
    return "success" if size <= 5 else "warning" if size <= 10 else "danger"


@register.filter
def ago(value: datetime | None) -> str:
    if value is None:
        return _("never")
    elapsed = timezone.now() - value
    if elapsed < timedelta(minutes=1):
        return _("%(seconds)d s ago") % {"seconds": max(elapsed.total_seconds(), 0)}
    return _("%(time)s ago") % {"time": timesince(value, depth=1)}


@register.inclusion_tag("energy/_status_badge.html")
def status_badge(status: str, size: str = ""):
    tone, icon = STATUS_STYLE[status]
    return {
        "status": status,
        "label": Status.LABELS[status],
        "help": Status.HELP[status],
        "tone": tone,
        "icon": icon,
        "size": size,
    }


@register.simple_tag
def status_help(status: str) -> str:
    return Status.HELP[status]


def bucket_label(start: datetime, period: str, short: bool = False) -> str:
    """How a consumption bucket is named in a table (or, short, under a chart bar)."""
    start = timezone.localtime(start)
    if period == "hour":
        if short:
            return formats.date_format(start, "D H:i")
        return f"{formats.date_format(start, 'SHORT_DATE_FORMAT')} {start:%H}:00"
    if period == "day":
        if short:
            return formats.date_format(start, "MONTH_DAY_FORMAT")
        return (
            f"{formats.date_format(start, 'D')} {formats.date_format(start, 'SHORT_DATE_FORMAT')}"
        )
    if period == "month":
        return formats.date_format(start, "YEAR_MONTH_FORMAT")
    return str(start.year)


@register.simple_tag
def bucket(start: datetime, period: str) -> str:
    return bucket_label(start, period)
