"""The gallery's filters (one definition, used by the pages and the API) and a camera's
settings."""

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import TIME_ZONES

from . import selectors
from .models import Camera

SCORE_CHOICES = [
    ("", _("Any score")),
    ("0.01", "≥ 1 %"),
    ("0.05", "≥ 5 %"),
    ("0.1", "≥ 10 %"),
    ("0.25", "≥ 25 %"),
    ("0.5", "≥ 50 %"),
]


class EventFilter(forms.Form):
    """Events of a day (in the user's time zone), of one camera, from a least score.

    The gallery, its calendar, the delete-a-day page and the API's event list all read their
    filters through this form, so they cannot disagree."""

    date = forms.DateField(
        label=_("day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    camera = forms.ModelChoiceField(
        Camera.objects.all(), label=_("camera"), required=False, empty_label=_("All cameras")
    )
    min_score = forms.FloatField(
        label=_("least score"),
        required=False,
        min_value=0,
        max_value=1,
        help_text=_("The fraction of the picture that changed, from 0 to 1."),
        widget=forms.Select(choices=SCORE_CHOICES),
    )
    month = forms.RegexField(
        regex=r"^(19|20)\d\d-(0[1-9]|1[0-2])$", required=False, widget=forms.HiddenInput
    )

    def __init__(self, data=None, *, zone, **kwargs):
        super().__init__(data, **kwargs)
        self.zone = zone

    def clean_date(self):
        return self.cleaned_data.get("date") or None

    @property
    def day(self) -> datetime.date:
        """The chosen day, or today in the user's time zone."""
        chosen = self.cleaned_data.get("date") if self.is_valid() else None
        return chosen or timezone.now().astimezone(self.zone).date()

    def criteria(self) -> dict:
        """Keyword arguments of selectors.filter_events (empty when the filters are invalid)."""
        if not self.is_valid():
            return {}
        return {"camera": self.cleaned_data["camera"], "min_score": self.cleaned_data["min_score"]}

    @property
    def shown_month(self) -> tuple[int, int]:
        """The calendar's month: `month` (YYYY-MM) if given, else the chosen day's."""
        shown = self.cleaned_data.get("month") if self.is_valid() else None
        if shown:
            return int(shown[:4]), int(shown[5:])
        return self.day.year, self.day.month

    def apply(self, events, *, any_day: bool = False):
        """`events` narrowed to the filters: the chosen day or today, or with `any_day`
        every day unless a date was chosen (the API)."""
        if not self.is_valid():
            return events.none()
        day = self.cleaned_data["date"] if any_day else self.day
        return selectors.filter_events(events, zone=self.zone, day=day, **self.criteria())


class CameraForm(forms.ModelForm):
    """A camera's name, place, time zone and notifications."""

    time_zone = forms.ChoiceField(
        label=_("time zone"), choices=[(z, z) for z in TIME_ZONES], initial=settings.TIME_ZONE
    )
    discord_webhook_url = forms.URLField(
        label=Camera._meta.get_field("discord_webhook_url").verbose_name,
        max_length=500,
        required=False,
        assume_scheme="https",
    )
    webhook_url = forms.URLField(
        label=Camera._meta.get_field("webhook_url").verbose_name,
        max_length=500,
        required=False,
        assume_scheme="https",
    )

    class Meta:
        model = Camera
        fields = [
            "name",
            "location",
            "time_zone",
            "notify",
            "discord_webhook_url",
            "webhook_url",
            "quiet_start",
            "quiet_end",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "discord_webhook_url": forms.URLInput(
                attrs={"placeholder": "https://discord.com/api/webhooks/…"}
            ),
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }
        help_texts = {
            "notify": _("Send a webhook for each motion event (the web pages show them anyway)."),
            "discord_webhook_url": _(
                "A Discord channel's webhook: gets a message with the snapshot."
            ),
            "webhook_url": _("Gets a JSON POST for each event, for your own automations."),
            "quiet_start": _(
                "In the camera's time zone. During quiet hours events are stored but no "
                "webhook is sent. Leave both empty for none."
            ),
        }

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("A camera needs a name."), code="required")
        return name

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if (start is None) != (end is None):
            missing = "quiet_end" if end is None else "quiet_start"
            self.add_error(missing, _("Give both ends of the quiet hours, or leave both empty."))
        elif start is not None and start == end:
            self.add_error("quiet_end", _("The quiet hours must not start and end together."))
        for field in ("discord_webhook_url", "webhook_url"):
            url = cleaned.get(field) or ""
            if url and not url.lower().startswith(("https://", "http://")):
                self.add_error(field, _("Use an http:// or https:// address."))
        return cleaned
