from django.conf import settings

from accounts.choices import Theme


def site(request):
    user = getattr(request, "user", None)
    theme = getattr(user, "theme", Theme.AUTO) if user and user.is_authenticated else Theme.AUTO
    return {"ALLOW_SIGNUP": settings.ALLOW_SIGNUP, "user_theme": theme}
