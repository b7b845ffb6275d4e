"""Small formatting helpers of the surveillance pages."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def score(value) -> str:
    """A detection score (a fraction of the picture) as a percentage: 0.034 → "3.4 %"."""
    if value is None:
        return "—"
    percent = float(value) * 100
    return f"{number_format(percent, 1 if percent < 10 else 0)} %"


@register.filter
def ago(value: datetime | None) -> str:
    if value is None:
        return _("never")
    elapsed = timezone.now() - value
    if elapsed < timedelta(minutes=1):
        return _("%(seconds)d s ago") % {"seconds": max(elapsed.total_seconds(), 0)}
    return _("%(time)s ago") % {"time": timesince(value, depth=1)}
