from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Language
from .models import TIME_ZONES, User


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "display_name"]

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail address already exists."))
        return email


class ProfileForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("language"),
        required=False,
        choices=[("", _("The browser's language"))] + Language.choices,
    )
    time_zone = forms.ChoiceField(
        label=_("time zone"),
        required=False,
        choices=[("", _("Site default"))] + [(tz, tz) for tz in TIME_ZONES],
    )

    class Meta:
        model = User
        fields = ["display_name", "language", "time_zone", "theme"]


class ApiTokenForm(forms.Form):
    EXPIRY_CHOICES = [
        ("30", _("30 days")),
        ("90", _("90 days")),
        ("365", _("1 year")),
        ("", _("Never")),
    ]
    name = forms.CharField(label=_("name"), max_length=100)
    expires_in_days = forms.ChoiceField(label=_("expires"), choices=EXPIRY_CHOICES, required=False)

    def expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=int(days)) if days else None


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
