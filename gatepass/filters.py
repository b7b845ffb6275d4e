"""One definition of the movement filters, used by the history page, its CSV and the API."""

from datetime import datetime, time

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Outcome
from .models import Driver, Station, normalize_licence


class MovementFilter(forms.Form):
    date_from = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    station = forms.ModelChoiceField(Station.objects.all(), label=_("station"), required=False)
    # A name or licence number to look for (or a driver's id): a list of every driver would
    # weigh more than the page.
    driver = forms.CharField(
        label=_("driver"),
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"placeholder": _("name or licence")}),
    )
    company = forms.ChoiceField(label=_("company"), required=False)
    outcome = forms.ChoiceField(
        label=_("outcome"), required=False, choices=[("", _("All"))] + Outcome.choices
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        companies = Driver.objects.exclude(company="").order_by("company")
        self.fields["company"].choices = [("", _("All"))] + [
            (name, name) for name in companies.values_list("company", flat=True).distinct()
        ]

    def apply(self, movements):
        """`movements` narrowed to the valid filters (invalid ones are ignored)."""
        if not self.is_valid():
            return movements.none()
        data = self.cleaned_data
        if data["date_from"]:
            movements = movements.filter(occurred_at__gte=_start_of(data["date_from"]))
        if data["date_to"]:
            movements = movements.filter(occurred_at__lt=_start_of(data["date_to"], days=1))
        if data["station"]:
            movements = movements.filter(station=data["station"])
        if data["driver"]:
            movements = movements.filter(driver__in=_drivers_matching(data["driver"]))
        if data["company"]:
            # Exact: the (company, time) index answers it; a case-blind match would scan.
            movements = movements.filter(company=data["company"])
        if data["outcome"]:
            movements = movements.filter(outcome=data["outcome"])
        return movements


def _drivers_matching(text: str) -> list[int]:
    text = text.strip()
    if text.isdigit():
        return [int(text)]
    found = Driver.objects.filter(
        Q(name__icontains=text) | Q(licence_number=normalize_licence(text))
    )
    return list(found.values_list("pk", flat=True)[:500])


def _start_of(day, days: int = 0) -> datetime:
    """Midnight of `day` (+ days) in the current (the user's) time zone."""
    from datetime import timedelta

    return timezone.make_aware(datetime.combine(day + timedelta(days=days), time.min))
