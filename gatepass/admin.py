from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import badges, drivers
from .models import Badge, Driver, Movement, Station


class BadgeInline(admin.TabularInline):
    model = Badge
    extra = 0
    fields = ["issued_at", "expires_at", "revoked_at"]
    readonly_fields = ["issued_at", "revoked_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # issued from the driver's badge page or the API


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "licence_number", "plate", "status", "inside_since"]
    list_filter = ["status", "company"]
    search_fields = ["name", "company", "licence_number", "plate"]
    readonly_fields = ["status", "banned_at", "banned_by", "ban_reason", "inside_since"]
    inlines = [BadgeInline]
    actions = ["issue_new_badges"]

    def save_model(self, request, obj, form, change):
        drivers.driver_save(
            obj, photo=form.cleaned_data.get("photo") if "photo" in form.changed_data else None
        )

    def has_delete_permission(self, request, obj=None):
        return False  # a driver's history must stay whole: ban instead

    @admin.action(
        description=_("Issue new badges (the old ones stop working)"), permissions=["change"]
    )
    def issue_new_badges(self, request, queryset):
        for driver in queryset:
            badges.issue_badge(driver=driver)


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "mode", "is_active"]
    list_filter = ["mode", "is_active"]
    filter_horizontal = ["guards"]


@admin.register(Movement)
class MovementAdmin(admin.ModelAdmin):
    """Read-only: movements are never edited; corrections are new movements."""

    list_display = [
        "occurred_at",
        "station",
        "driver",
        "outcome",
        "direction",
        "reason",
        "method",
        "guard",
    ]
    list_filter = ["outcome", "direction", "reason", "method", "station"]
    list_select_related = ["station", "driver", "guard"]
    search_fields = ["driver__name", "company", "note"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
