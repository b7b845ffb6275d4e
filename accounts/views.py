from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from . import services
from .choices import Language, Theme
from .forms import ApiTokenForm, ProfileForm, SignupForm


def signup(request):
    if not settings.ALLOW_SIGNUP:
        raise Http404(_("Sign-up is turned off."))
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
        )
        login(request, user)
        messages.success(request, _("Welcome to FlowSuite."))
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", _profile_context(request, form=form))


def _profile_context(request, **extra):
    tokens = request.user.api_tokens.order_by("revoked_at", "-created_at")
    return {"token_form": ApiTokenForm(), "tokens": tokens, **extra}


@login_required
@require_POST
def token_create(request):
    token_form = ApiTokenForm(request.POST)
    if not token_form.is_valid():
        context = _profile_context(request, form=ProfileForm(instance=request.user))
        context["token_form"] = token_form
        return render(request, "accounts/profile.html", context, status=400)
    token, raw_key = services.api_token_create(
        user=request.user, name=token_form.cleaned_data["name"], expires_at=token_form.expires_at()
    )
    context = _profile_context(request, form=ProfileForm(instance=request.user))
    context["new_token"] = {"token": token, "key": raw_key}
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    token.revoke()
    messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:profile")


@require_POST
def set_theme(request):
    theme = request.POST.get("theme")
    if theme not in Theme.values:
        return HttpResponseBadRequest(_("Unknown theme."))
    if request.user.is_authenticated:
        request.user.theme = theme
        request.user.save(update_fields=["theme"])
    return HttpResponse(status=204)


@require_POST
def set_language(request):
    """Django's set_language (cookie), also remembered on the user's profile."""
    language = request.POST.get("language")
    if request.user.is_authenticated and language in Language.values:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)
