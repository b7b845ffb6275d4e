"""Energy pages: the panel, a node's dashboard, consumption, and managing nodes.

Views read through energy.selectors and write through energy.nodes. The node dashboard's
charts load their points from the JSON API (energy.api) and follow the live groups.
"""

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Min, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from flowsuite import views as site_views

from . import nodes, selectors
from .forms import VIEW_ALL, ClaimForm, ConsumptionForm, NodeForm, RangeForm
from .magnitudes import BY_KEY, SAMPLED
from .models import DayRollup, Node, PendingDevice, Recommendation
from .nodes import Status
from .templatetags.energy import bucket_label

RESOLUTION_LABELS = {
    "raw": gettext_lazy("every reading"),
    "minute": gettext_lazy("per minute"),
    "hour": gettext_lazy("per hour"),
    "day": gettext_lazy("per day"),
}


def _visible(request):
    return Node.objects.visible_to(request.user).select_related("owner")


def _node_or_404(request, pk) -> Node:
    """The node if the user may see it: another user's node is not found, not forbidden."""
    return get_object_or_404(_visible(request), pk=pk)


def _with_status(node_list, now) -> list[tuple[Node, str]]:
    status_of = selectors.statuses(node_list, now)
    return [(node, status_of[node.pk]) for node in node_list]


def _status_legend(rows) -> list[dict]:
    counts = Counter(status for _node, status in rows)
    return [
        {"status": s, "label": Status.LABELS[s], "help": Status.HELP[s], "count": counts[s]}
        for s in (Status.ONLINE, Status.SILENT, Status.OFFLINE, Status.NEVER)
    ]


def _magnitudes() -> list[dict]:
    """What the scripts need to format values as the templates do."""
    return [
        {"key": m.key, "label": str(m.label), "unit": m.unit, "decimals": m.decimals}
        for m in BY_KEY.values()
    ]


def _connection(request, node: Node) -> dict:
    return {
        "telemetry_topic": f"flowsuite/energy/{node.device_id}/telemetry",
        "status_topic": f"flowsuite/energy/{node.device_id}/status",
        "ingest_url": request.build_absolute_uri(reverse("api:energy-ingest")),
    }


def _show_key(request, node: Node, raw_key: str, *, rotated: bool = False):
    context = {"node": node, **_connection(request, node)}
    return site_views.device_key_page(
        request, "energy/node_key_shown.html", context, raw_key, rotated=rotated
    )


# --- the panel, a node's dashboard, consumption ------------------------------------------


@login_required
def panel(request):
    """KPIs over the nodes sending data now, and the status of every node."""
    everyone = request.user.has_perm(VIEW_ALL) and request.GET.get("all") == "1"
    found = _visible(request) if everyone else _visible(request).filter(owner=request.user)
    node_list, now = list(found), timezone.now()
    figures = selectors.kpis(node_list, timezone.get_current_timezone(), now)
    power = figures["averages"]["power"]
    rows = _with_status(node_list, now)
    return render(
        request,
        "energy/panel.html",
        {
            "figures": figures,
            "tiles": [(m, figures["averages"][m.key]) for m in SAMPLED],
            "total_power": None if power["value"] is None else power["value"] * power["nodes"],
            "rows": rows,
            "legend": _status_legend(rows),
            "everyone": everyone,
            "may_see_all": request.user.has_perm(VIEW_ALL),
            "live_group": "energy.all" if everyone else f"energy.owner.{request.user.pk}",
            "advice": Recommendation.objects.filter(
                owner=request.user, dismissed_at__isnull=True
            ).order_by("-saving_money_year")[:3],
        },
    )


@login_required
def node_dashboard(request, pk):
    """A node's charts over a range, its figures and how to connect its meter."""
    node, now = _node_or_404(request, pk), timezone.now()
    form = RangeForm(request.GET or None, now=now)
    start, end, range_name = form.bounds()
    live = range_name != "custom"
    data = selectors.series(node, start, end)
    summary = selectors.summary(data["points"])
    query = {"resolution": data["resolution"]}
    if range_name == "custom":
        query.update(start=start.isoformat(), end=end.isoformat())
    else:
        query["range"] = range_name
    return render(
        request,
        "energy/node_dashboard.html",
        {
            "node": node,
            "status": nodes.node_status(node, now),
            "form": form,
            "range_name": range_name,
            "start": start,
            "end": end,
            "live": live,
            "resolution": data["resolution"],
            "resolution_label": RESOLUTION_LABELS[data["resolution"]],
            "cards": [(m, _figures(node, m.key, summary[m.key], live)) for m in SAMPLED],
            "energy_used": sum(point["energy_used"] for point in data["points"]),
            "readings_url": f"{reverse('api:energy-node-readings', args=[pk])}?{urlencode(query)}",
            "magnitudes": _magnitudes(),
            **_connection(request, node),
        },
    )


def _figures(node: Node, key: str, figures: dict | None, live: bool) -> dict | None:
    """A magnitude's figures over the range. In a range that ends now, "current" is the
    newest reading rather than the average of the newest bucket."""
    newest = node.latest.get(key)
    if not (live and figures and newest is not None and node.last_reading_at):
        return figures
    return {**figures, "current": newest, "updated": node.last_reading_at}


@login_required
def consumption(request):
    """kWh per hour, day, month or year, with the total of the same stretch before."""
    zone, now = timezone.get_current_timezone(), timezone.now()
    form = ConsumptionForm(
        request.GET or None, nodes=list(_visible(request)), user=request.user, now=now, zone=zone
    )
    start, end = form.window()
    node_list = form.selected_nodes()
    result = selectors.consumption(node_list, form.period_name, start, end, zone)
    peak = max((kwh for _start, kwh in result.buckets), default=0)
    change = None
    if result.previous_total > 0:
        change = (result.total - result.previous_total) / result.previous_total * 100
    rows = [
        {"start": bucket, "kwh": kwh, "share": kwh / peak * 100 if peak else 0}
        for bucket, kwh in result.buckets
    ]
    chart = {
        "labels": [bucket_label(row["start"], form.period_name, short=True) for row in rows],
        "titles": [bucket_label(row["start"], form.period_name) for row in rows],
        "kwh": [round(row["kwh"], 4) for row in rows],
    }
    return render(
        request,
        "energy/consumption.html",
        {
            "form": form,
            "period": form.period_name,
            "node_list": node_list,
            "result": result,
            "previous_start": result.start - (result.end - result.start),
            "change": change,
            "rows": rows,
            "average": result.total / len(rows) if rows else None,
            "chart": chart,
            "query": request.GET.copy(),
        },
    )


# --- managing nodes -------------------------------------------------------------------------


@login_required
def node_list(request):
    now = timezone.now()
    rows = _with_status(list(_visible(request)), now)
    may_see_all = request.user.has_perm(VIEW_ALL)
    return render(
        request,
        "energy/node_list.html",
        {
            "rows": rows,
            "legend": _status_legend(rows),
            "may_see_all": may_see_all,
            "pending": list(PendingDevice.objects.all()[:100]) if may_see_all else [],
        },
    )


@login_required
def node_create(request):
    form = NodeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data.get("owner", request.user)
        node, raw_key = nodes.node_create(owner=owner, **form.node_fields())
        messages.success(request, _("The node “%(name)s” was added.") % {"name": node.name})
        return _show_key(request, node, raw_key)
    return render(request, "energy/node_form.html", {"form": form})


@login_required
def node_edit(request, pk):
    node = _node_or_404(request, pk)
    form = NodeForm(request.POST or None, instance=node, user=request.user)
    if request.method == "POST" and form.is_valid():
        nodes.node_update(node, **form.node_fields())
        messages.success(request, _("The node “%(name)s” was saved.") % {"name": node.name})
        return redirect("energy:node", pk=node.pk)
    return render(request, "energy/node_form.html", {"form": form, "node": node})


@login_required
def node_delete(request, pk):
    node = _node_or_404(request, pk)
    if request.method == "POST":
        nodes.node_delete(node)
        messages.success(
            request,
            _("The node “%(name)s” and its data were deleted; its device key no longer works.")
            % {"name": node.name},
        )
        return redirect("energy:nodes")
    history = DayRollup.objects.filter(node=node).aggregate(
        readings=Sum("readings"), since=Min("start")
    )
    return render(request, "energy/node_confirm_delete.html", {"node": node, **history})


@login_required
def node_rotate_key(request, pk):
    node = _node_or_404(request, pk)
    if request.method == "POST":
        raw_key = nodes.node_rotate_key(node)
        messages.warning(request, _("A new device key was issued; the old one no longer works."))
        return _show_key(request, node, raw_key, rotated=True)
    return render(request, "energy/node_rotate_key.html", {"node": node})


@login_required
@permission_required(VIEW_ALL, raise_exception=True)
def pending_claim(request, pk):
    """An administrator turns a device id that reported unannounced into someone's node."""
    pending = get_object_or_404(PendingDevice, pk=pk)
    initial = {"owner": request.user, "name": pending.device_id}
    form = ClaimForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            node, raw_key = nodes.claim_pending(pending, **form.cleaned_data)
        except ValidationError as error:  # an id no meter may use, or claimed meanwhile
            refusal = _("“%(id)s” cannot become a node.") % {"id": pending.device_id}
            form.add_error(None, [refusal, *error.messages])
        else:
            messages.success(request, _("“%(id)s” is now a node.") % {"id": node.device_id})
            return _show_key(request, node, raw_key)
    return render(request, "energy/pending_claim.html", {"form": form, "pending": pending})


@login_required
@permission_required(VIEW_ALL, raise_exception=True)
@require_POST
def pending_discard(request, pk):
    """Forget a pending device id (a typo in a meter's config, a test): it comes back if the
    device reports again."""
    pending = get_object_or_404(PendingDevice, pk=pk)
    pending.delete()
    messages.success(request, _("“%(id)s” was discarded.") % {"id": pending.device_id})
    return redirect("energy:nodes")
