from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, DeviceKey, User


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "display_name"]


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ["email"]
    list_display = ["email", "display_name", "roles", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["display_name", "language", "time_zone", "theme"]}),
        (
            _("Roles and permissions"),
            {
                "fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"],
            },
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "email",
                    "display_name",
                    "usable_password",
                    "password1",
                    "password2",
                ],
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, user):
        return ", ".join(g.name for g in user.groups.all())


class HashedKeyAdmin(admin.ModelAdmin):
    readonly_fields = ["hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            key.revoke()
        self.message_user(request, _("%(count)d keys revoked.") % {"count": queryset.count()})

    @admin.display(boolean=True, description=_("active"))
    def active(self, key):
        return key.is_active


@admin.register(DeviceKey)
class DeviceKeyAdmin(HashedKeyAdmin):
    list_display = ["name", "hint", "owner", "active", "last_used_at", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "description", "hint", "owner__email"]
    fields = [
        "name",
        "description",
        "owner",
        "hint",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    autocomplete_fields = ["owner"]

    def save_model(self, request, obj, form, change):
        if not change:
            raw_key = obj.set_new_key()
            messages.warning(
                request,
                _("Copy the key of “%(name)s” now; it will not be shown again: %(key)s")
                % {"name": obj.name, "key": raw_key},
            )
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(HashedKeyAdmin):
    list_display = ["name", "hint", "user", "active", "last_used_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["name", "hint", "user__email"]
    fields = ["name", "user", "hint", "created_at", "last_used_at", "expires_at", "revoked_at"]

    def has_add_permission(self, request):
        return False  # people create their own tokens, from their profile or the API
