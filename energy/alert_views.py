"""Pages of alerts, alert rules, automations, saving advice and energy settings.

Everyone sees and changes only their own (administrators too: these are personal); another
user's rule, automation, alert or advice is not found rather than forbidden. Writes go
through energy.alerts and energy.recommendations, and the models' clean() judges rules and
automations (the API reaches the same clean()).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import alerts, recommendations
from .alert_forms import AlertFilter, AutomationForm, CommentForm, EnergyProfileForm, RuleForm
from .models import Alert, AlertRule, Automation, AutomationRun, Recommendation
from .notifications import profile_of

ALERTS_PER_PAGE = 50
RUNS_SHOWN = 5


def _back(request, fallback: str):
    """Where a form posted from a list goes back to: its `next` (this site only)."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# --- alerts ------------------------------------------------------------------------------


def _own_alerts(request):
    return Alert.objects.filter(owner=request.user).select_related(
        "node", "rule", "acknowledged_by"
    )


def _linked_alert(request) -> int | None:
    value = request.GET.get("alert", "")
    return int(value) if value.isdigit() else None


@login_required
def alert_list(request):
    query = request.GET.copy()
    for name in ("page", "alert"):
        query.pop(name, None)
    alert_filter = AlertFilter(query or None, user=request.user)
    page = Paginator(alert_filter.apply(_own_alerts(request)), ALERTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    linked_id = _linked_alert(request)
    pinned = None
    if linked_id and all(alert.pk != linked_id for alert in page):
        pinned = _own_alerts(request).filter(pk=linked_id).first()
    counts = Alert.objects.filter(owner=request.user).aggregate(
        open=Count("pk", filter=Q(status=Alert.Status.OPEN)),
        acknowledged=Count("pk", filter=Q(status=Alert.Status.ACKNOWLEDGED)),
        resolved=Count("pk", filter=Q(status=Alert.Status.RESOLVED)),
    )
    return render(
        request,
        "energy/alerts/alert_list.html",
        {
            "filter": alert_filter,
            "page": page,
            "query": query.urlencode(),
            "linked_id": linked_id,
            "pinned": pinned,
            "counts": counts,
            "comment_form": CommentForm(),
            "has_rules": AlertRule.objects.filter(owner=request.user).exists(),
        },
    )


@login_required
@require_POST
def alert_acknowledge(request, pk):
    alert = get_object_or_404(Alert, pk=pk, owner=request.user)
    form = CommentForm(request.POST)
    if form.is_valid():
        if alert.status == Alert.Status.OPEN:
            alerts.acknowledge(alert, request.user, form.cleaned_data["comment"])
            messages.success(request, _("Alert acknowledged."))
        else:
            messages.info(request, _("That alert was no longer open."))
    else:
        messages.error(request, _("The comment is too long."))
    return _back(request, "energy:alerts")


@login_required
@require_POST
def alert_resolve(request, pk):
    alert = get_object_or_404(Alert, pk=pk, owner=request.user)
    form = CommentForm(request.POST)
    if form.is_valid():
        if alert.status != Alert.Status.RESOLVED:
            alerts.close(alert, request.user, form.cleaned_data["comment"])
            messages.success(request, _("Alert resolved."))
        else:
            messages.info(request, _("That alert was resolved already."))
    else:
        messages.error(request, _("The comment is too long."))
    return _back(request, "energy:alerts")


# --- rules -------------------------------------------------------------------------------


@login_required
def rule_list(request):
    rules = (
        AlertRule.objects.filter(owner=request.user)
        .select_related("node")
        .annotate(
            open_alerts=Count("alerts", filter=~Q(alerts__status=Alert.Status.RESOLVED)),
        )
    )
    return render(request, "energy/alerts/rule_list.html", {"rules": rules})


@login_required
def rule_edit(request, pk=None):
    rule = (
        get_object_or_404(AlertRule, pk=pk, owner=request.user)
        if pk
        else AlertRule(owner=request.user)
    )
    form = RuleForm(request.POST or None, instance=rule, user=request.user)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
        return redirect("energy:rules")
    return render(request, "energy/alerts/rule_form.html", {"form": form, "rule": rule})


@login_required
def rule_delete(request, pk):
    rule = get_object_or_404(AlertRule, pk=pk, owner=request.user)
    if request.method == "POST":
        rule.delete()
        messages.success(request, _("Rule “%(name)s” deleted.") % {"name": rule.name})
        return redirect("energy:rules")
    context = {
        "rule": rule,
        "open_alerts": rule.alerts.exclude(status=Alert.Status.RESOLVED).count(),
        "automations": rule.automations.count(),
    }
    return render(request, "energy/alerts/rule_confirm_delete.html", context)


# --- automations -------------------------------------------------------------------------


@login_required
def automation_list(request):
    recent = AutomationRun.objects.select_related("node").order_by("-queued_at")[:RUNS_SHOWN]
    automations = (
        Automation.objects.filter(owner=request.user)
        .select_related("rule", "node")
        .prefetch_related(Prefetch("runs", queryset=recent, to_attr="recent_runs"))
    )
    return render(request, "energy/alerts/automation_list.html", {"automations": automations})


@login_required
def automation_edit(request, pk=None):
    automation = (
        get_object_or_404(Automation, pk=pk, owner=request.user)
        if pk
        else Automation(owner=request.user)
    )
    form = AutomationForm(request.POST or None, instance=automation, user=request.user)
    if request.method == "POST" and form.is_valid():
        automation = form.save()
        messages.success(request, _("Automation “%(name)s” saved.") % {"name": automation.name})
        return redirect("energy:automations")
    context = {"form": form, "automation": automation}
    return render(request, "energy/alerts/automation_form.html", context)


@login_required
def automation_delete(request, pk):
    automation = get_object_or_404(Automation, pk=pk, owner=request.user)
    if request.method == "POST":
        automation.delete()
        messages.success(request, _("Automation “%(name)s” deleted.") % {"name": automation.name})
        return redirect("energy:automations")
    context = {"automation": automation, "runs": automation.runs.count()}
    return render(request, "energy/alerts/automation_confirm_delete.html", context)


# --- saving advice -----------------------------------------------------------------------


@login_required
def recommendation_list(request):
    advice = list(
        Recommendation.objects.filter(owner=request.user, dismissed_at__isnull=True)
        .select_related("node")
        .order_by("-saving_kwh_year")
    )
    totals = {
        "kwh": sum(item.saving_kwh_year for item in advice),
        "money": sum(item.saving_money_year for item in advice),
        "currencies": sorted({item.currency for item in advice}),
    }
    context = {
        "advice": advice,
        "totals": totals,
        "profile": profile_of(request.user),
        "computed_at": max((item.computed_at for item in advice), default=None),
        "dismissed": Recommendation.objects.filter(
            owner=request.user, dismissed_at__isnull=False
        ).count(),
    }
    return render(request, "energy/alerts/recommendation_list.html", context)


@login_required
@require_POST
def recommendation_dismiss(request, pk):
    advice = get_object_or_404(Recommendation, pk=pk, owner=request.user)
    advice.dismissed_at = timezone.now()
    advice.save(update_fields=["dismissed_at"])
    messages.success(request, _("Dismissed: %(title)s") % {"title": advice.title})
    return redirect("energy:recommendations")


@login_required
@require_POST
def recommendation_refresh(request):
    recommendations.compute(request.user)
    messages.success(request, _("The advice was computed again from your latest data."))
    return redirect("energy:recommendations")


# --- settings ----------------------------------------------------------------------------


@login_required
def energy_settings(request):
    form = EnergyProfileForm(request.POST or None, instance=profile_of(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()  # creates the profile the first time
        messages.success(request, _("Energy settings saved."))
        return redirect("energy:settings")
    return render(request, "energy/alerts/settings.html", {"form": form})
