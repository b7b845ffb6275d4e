"""The surveillance pages: the camera grid with live views, the event gallery by day with its
lightbox, deleting events, the cameras' settings and keys, and the pictures (served only to
people who may see events, never as public media files).

Views read through surveillance.selectors and write through surveillance.cameras and
surveillance.deletion.
"""

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from flowsuite import views as site_views

from . import cameras, selectors
from .api import EventSerializer
from .deletion import delete_events
from .files import snapshot_response
from .forms import CameraForm, EventFilter
from .models import Camera, MotionEvent, Snapshot

EVENTS_PER_PAGE = 120

can_view_cameras = permission_required(selectors.VIEW_CAMERAS, raise_exception=True)
can_view_events = permission_required(selectors.VIEW_EVENTS, raise_exception=True)
can_delete_events = permission_required(selectors.DELETE_EVENTS, raise_exception=True)
can_delete_in_bulk = permission_required(selectors.DELETE_IN_BULK, raise_exception=True)
can_change_cameras = permission_required("surveillance.change_camera", raise_exception=True)
can_add_cameras = permission_required("surveillance.add_camera", raise_exception=True)


def _zone(request):
    return selectors.user_zone(request.user)


def _gallery_url(day: date | None = None, **params) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if day is not None:
        query = {"date": day.isoformat(), **query}
    url = reverse("surveillance:gallery")
    return f"{url}?{urlencode(query)}" if query else url


def _next_or(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


# --- the camera grid and its live views --------------------------------------------------


@login_required
@can_view_cameras
def home(request):
    """Every camera with its status, its newest event and a live view while the page is open."""
    zone = _zone(request)
    today_start = selectors.day_bounds(timezone.now().astimezone(zone).date(), zone)[0]
    camera_list = selectors.cameras_with_status(request.user, events_since=today_start)
    return render(
        request,
        "surveillance/home.html",
        {
            "cameras": camera_list,
            "online": sum(camera.is_online for camera in camera_list),
            "events_today": sum(camera.events_since for camera in camera_list),
        },
    )


@login_required
@require_POST
@can_view_cameras
def watch(request, pk):
    """The live view says every 10 s that someone still watches: the camera streams meanwhile."""
    from . import streaming  # helper-2's module; imported late so the pages load without it

    camera = get_object_or_404(Camera, pk=pk)
    streaming.mark_watched(camera.pk)
    return JsonResponse({"watching": True, "online": camera.is_online})


# --- the gallery ---------------------------------------------------------------------------


@login_required
@can_view_events
def gallery(request):
    """A day's events (in the user's time zone), filtered by camera and least score, with a
    month calendar marking the days that have events."""
    zone = _zone(request)
    form = EventFilter(request.GET, zone=zone)
    day, criteria = form.day, form.criteria()
    events = form.apply(selectors.visible_events(request.user)).order_by("started_at", "id")
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    year, month = form.shown_month
    counts = selectors.days_with_events(request.user, year=year, month=month, zone=zone, **criteria)
    before, after = selectors.nearest_days(request.user, day=day, zone=zone, **criteria)
    keep = {
        "camera": criteria["camera"].pk if criteria.get("camera") else "",
        "min_score": criteria.get("min_score") or "",
    }
    first = date(year, month, 1)
    previous_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=31)).replace(day=1)
    return render(
        request,
        "surveillance/gallery.html",
        {
            "form": form,
            "day": day,
            "today": timezone.now().astimezone(zone).date(),
            "page": page,
            "events_data": EventSerializer(page, many=True).data,
            "weeks": selectors.month_calendar(year, month, counts),
            "month_start": first,
            "month_total": sum(counts.values()),
            "links": {
                "previous_day": _gallery_url(day - timedelta(days=1), **keep),
                "next_day": _gallery_url(day + timedelta(days=1), **keep),
                "today": _gallery_url(None, **keep),
                "before": before and _gallery_url(before, **keep),
                "after": after and _gallery_url(after, **keep),
                "previous_month": _gallery_url(day, month=f"{previous_month:%Y-%m}", **keep),
                "next_month": _gallery_url(day, month=f"{next_month:%Y-%m}", **keep),
            },
            "keep_query": urlencode({k: v for k, v in keep.items() if v}),
            "page_query": urlencode(
                {"date": day.isoformat(), **{k: v for k, v in keep.items() if v}}
            ),
            "gallery_state": {
                "day": day.isoformat(),
                "camera": keep["camera"],
                "min_score": keep["min_score"],
                "last_page": not page.has_next(),
                "event_url": reverse("api:surveillance-event-detail", args=[0]),
            },
            "before": before,
            "after": after,
            "may_delete": request.user.has_perm(selectors.DELETE_EVENTS),
            "may_delete_in_bulk": selectors.may_delete_in_bulk(request.user),
        },
    )


# --- deleting --------------------------------------------------------------------------------


@login_required
@can_delete_events
def event_delete(request, pk):
    event = get_object_or_404(selectors.visible_events(request.user), pk=pk)
    day = event.started_at.astimezone(_zone(request)).date()
    if request.method == "POST":
        delete_events(MotionEvent.objects.filter(pk=event.pk))
        messages.success(request, _("The event was deleted with its pictures."))
        return redirect(_next_or(request, _gallery_url(day)))
    return render(
        request,
        "surveillance/event_confirm_delete.html",
        {"event": event, "next": _next_or(request, _gallery_url(day))},
    )


@login_required
@can_delete_in_bulk
def delete_day(request):
    """Delete a day's events (of one camera, or of all), after a confirmation."""
    form = EventFilter(
        request.POST if request.method == "POST" else request.GET, zone=_zone(request)
    )
    if not form.is_valid() or not form.cleaned_data["date"]:
        raise Http404
    camera = form.cleaned_data["camera"]
    events = selectors.filter_events(
        selectors.visible_events(request.user), zone=form.zone, day=form.day, camera=camera
    )
    if request.method == "POST":
        count = delete_events(events)
        messages.success(
            request,
            ngettext("%(count)d event was deleted.", "%(count)d events were deleted.", count)
            % {"count": count},
        )
        return redirect(_gallery_url(form.day, camera=camera and camera.pk))
    return render(
        request,
        "surveillance/delete_day.html",
        {"day": form.day, "camera": camera, "count": events.count()},
    )


@login_required
@can_delete_in_bulk
def delete_all(request):
    """Delete every event of every camera, after a confirmation."""
    events = selectors.visible_events(request.user)
    if request.method == "POST":
        if request.POST.get("confirm") != "delete":
            messages.error(request, _("Tick the box to confirm."))
            return redirect("surveillance:delete_all")
        count = delete_events(events)
        messages.success(
            request,
            ngettext("%(count)d event was deleted.", "%(count)d events were deleted.", count)
            % {"count": count},
        )
        return redirect("surveillance:gallery")
    oldest = events.order_by("started_at").first()
    return render(
        request,
        "surveillance/delete_all.html",
        {"count": events.count(), "oldest": oldest, "cameras": Camera.objects.count()},
    )


# --- the pictures ------------------------------------------------------------------------


@login_required
@can_view_events
def image(request, pk):
    snapshot = get_object_or_404(Snapshot, pk=pk)
    return snapshot_response(snapshot, "image", download=bool(request.GET.get("download")))


@login_required
@can_view_events
def thumbnail(request, pk):
    return snapshot_response(get_object_or_404(Snapshot, pk=pk), "thumbnail")


# --- cameras -------------------------------------------------------------------------------


def _show_key(request, camera: Camera, raw_key: str, *, rotated: bool = False):
    return site_views.device_key_page(
        request, "surveillance/camera_key_shown.html", {"camera": camera}, raw_key, rotated=rotated
    )


@login_required
@can_add_cameras
def camera_new(request):
    form = CameraForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in CameraForm.Meta.fields}
        camera, raw_key = cameras.camera_create(owner=request.user, **fields)
        messages.success(request, _("The camera “%(name)s” was added.") % {"name": camera.name})
        return _show_key(request, camera, raw_key)
    return render(request, "surveillance/camera_form.html", {"form": form})


@login_required
@can_change_cameras
def camera_settings(request, pk):
    camera = get_object_or_404(Camera.objects.select_related("device_key"), pk=pk)
    form = CameraForm(request.POST or None, instance=camera)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The camera “%(name)s” was saved.") % {"name": camera.name})
        return redirect("surveillance:home")
    return render(request, "surveillance/camera_form.html", {"form": form, "camera": camera})


@login_required
@can_change_cameras
def camera_rotate_key(request, pk):
    camera = get_object_or_404(Camera, pk=pk)
    if request.method == "POST":
        raw_key = cameras.camera_rotate_key(camera, owner=request.user)
        messages.warning(request, _("A new device key was issued; the old one no longer works."))
        return _show_key(request, camera, raw_key, rotated=True)
    return render(request, "surveillance/camera_rotate_key.html", {"camera": camera})


urlpatterns = [
    path("", home, name="home"),
    path("cameras/new/", camera_new, name="camera_new"),
    path("cameras/<int:pk>/settings/", camera_settings, name="camera_settings"),
    path("cameras/<int:pk>/key/", camera_rotate_key, name="camera_rotate_key"),
    path("cameras/<int:pk>/watch/", watch, name="watch"),
    path("events/", gallery, name="gallery"),
    path("events/<int:pk>/delete/", event_delete, name="event_delete"),
    path("events/delete-day/", delete_day, name="delete_day"),
    path("events/delete-all/", delete_all, name="delete_all"),
    path("snapshots/<int:pk>/image/", image, name="image"),
    path("snapshots/<int:pk>/thumbnail/", thumbnail, name="thumbnail"),
]
