from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import status


@login_required
def home(request):
    return render(request, "home.html", {"status": status.snapshot(), "domains": DOMAINS})


@require_GET
@never_cache
def healthz(request):
    """For load balancers: 200 while this instance can serve (database and channel layer up).

    The broker is reported but does not fail the check: the site serves without it.
    """
    checks = status.collect()
    serving = all(c.ok for c in checks if c.service != "mqtt")
    # Public: states only, no details (paths, hosts) of the services.
    public = [{"service": c.service, "ok": c.ok, "state": c.state} for c in checks]
    body = {"status": "ok" if serving else "unavailable", "checks": public}
    return JsonResponse(body, status=200 if serving else 503)


DOMAINS = {
    "energy": {
        "url_name": "energy:panel",
        "title": _("Energy"),
        "icon": "bi-lightning-charge",
        "summary": _(
            "ESP32 meters over MQTT: live KPIs, consumption by hour, day, month and "
            "year, alerts and saving advice."
        ),
    },
    "traffic": {
        "url_name": "traffic:home",
        "title": _("Traffic"),
        "icon": "bi-stoplights",
        "summary": _(
            "Vehicle counts per line and direction from intersection cameras, "
            "validated before they are sent to FlowTrack."
        ),
    },
    "surveillance": {
        "url_name": "surveillance:home",
        "title": _("Surveillance"),
        "icon": "bi-camera-video",
        "summary": _(
            "Motion snapshots from the site's cameras, a gallery by date and a live view."
        ),
    },
    "gatepass": {
        "url_name": "gatepass:dashboard",
        "title": _("Gate pass"),
        "icon": "bi-qr-code-scan",
        "summary": _(
            "Drivers' QR badges scanned at the gates: who is inside now, entries, "
            "exits and banned drivers."
        ),
    },
}


@login_required
def domain(request, domain):
    return render(
        request, "domain.html", {"domain": DOMAINS[domain], "slug": domain, "domains": DOMAINS}
    )


def device_key_page(request, template: str, context: dict, raw_key: str, *, rotated: bool):
    """The page that shows a device's new key, once: only its digest is stored, so the page
    must not be kept by any cache either."""
    context = {
        **context,
        "raw_key": raw_key,
        "rotated": rotated,
        "server_url": request.build_absolute_uri("/").rstrip("/"),
    }
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response
