from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import nodes
from .models import (
    Alert,
    AlertRule,
    Automation,
    AutomationRun,
    EnergyProfile,
    Node,
    Notification,
    PendingDevice,
    Recommendation,
)


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "device_id", "owner", "location", "status", "last_reading_at"]
    list_filter = ["link_state"]
    search_fields = ["name", "device_id", "location", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["device_key", "last_seen_at", "last_reading_at", "link_state", "latest"]
    actions = ["rotate_keys"]

    @admin.display(description=_("status"))
    def status(self, node):
        return nodes.Status.LABELS[nodes.node_status(node)]

    def save_model(self, request, obj, form, change):
        if change:
            nodes.node_update(obj)
            return
        fields = {f: form.cleaned_data[f] for f in ("description", "location", "expected_interval")}
        node, raw_key = nodes.node_create(
            owner=obj.owner, device_id=obj.device_id, name=obj.name, **fields
        )
        obj.pk = node.pk
        self.message_user(
            request,
            _("Device key of %(node)s (shown once, put it in the meter): %(key)s")
            % {"node": node, "key": raw_key},
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        nodes.node_delete(obj)

    def delete_queryset(self, request, queryset):
        for node in queryset:
            nodes.node_delete(node)

    @admin.action(description=_("Issue new device keys (the old ones stop working)"))
    def rotate_keys(self, request, queryset):
        for node in queryset:
            raw_key = nodes.node_rotate_key(node)
            self.message_user(
                request,
                _("New device key of %(node)s (shown once): %(key)s")
                % {"node": node, "key": raw_key},
                messages.WARNING,
            )


@admin.register(PendingDevice)
class PendingDeviceAdmin(admin.ModelAdmin):
    """Device ids that reported but belong to no node: claim one for yourself here, or for
    anyone from the energy nodes page."""

    list_display = ["device_id", "source", "messages", "first_seen_at", "last_seen_at"]
    readonly_fields = [
        "device_id",
        "source",
        "messages",
        "first_seen_at",
        "last_seen_at",
        "last_payload",
    ]
    actions = ["claim"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Claim as my nodes"), permissions=["delete"])
    def claim(self, request, queryset):
        for pending in queryset:
            node, raw_key = nodes.claim_pending(pending, owner=request.user)
            self.message_user(
                request,
                _("Device key of %(node)s (shown once, put it in the meter): %(key)s")
                % {"node": node, "key": raw_key},
                messages.WARNING,
            )


# A webhook typed without its scheme is taken as https, as on the site's forms.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "owner", "node", "kind", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "owner__email", "node__device_id"]
    list_select_related = ["owner", "node"]
    autocomplete_fields = ["owner", "node"]


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["event", "channel", "target", "status", "attempts", "sent_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["message", "owner", "node", "severity", "status", "opened_at", "resolved_at"]
    list_filter = ["status", "severity"]
    search_fields = ["message", "owner__email", "node__device_id"]
    list_select_related = ["owner", "node"]
    date_hierarchy = "opened_at"
    readonly_fields = [
        "owner",
        "rule",
        "node",
        "source",
        "values",
        "opened_at",
        "resolved_at",
        "acknowledged_at",
        "acknowledged_by",
    ]
    inlines = [NotificationInline]

    def has_add_permission(self, request):
        return False


class AutomationRunInline(admin.TabularInline):
    model = AutomationRun
    extra = 0
    can_delete = False
    fields = ["trigger", "queued_at", "ran_at", "outcome", "detail"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "owner", "trigger", "action", "enabled", "last_run_at"]
    list_filter = ["trigger", "action", "enabled"]
    search_fields = ["name", "owner__email"]
    autocomplete_fields = ["owner", "node", "rule"]
    inlines = [AutomationRunInline]


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "owner",
        "node",
        "kind",
        "saving_kwh_year",
        "saving_money_year",
        "dismissed_at",
    ]
    list_filter = ["kind"]
    search_fields = ["title", "owner__email"]
    readonly_fields = ["evidence", "computed_at"]


@admin.register(EnergyProfile)
class EnergyProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "tariff", "price", "peak_price", "currency", "quiet_start", "quiet_end"]
    autocomplete_fields = ["user"]
