import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import badges, drivers, scanning, selectors
from .choices import DriverStatus
from .filters import MovementFilter
from .forms import BanForm, CorrectionForm, DriverForm, ManualEntryForm
from .models import Driver, Movement, Station

can_view = permission_required("gatepass.view_movement", raise_exception=True)


@login_required
@can_view
def dashboard(request):
    return render(request, "gatepass/dashboard.html", {"summary": selectors.today_summary()})


@login_required
@can_view
def dashboard_data(request):
    return JsonResponse(selectors.today_summary())


@login_required
@can_view
def inside(request):
    template = (
        "gatepass/_inside_rows.html" if request.GET.get("partial") else "gatepass/inside.html"
    )
    return render(request, template, {"drivers": selectors.drivers_inside()})


@login_required
@can_view
def banned(request):
    banned_drivers = Driver.objects.filter(status=DriverStatus.BANNED).select_related("banned_by")
    return render(request, "gatepass/banned.html", {"drivers": banned_drivers})


@login_required
@permission_required("gatepass.view_driver", raise_exception=True)
def driver_list(request):
    query = request.GET.get("q", "").strip()
    found = Driver.objects.all()
    if query:
        found = found.filter(
            Q(name__icontains=query)
            | Q(company__icontains=query)
            | Q(licence_number__icontains=query)
            | Q(plate__icontains=query)
        )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    return render(request, "gatepass/driver_list.html", {"page": page, "query": query})


@login_required
def driver_edit(request, pk=None):
    driver = get_object_or_404(Driver, pk=pk) if pk else Driver()
    if not request.user.has_perm("gatepass.change_driver" if pk else "gatepass.add_driver"):
        raise PermissionDenied
    form = DriverForm(request.POST or None, request.FILES or None, instance=driver)
    if request.method == "POST" and form.is_valid():
        photo = request.FILES.get("photo")
        driver = drivers.driver_save(form.save(commit=False), photo=photo)
        messages.success(request, _("Driver “%(name)s” saved.") % {"name": driver.name})
        return redirect("gatepass:driver", pk=driver.pk)
    return render(request, "gatepass/driver_form.html", {"form": form, "driver": driver})


@login_required
@permission_required("gatepass.view_driver", raise_exception=True)
def driver_detail(request, pk):
    driver = get_object_or_404(Driver, pk=pk)
    timeline = list(driver.movements.select_related("station", "guard").order_by("occurred_at"))
    return render(
        request,
        "gatepass/driver_detail.html",
        {
            "driver": driver,
            "timeline": list(reversed(timeline[-200:])),
            "time_on_site": selectors.time_on_site(timeline),
            "badge": badges.current_badge(driver),
            "ban_form": BanForm(),
        },
    )


@login_required
@require_POST
@permission_required("gatepass.ban_driver", raise_exception=True)
def driver_ban(request, pk):
    driver = get_object_or_404(Driver, pk=pk)
    form = BanForm(request.POST)
    if form.is_valid():
        drivers.ban(driver=driver, by=request.user, reason=form.cleaned_data["reason"])
        messages.warning(request, _("%(name)s is banned.") % {"name": driver.name})
    return redirect("gatepass:driver", pk=pk)


@login_required
@require_POST
@permission_required("gatepass.ban_driver", raise_exception=True)
def driver_unban(request, pk):
    driver = get_object_or_404(Driver, pk=pk)
    drivers.unban(driver=driver)
    messages.success(request, _("%(name)s may come in again.") % {"name": driver.name})
    return redirect("gatepass:driver", pk=pk)


@login_required
@require_POST
@permission_required("gatepass.correct_movement", raise_exception=True)
def driver_correct(request, pk):
    """An admin records where the driver really is (a missed scan), with a reason."""
    driver = get_object_or_404(Driver, pk=pk)
    form = CorrectionForm(request.POST)
    last = driver.movements.order_by("-occurred_at", "-id").first()
    if form.is_valid() and last is not None:
        scanning.record_correction(movement=last, by=request.user, **form.cleaned_data)
        messages.success(request, _("The correction was recorded."))
    return redirect("gatepass:driver", pk=pk)


@login_required
@permission_required("gatepass.view_driver", raise_exception=True)
def driver_photo(request, pk):
    """The driver's thumbnail (a JPEG we made), only to people who may see drivers."""
    driver = get_object_or_404(Driver, pk=pk)
    if not driver.thumbnail:
        raise Http404
    response = FileResponse(driver.thumbnail.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@permission_required("gatepass.view_badge", raise_exception=True)
def badge(request, pk):
    driver = get_object_or_404(Driver, pk=pk)
    current = badges.current_badge(driver)
    return render(request, "gatepass/badge.html", {"driver": driver, "badge": current})


@login_required
@permission_required("gatepass.view_badge", raise_exception=True)
def badge_image(request, pk, kind):
    current = badges.current_badge(get_object_or_404(Driver, pk=pk))
    if current is None:
        raise Http404
    token = badges.token_for(current)
    if kind == "svg":
        response = HttpResponse(badges.qr_svg(token), content_type="image/svg+xml")
    else:
        response = HttpResponse(badges.qr_png(token), content_type="image/png")
    if request.GET.get("download"):
        filename = f"badge-{current.driver.licence_number}.{kind}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
@permission_required("gatepass.add_badge", raise_exception=True)
def badge_reissue(request, pk):
    driver = get_object_or_404(Driver, pk=pk)
    badges.issue_badge(driver=driver)
    messages.warning(request, _("A new badge was issued; the old one no longer works."))
    return redirect("gatepass:badge", pk=pk)


@login_required
@permission_required("gatepass.view_station", raise_exception=True)
def station_list(request):
    stations = Station.objects.prefetch_related("guards")
    for station in stations:
        station.may_scan = scanning.may_scan_at(request.user, station)
    return render(request, "gatepass/station_list.html", {"stations": stations})


@login_required
def station_scan(request, pk):
    """The guard's page at a gate: camera, keyboard-wedge scanner or licence number."""
    station = get_object_or_404(Station, pk=pk)
    if not scanning.may_scan_at(request.user, station):
        raise PermissionDenied
    result, manual_form = None, ManualEntryForm()
    if request.method == "POST":  # without JavaScript; with it, the page uses the API
        manual_form = ManualEntryForm(request.POST)
        token = request.POST.get("token", "")
        licence = request.POST.get("licence_number", "")
        if token or licence:
            result = scanning.scan(
                station=station, guard=request.user, token=token, licence_number=licence
            )
    recent = station.movements.select_related("driver").order_by("-occurred_at", "-id")[:8]
    return render(
        request,
        "gatepass/station_scan.html",
        {
            "station": station,
            "result": result,
            "manual_form": manual_form,
            "recent": recent,
        },
    )


@login_required
@can_view
def history(request):
    movement_filter = MovementFilter(request.GET or None)
    movements = (
        movement_filter.apply(Movement.objects.select_related("station", "driver", "guard"))
        if request.GET
        else Movement.objects.select_related("station", "driver", "guard")
    )
    if request.GET.get("format") == "csv":
        return _history_csv(movements)
    page = Paginator(movements, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "gatepass/history.html",
        {
            "filter": movement_filter,
            "page": page,
            "query": query.urlencode(),
        },
    )


CSV_HEADER = [
    "time",
    "station",
    "driver",
    "licence",
    "company",
    "outcome",
    "direction",
    "reason",
    "method",
    "guard",
    "note",
]


def _history_csv(movements):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="gatepass-history-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for m in movements.iterator(chunk_size=2000):
        writer.writerow(
            [
                timezone.localtime(m.occurred_at).isoformat(),
                m.station.name,
                m.driver.name if m.driver else "",
                m.driver.licence_number if m.driver else "",
                m.company,
                m.outcome,
                m.direction,
                m.reason,
                m.method,
                m.guard.email if m.guard else "",
                m.note,
            ]
        )
    return response
