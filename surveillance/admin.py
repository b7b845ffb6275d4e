from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import cameras
from .deletion import delete_events
from .forms import CameraForm
from .models import Camera, Delivery, MotionEvent

CAMERA_FIELDS = [
    "location",
    "time_zone",
    "notify",
    "discord_webhook_url",
    "webhook_url",
    "quiet_start",
    "quiet_end",
]


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    form = CameraForm  # the settings page's checks: known time zone, both ends of quiet hours
    list_display = ["name", "location", "online", "last_seen_at", "notify", "device_key"]
    list_filter = ["notify"]
    search_fields = ["name", "location"]
    list_select_related = ["device_key"]
    readonly_fields = ["device_key", "last_seen_at", "health", "created_at"]
    actions = ["rotate_keys"]

    @admin.display(description=_("online"), boolean=True)
    def online(self, camera):
        return camera.is_online

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = {name: form.cleaned_data[name] for name in CAMERA_FIELDS}
        camera, raw_key = cameras.camera_create(owner=request.user, name=obj.name, **fields)
        obj.pk = camera.pk
        self.message_user(
            request,
            _("Device key of %(camera)s (shown once, give it to the agent): %(key)s")
            % {"camera": camera, "key": raw_key},
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        delete_events(obj.events.all())  # the files too, not only the rows
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        delete_events(MotionEvent.objects.filter(camera__in=queryset))
        super().delete_queryset(request, queryset)

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


@admin.register(MotionEvent)
class MotionEventAdmin(admin.ModelAdmin):
    """Events come from the cameras only: read them here, delete them (with their files)."""

    list_display = ["preview", "camera", "started_at", "score_percent", "snapshot_count"]
    list_filter = ["camera"]
    date_hierarchy = "started_at"
    list_select_related = ["camera"]
    fields = [
        "camera",
        "event_id",
        "started_at",
        "ended_at",
        "score",
        "boxes",
        "frame_width",
        "frame_height",
        "received_at",
        "pictures",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("snapshots")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("picture"))
    def preview(self, event):
        best = next(iter(event.snapshots.all()), None)
        if best is None:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="height:48px;border-radius:4px">',
            reverse("surveillance:thumbnail", args=[best.pk]),
        )

    @admin.display(description=_("score"), ordering="score")
    def score_percent(self, event):
        return f"{event.score * 100:.1f} %"

    @admin.display(description=_("snapshots"))
    def snapshot_count(self, event):
        return len(event.snapshots.all())

    @admin.display(description=_("pictures"))
    def pictures(self, event):
        return format_html_join(
            " ",
            '<a href="{}" target="_blank">'
            '<img src="{}" alt="" style="height:120px;border-radius:4px"></a>',
            (
                (
                    reverse("surveillance:image", args=[s.pk]),
                    reverse("surveillance:thumbnail", args=[s.pk]),
                )
                for s in event.snapshots.all()
            ),
        )

    def delete_model(self, request, obj):
        delete_events(MotionEvent.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        delete_events(queryset)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Webhook notices of events: what was sent, what is waiting, what failed and why."""

    list_display = ["event", "kind", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["event__camera"]
    readonly_fields = [
        "event",
        "kind",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
