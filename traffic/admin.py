from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import cameras, flowtrack
from .models import Count, CountLine, Intersection, SyncBatch, TrafficCamera

CONFIG_FIELDS = {
    "source",
    "width",
    "height",
    "interval_minutes",
    "min_blob_area",
    "sensitivity",
    "size_classes",
    "masks",
}
# Left blank, the counter decides them (relative to the frame, learnt from the vehicles).
AUTOMATIC_WHEN_BLANK = {"min_blob_area", "size_classes"}


class OptionalJSONField(forms.JSONField):
    """None (automatic) shown as an empty box, not as `null`."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


@admin.register(Intersection)
class IntersectionAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "time_zone", "flowtrack_id"]
    search_fields = ["name", "location", "flowtrack_id"]


class CountLineInline(admin.TabularInline):
    model = CountLine
    extra = 0
    fields = ["name", "x1", "y1", "x2", "y2", "in_label", "out_label"]


@admin.register(TrafficCamera)
class TrafficCameraAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "intersection",
        "online",
        "last_seen_at",
        "interval_minutes",
        "config_version",
        "device_key",
    ]
    list_filter = ["intersection"]
    search_fields = ["name", "intersection__name"]
    list_select_related = ["intersection", "device_key"]
    readonly_fields = ["device_key", "config_version", "last_seen_at", "health", "snapshot_at"]
    inlines = [CountLineInline]
    actions = ["rotate_keys"]

    @admin.display(description=_("online"), boolean=True)
    def online(self, camera):
        return camera.is_online

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "size_classes":
            kwargs["form_class"] = OptionalJSONField
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in AUTOMATIC_WHEN_BLANK:
            field.widget.attrs["placeholder"] = _("automatic")
        return field

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            if CONFIG_FIELDS & set(form.changed_data):
                cameras.config_changed(obj.pk)
            return
        fields = {
            name: form.cleaned_data[name] for name in CONFIG_FIELDS if name in form.cleaned_data
        }
        camera, raw_key = cameras.camera_create(
            owner=request.user, intersection=obj.intersection, name=obj.name, **fields
        )
        obj.pk = camera.pk
        obj.device_key = camera.device_key
        self.message_user(
            request,
            _("Device key of %(camera)s (shown once, give it to the agent): %(key)s")
            % {"camera": camera, "key": raw_key},
            messages.WARNING,
        )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            cameras.config_changed(form.instance.pk)

    @admin.action(description=_("Issue new device keys (the old ones stop working)"))
    def rotate_keys(self, request, queryset):
        for camera in queryset:
            raw_key = cameras.camera_rotate_key(camera, owner=request.user)
            self.message_user(
                request,
                _("New device key of %(camera)s (shown once): %(key)s")
                % {"camera": camera, "key": raw_key},
                messages.WARNING,
            )


@admin.register(Count)
class CountAdmin(admin.ModelAdmin):
    """Counts change only through the review workflow (the pages and the API)."""

    list_display = [
        "start",
        "line",
        "direction",
        "vehicle_class",
        "count",
        "original_count",
        "status",
        "sync_batch",
    ]
    list_filter = ["status", "line__camera__intersection", "vehicle_class", "direction"]
    date_hierarchy = "start"
    list_select_related = ["line__camera__intersection", "sync_batch__intersection"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncBatch)
class SyncBatchAdmin(admin.ModelAdmin):
    """The FlowTrack outbox: what was sent when, what waits, what FlowTrack refused."""

    list_display = [
        "intersection",
        "start",
        "end",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "intersection"]
    list_select_related = ["intersection"]
    readonly_fields = [
        "key",
        "intersection",
        "start",
        "end",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_by",
        "created_at",
    ]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Send refused batches again"), permissions=["view"])
    def retry(self, request, queryset):
        retried = sum(flowtrack.retry(batch) for batch in queryset)
        self.message_user(request, _("%(count)d batches queued again.") % {"count": retried})
