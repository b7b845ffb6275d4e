from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Driver

MAX_PHOTO_BYTES = 5 * 1024 * 1024


class DriverForm(forms.ModelForm):
    class Meta:
        model = Driver
        fields = ["name", "company", "licence_number", "phone", "plate", "photo", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo and getattr(photo, "size", 0) > MAX_PHOTO_BYTES:
            raise forms.ValidationError(_("The photo is larger than 5 MB."))
        return photo


class BanForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class ManualEntryForm(forms.Form):
    licence_number = forms.CharField(label=_("licence number"), max_length=40)


class CorrectionForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("the driver is now"),
        choices=[
            ("entry", _("inside (an entry was missed)")),
            ("exit", _("outside (an exit was missed)")),
        ],
    )
    note = forms.CharField(
        label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
