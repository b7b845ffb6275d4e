"""The range of counts people look at, review or export — one definition for the pages and the
API: an intersection, optionally a camera or a line, `from` and `to`, a status, and for charts
the bucket (15min / hour / day).

`from` and `to` are an ISO 8601 date-time (with or without offset: without, the intersection's
time zone) or a date: `from=2026-03-01` is that day's midnight at the intersection, `to=2026-03-01`
includes the whole day. With neither, the range is today (the intersection's day).
"""

from datetime import date, datetime, timedelta

from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from . import selectors
from .models import CountLine, CountStatus, Intersection, TrafficCamera

BUCKET_CHOICES = [("15min", _("15 minutes")), ("hour", _("hour")), ("day", _("day"))]
MAX_RANGE = timedelta(days=400)


class MomentField(forms.CharField):
    """A date or a date-time (ISO 8601); cleaned to a `date` or a `datetime` (maybe naive)."""

    def to_python(self, value):
        value = super().to_python(value).strip()
        if not value:
            return None
        try:
            moment = parse_datetime(value.replace(" ", "+", 1) if "T" in value else value)
            if moment is None:
                moment = parse_date(value)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(
                _("A date (YYYY-MM-DD) or a date and time (ISO 8601)."), code="invalid"
            )
        return moment


class CountFilter(forms.Form):
    intersection = forms.ModelChoiceField(
        Intersection.objects.all(), label=_("intersection"), required=True
    )
    camera = forms.ModelChoiceField(
        TrafficCamera.objects.all(), label=_("camera"), required=False, empty_label=_("All")
    )
    line = forms.ModelChoiceField(
        CountLine.objects.all(), label=_("line"), required=False, empty_label=_("All")
    )
    status = forms.ChoiceField(
        label=_("status"),
        required=False,
        choices=[("", _("Any status")), *CountStatus.choices],
    )
    bucket = forms.ChoiceField(label=_("per"), required=False, choices=BUCKET_CHOICES)

    def __init__(self, data=None, *, intersection_required: bool = True, **kwargs):
        super().__init__(data, **kwargs)
        # `from` is a Python keyword: the fields are added by name.
        self.fields["from"] = MomentField(label=_("from"), required=False)
        self.fields["to"] = MomentField(label=_("to"), required=False)
        self.fields["intersection"].required = intersection_required

    def clean(self):
        data = super().clean()
        intersection = data.get("intersection")
        camera, line = data.get("camera"), data.get("line")
        if intersection and camera and camera.intersection_id != intersection.pk:
            self.add_error("camera", _("This camera is not at the intersection."))
        if intersection and line and line.camera.intersection_id != intersection.pk:
            self.add_error("line", _("This line is not at the intersection."))
        if camera and line and line.camera_id != camera.pk:
            self.add_error("line", _("This line is not the camera's."))
        if intersection and not self.errors:
            start, end = self._range(intersection, data.get("from"), data.get("to"))
            if end <= start:
                self.add_error("to", _("The end is not after the start."))
            elif end - start > MAX_RANGE:
                self.add_error("to", _("At most 400 days at once."))
            data["start"], data["end"] = start, end
        return data

    def _range(self, intersection, start, end) -> tuple[datetime, datetime]:
        zone = selectors.zone_of(intersection)
        start = _instant(start, zone, end_of_day=False)
        end = _instant(end, zone, end_of_day=True)
        if start is None and end is None:
            return selectors.today_bounds(intersection)
        if start is None:
            start = end - timedelta(days=1)
        if end is None:
            end = start + timedelta(days=1)
        return start, end

    def criteria(self) -> dict:
        """Keyword arguments of the selectors: intersection, start, end, camera, line."""
        data = self.cleaned_data
        return {
            "intersection": data["intersection"],
            "start": data["start"],
            "end": data["end"],
            "camera": data.get("camera"),
            "line": data.get("line"),
        }

    @property
    def statuses(self):
        status = self.cleaned_data.get("status")
        return [status] if status else None

    @property
    def chosen_bucket(self) -> str:
        return self.cleaned_data.get("bucket") or "hour"


def _instant(moment, zone, *, end_of_day: bool) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    assert isinstance(moment, date)
    start, end = selectors.day_bounds(moment, zone)
    return end if end_of_day else start


def form_errors(form) -> dict:
    """A Django form's errors in the API's shape: {"field": ["message", ...]}."""
    return {
        "non_field_errors" if field == "__all__" else field: list(errors)
        for field, errors in form.errors.items()
    }
