"""The traffic pages' forms: intersections, a camera's analysis variables, its counting lines
and masks (from the line editor), the history's range, the validation range and the
analyst's corrections."""

import datetime
import json
import math

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import TIME_ZONES

from . import cameras
from .models import CountLine, Intersection, TrafficCamera, VehicleClass

SIZE_CLASS_FIELDS = {VehicleClass.CAR: "car_min_area", VehicleClass.TRUCK: "truck_min_area"}
MAX_LINES = 12
MAX_MASKS = 12
MAX_MASK_POINTS = 64
MIN_LINE_LENGTH = 10  # pixels of the frame: shorter is a slip of the mouse


class IntersectionForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("time zone"), choices=[(z, z) for z in TIME_ZONES], initial=settings.TIME_ZONE
    )

    class Meta:
        model = Intersection
        fields = ["name", "location", "time_zone", "flowtrack_id"]
        help_texts = {
            "time_zone": _("Hours and days of the counts are cut in this time zone."),
            "flowtrack_id": _("The intersection's id in FlowTrack, sent with its counts."),
        }


class CameraForm(forms.ModelForm):
    """A camera's name, stream and analysis variables; the size classes as two thresholds.

    The minimum blob area and the size classes are automatic when left blank (the counter
    decides them from the camera's frame and the vehicles it sees). Saving tells the camera's
    agent to reload its configuration when anything it uses changed.
    """

    car_min_area = forms.IntegerField(
        label=_("car from (px)"),
        min_value=1,
        required=False,
        help_text=_("Vehicles with a smaller blob are motorbikes."),
    )
    truck_min_area = forms.IntegerField(
        label=_("truck from (px)"),
        min_value=2,
        required=False,
        help_text=_("Blob area in the camera's frame pixels."),
    )

    class Meta:
        model = TrafficCamera
        fields = [
            "name",
            "source",
            "width",
            "height",
            "interval_minutes",
            "min_blob_area",
            "sensitivity",
        ]
        widgets = {
            "source": forms.TextInput(attrs={"placeholder": format_lazy("rtsp://… {} 0", _("or"))}),
            "min_blob_area": forms.NumberInput(attrs={"placeholder": _("automatic")}),
            "sensitivity": forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
        }
        help_texts = {
            "source": _("A camera index, a video file or an rtsp:// address the agent opens."),
            "width": _("The frame size the agent analyses, in pixels."),
            "interval_minutes": _("The length of each count interval."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in SIZE_CLASS_FIELDS.values():
            self.fields[field].widget.attrs["placeholder"] = _("automatic")
        thresholds = {
            item.get("class"): item.get("min_area")
            for item in (self.instance.size_classes or [])
            if isinstance(item, dict)
        }
        for vehicle_class, field in SIZE_CLASS_FIELDS.items():
            if thresholds.get(vehicle_class) is not None:
                self.initial.setdefault(field, thresholds[vehicle_class])

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("A camera needs a name."), code="required")
        return name

    def clean(self):
        cleaned = super().clean()
        car, truck = cleaned.get("car_min_area"), cleaned.get("truck_min_area")
        given = [name for name in SIZE_CLASS_FIELDS.values() if cleaned.get(name) is not None]
        missing = set(SIZE_CLASS_FIELDS.values()) - set(given) - set(self.errors)
        if given and missing:
            for name in missing:
                self.add_error(
                    name, _("Give both thresholds, or leave both blank for automatic classes.")
                )
        elif car is not None and truck is not None and truck <= car:
            self.add_error("truck_min_area", _("A truck must be larger than a car."))
        return cleaned

    def size_classes(self) -> list[dict] | None:
        """The classes from the two thresholds; None (automatic) when both are blank."""
        car, truck = self.cleaned_data["car_min_area"], self.cleaned_data["truck_min_area"]
        if car is None and truck is None:
            return None
        return [
            {"class": VehicleClass.MOTORBIKE.value, "min_area": 0},
            {"class": VehicleClass.CAR.value, "min_area": car},
            {"class": VehicleClass.TRUCK.value, "min_area": truck},
        ]

    def analysis_fields(self) -> dict:
        """The model fields this form sets, size classes included (for camera_create)."""
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        return {**fields, "size_classes": self.size_classes()}

    @transaction.atomic
    def save(self, commit=True):
        camera = super().save(commit=False)
        # Untouched thresholds keep what is stored (classes set by the API may be others).
        if set(SIZE_CLASS_FIELDS.values()) & set(self.changed_data):
            camera.size_classes = self.size_classes()
        camera.save()
        if self.has_changed() and set(self.changed_data) - {"name"}:
            cameras.config_changed(camera.pk)
            camera.refresh_from_db(fields=["config_version"])
        return camera


def _number(value, upper: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise forms.ValidationError(_("%(what)s must be a number.") % {"what": what})
    if not 0 <= value <= upper:
        raise forms.ValidationError(
            _("%(what)s must lie inside the frame (0 to %(upper)s).")
            % {"what": what, "upper": int(upper)}
        )
    return round(float(value), 1)


class LinesForm(forms.Form):
    """The line editor's save: every line of the camera (new ones without an id) and its masks,
    as JSON in frame pixels. Lines left out are deleted (with their counts)."""

    lines = forms.JSONField(required=False)  # [] is valid: every line deleted
    masks = forms.JSONField(required=False)

    def __init__(self, data=None, *, camera: TrafficCamera, **kwargs):
        super().__init__(data, **kwargs)
        self.camera = camera

    def clean_lines(self):
        lines = self.cleaned_data["lines"]
        if "lines" not in self.data or not isinstance(lines, list):
            raise forms.ValidationError(_("Send a list of lines."))
        if len(lines) > MAX_LINES:
            raise forms.ValidationError(
                _("At most %(count)d lines per camera.") % {"count": MAX_LINES}
            )
        known = set(self.camera.lines.values_list("pk", flat=True))
        cleaned, names = [], set()
        for position, line in enumerate(lines, start=1):
            cleaned.append(self._clean_line(line, position, known))
            key = cleaned[-1]["name"].casefold()
            if key in names:
                raise forms.ValidationError(
                    _("Two lines are named “%(name)s”: give each its own name.")
                    % {"name": cleaned[-1]["name"]}
                )
            names.add(key)
        return cleaned

    def _clean_line(self, line, position: int, known: set[int]) -> dict:
        if not isinstance(line, dict):
            raise forms.ValidationError(_("Line %(n)d is not a line.") % {"n": position})
        name = str(line.get("name") or "").strip()
        if not name:
            raise forms.ValidationError(_("Line %(n)d needs a name.") % {"n": position})
        if len(name) > 50:
            raise forms.ValidationError(_("The name “%(name)s” is too long.") % {"name": name})
        width, height = self.camera.width, self.camera.height
        x1 = _number(line.get("x1"), width, "x1")
        y1 = _number(line.get("y1"), height, "y1")
        x2 = _number(line.get("x2"), width, "x2")
        y2 = _number(line.get("y2"), height, "y2")
        if math.hypot(x2 - x1, y2 - y1) < MIN_LINE_LENGTH:
            raise forms.ValidationError(_("The line “%(name)s” is too short.") % {"name": name})
        line_id = line.get("id")
        if line_id is not None and line_id not in known:
            raise forms.ValidationError(
                _("The line “%(name)s” is not one of this camera's.") % {"name": name}
            )
        labels = {
            field: str(line.get(field) or "").strip()[:50] for field in ("in_label", "out_label")
        }
        return {"id": line_id, "name": name, "x1": x1, "y1": y1, "x2": x2, "y2": y2, **labels}

    def clean_masks(self):
        masks = self.cleaned_data.get("masks") or []
        if not isinstance(masks, list) or len(masks) > MAX_MASKS:
            raise forms.ValidationError(
                _("Send at most %(count)d masks, each a list of points.") % {"count": MAX_MASKS}
            )
        cleaned = []
        for polygon in masks:
            if not isinstance(polygon, list) or not 3 <= len(polygon) <= MAX_MASK_POINTS:
                raise forms.ValidationError(_("A mask needs at least three points."))
            points = []
            for point in polygon:
                if not isinstance(point, list | tuple) or len(point) != 2:
                    raise forms.ValidationError(_("A mask's point is two numbers."))
                points.append(
                    [
                        _number(point[0], self.camera.width, "x"),
                        _number(point[1], self.camera.height, "y"),
                    ]
                )
            cleaned.append(points)
        return cleaned

    @transaction.atomic
    def save(self) -> TrafficCamera:
        """Store the lines and masks; the camera's agent reloads its configuration."""
        camera = TrafficCamera.objects.select_for_update().get(pk=self.camera.pk)
        lines = self.cleaned_data["lines"]
        kept = {line["id"] for line in lines if line["id"] is not None}
        camera.lines.exclude(pk__in=kept).delete()
        existing = {line.pk: line for line in camera.lines.filter(pk__in=kept)}
        # Names are unique per camera: park the kept lines' names before renaming any (two
        # lines may swap names in one save).
        for line in existing.values():
            line.name = f"\x00{line.pk}"
            line.save(update_fields=["name"])
        for data in lines:
            fields = {key: value for key, value in data.items() if key != "id"}
            if data["id"] is None:
                CountLine.objects.create(camera=camera, **fields)
            else:
                line = existing[data["id"]]
                for key, value in fields.items():
                    setattr(line, key, value)
                line.save()
        camera.masks = self.cleaned_data["masks"]
        camera.save(update_fields=["masks"])
        cameras.config_changed(camera.pk)
        camera.refresh_from_db(fields=["config_version"])
        return camera

    @classmethod
    def from_request(cls, request, *, camera):
        """The editor posts JSON; a plain form posts `lines` and `masks` as JSON strings."""
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            data = {key: json.dumps(body.get(key)) for key in ("lines", "masks") if key in body}
            return cls(data, camera=camera)
        return cls(request.POST, camera=camera)


# --- history and validation ----------------------------------------------------------------


class HistoryForm(forms.Form):
    """A range of days ending on `date` (in the intersection's time zone) and a bucket size."""

    SPANS = {"day": 1, "week": 7, "month": None}
    BUCKET_FOR_SPAN = {"day": "15min", "week": "hour", "month": "day"}

    span = forms.ChoiceField(
        label=_("range"),
        required=False,
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )
    date = forms.DateField(
        label=_("day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    bucket = forms.ChoiceField(
        label=_("per"),
        required=False,
        choices=[("15min", _("15 minutes")), ("hour", _("hour")), ("day", _("day"))],
    )

    def __init__(self, data=None, *, today: datetime.date, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today

    def choice(self) -> dict:
        """The chosen span, its first and last day (both inclusive) and the bucket."""
        cleaned = self.cleaned_data if self.is_valid() else {}
        span = cleaned.get("span") or "day"
        day = cleaned.get("date") or self.today
        if span == "month":
            first = day.replace(day=1)
            last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(1)
        else:
            last = day
            first = day - datetime.timedelta(days=self.SPANS[span] - 1)
        bucket = cleaned.get("bucket") or self.BUCKET_FOR_SPAN[span]
        return {"span": span, "date": day, "first": first, "last": last, "bucket": bucket}


class ReviewRangeForm(forms.Form):
    """The days an analyst reviews (in the intersection's time zone) and an optional camera."""

    MAX_DAYS = 31

    first = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        label=_("until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    camera = forms.ModelChoiceField(
        TrafficCamera.objects.none(),
        label=_("camera"),
        required=False,
        empty_label=_("All cameras"),
    )

    def __init__(self, data=None, *, intersection: Intersection, today: datetime.date, **kw):
        super().__init__(data, **kw)
        self.today = today
        self.fields["camera"].queryset = intersection.cameras.all()

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first"), cleaned.get("last")
        if first and last and last < first:
            self.add_error("last", _("The range ends before it starts."))
        elif first and last and (last - first).days >= self.MAX_DAYS:
            self.add_error(
                "last", _("Review at most %(days)d days at once.") % {"days": self.MAX_DAYS}
            )
        return cleaned

    def choice(self) -> dict:
        cleaned = self.cleaned_data if self.is_valid() else {}
        last = cleaned.get("last") or cleaned.get("first") or self.today
        first = cleaned.get("first") or last
        return {"first": first, "last": last, "camera": cleaned.get("camera")}


class ValidateForm(forms.Form):
    pass


class CorrectForm(forms.Form):
    count = forms.IntegerField(label=_("correct count"), min_value=0, max_value=1_000_000)
    reason = forms.CharField(label=_("reason"), max_length=300)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=300)
