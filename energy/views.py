"""Energy pages (being written): each view calls energy.selectors / energy.nodes."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from flowsuite.views import DOMAINS


@login_required
def panel(request, **kwargs):
    return render(request, "domain.html", {"domain": DOMAINS["energy"], "slug": "energy"})


consumption = node_list = node_create = node_dashboard = node_edit = node_delete = panel
node_rotate_key = pending_claim = panel
