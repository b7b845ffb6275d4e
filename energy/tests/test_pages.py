"""The energy pages: the panel, a node's dashboard, consumption and managing nodes, seen by
an owner (Olga, an operator), another user (Otto, an outsider) and an administrator (Ada)."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import bearer_client, client_for
from energy import ingest, nodes
from energy.models import Node, PendingDevice


def make_node(owner, device_id="esp32-kitchen", name="Kitchen", **fields) -> tuple[Node, str]:
    return nodes.node_create(owner=owner, device_id=device_id, name=name, **fields)


def send(device_id, *readings, received_at=None):
    """Ingest readings given as (datetime, {magnitude: value})."""
    messages = [(device_id, {"ts": ts.isoformat(), **values}) for ts, values in readings]
    result = ingest.ingest(messages, received_at=received_at or timezone.now())
    assert not result.rejected, result.rejected
    return result


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def post_ingest(raw_key, **values):
    return bearer_client(raw_key).post(reverse("api:energy-ingest"), values, format="json")


# --- the panel ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_panel_shows_live_averages_and_every_nodes_status(operator):
    kitchen, _ = make_node(operator, "esp32-kitchen", "Kitchen")
    make_node(operator, "esp32-yard", "Yard lights")
    now = timezone.now()
    send("esp32-kitchen", (now - timedelta(seconds=5), {"voltage": 234.6, "power": 1500.0}))

    page = html(client_for(operator).get(reverse("energy:panel")))

    assert "Kitchen" in page and "Yard lights" in page
    assert "234.6\u00a0V" in page  # the one node sending voltage now
    assert "1.50\u00a0kW" in page
    assert "+2.0\u00a0%" in page  # (234.6 − 230) / 230
    assert "Online" in page and "Never reported" in page
    assert "No data yet: check the device id and key in the meter." in page
    assert f'data-live-group="energy.owner.{operator.pk}"' in page


@pytest.mark.django_db
def test_a_node_whose_last_will_fired_is_shown_offline_with_why(operator):
    make_node(operator, "esp32-yard", "Yard lights")
    send("esp32-yard", (timezone.now() - timedelta(seconds=5), {"power": 80.0}))
    nodes.set_link_state("esp32-yard", "offline")

    page = html(client_for(operator).get(reverse("energy:panel")))

    assert 'data-status="offline"' in page
    assert "Its last will fired, or no data for a few reporting intervals." in page


@pytest.mark.django_db
def test_someone_without_nodes_is_invited_to_add_the_first(outsider):
    page = html(client_for(outsider).get(reverse("energy:panel")))

    assert "Add your first energy meter" in page
    assert reverse("energy:node_new") in page
    assert "simulate_meters" in page


@pytest.mark.django_db
def test_an_admin_sees_their_own_panel_or_everyones(admin_user, operator):
    make_node(operator, "esp32-kitchen", "Kitchen")
    client = client_for(admin_user)

    own = html(client.get(reverse("energy:panel")))
    everyone = html(client.get(reverse("energy:panel") + "?all=1"))

    assert "Kitchen" not in own and "Add your first energy meter" in own
    assert "Kitchen" in everyone and 'data-live-group="energy.all"' in everyone


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["panel", "consumption", "nodes", "node_new", "node", "node_edit", "node_delete", "node_key"],
)
def test_every_page_renders_for_an_owner(operator, name):
    node, _ = make_node(operator)
    args = [] if name in ("panel", "consumption", "nodes", "node_new") else [node.pk]

    page = html(client_for(operator).get(reverse(f"energy:{name}", args=args)))

    assert 'href="/energy/consumption/"' in page  # the energy menu


# --- a node's dashboard ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_shows_each_magnitudes_figures_and_how_to_connect(operator):
    node, _ = make_node(operator, "esp32-kitchen", "Kitchen", location="Ground floor")
    now = timezone.now()
    send(
        "esp32-kitchen",
        (now - timedelta(minutes=20), {"power": 400.0, "voltage": 229.0, "energy": 10.0}),
        (now - timedelta(minutes=10), {"power": 2500.0, "voltage": 231.0, "energy": 10.5}),
        (now - timedelta(seconds=30), {"power": 900.0, "voltage": 230.0, "energy": 10.75}),
    )

    page = html(client_for(operator).get(reverse("energy:node", args=[node.pk]) + "?range=1h"))

    assert 'id="current-power" data-value="900.0">900\u00a0W<' in page
    assert 'id="max-power" data-value="2500.0">2.50\u00a0kW<' in page
    assert 'id="min-power" data-value="400.0">400\u00a0W<' in page
    assert "0.750\u00a0kWh" in page  # used in the range: 0.5 + 0.25
    assert "every reading" in page  # an hour is drawn from the raw readings
    assert "flowsuite/energy/esp32-kitchen/telemetry" in page
    assert "flowsuite/energy/esp32-kitchen/status" in page
    assert "http://testserver/api/energy/ingest/" in page
    assert f"/api/energy/nodes/{node.pk}/readings/?resolution=raw&amp;range=1h" in page
    assert f'data-group="energy.node.{node.pk}"' in page


@pytest.mark.django_db
def test_the_dashboard_picks_a_coarser_resolution_for_longer_ranges(operator):
    node, _ = make_node(operator)
    url = reverse("energy:node", args=[node.pk])
    client = client_for(operator)

    assert 'data-resolution="minute"' in html(client.get(url))
    assert 'data-resolution="hour"' in html(client.get(url + "?range=30d"))
    assert 'data-resolution="day"' in html(client.get(url + "?range=1y"))


@pytest.mark.django_db
def test_a_custom_range_is_not_live_and_a_backwards_one_is_explained(operator):
    node, _ = make_node(operator)
    url = reverse("energy:node", args=[node.pk])
    client = client_for(operator)

    custom = html(client.get(url + "?range=custom&start=2026-01-01T00:00&end=2026-01-03T00:00"))
    backwards = html(client.get(url + "?range=custom&start=2026-01-03T00:00&end=2026-01-01T00:00"))

    assert 'data-live=""' in custom and 'data-resolution="hour"' in custom
    assert "The end must be after the start." in backwards


# --- who sees what --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["node", "node_edit", "node_delete", "node_key"])
def test_another_users_node_is_not_found(operator, outsider, name):
    node, _ = make_node(operator)
    client = client_for(outsider)

    assert client.get(reverse(f"energy:{name}", args=[node.pk])).status_code == 404
    assert client.post(reverse(f"energy:{name}", args=[node.pk])).status_code == 404
    node.refresh_from_db()
    assert node.device_key.revoked_at is None


@pytest.mark.django_db
def test_lists_show_only_your_own_nodes(operator, outsider):
    make_node(operator, "esp32-kitchen", "Kitchen")
    make_node(outsider, "esp32-garage", "Garage")
    client = client_for(outsider)

    for name in ("energy:panel", "energy:nodes", "energy:consumption"):
        page = html(client.get(reverse(name)))
        assert "Garage" in page and "Kitchen" not in page, name


@pytest.mark.django_db
def test_consumption_of_another_users_node_is_not_shown(operator, outsider):
    kitchen, _ = make_node(operator, "esp32-kitchen", "Kitchen")
    make_node(outsider, "esp32-garage", "Garage")
    yesterday = timezone.now() - timedelta(days=1)
    send(
        "esp32-kitchen",
        (yesterday, {"energy": 100.0}),
        (yesterday + timedelta(hours=1), {"energy": 107.0}),
    )
    url = reverse("energy:consumption")

    mine = html(client_for(operator).get(f"{url}?node={kitchen.pk}"))
    theirs = html(client_for(outsider).get(f"{url}?node={kitchen.pk}"))

    assert 'id="total-kwh">7.00<' in mine
    assert 'id="total-kwh">0.00<' in theirs and "Kitchen" not in theirs


@pytest.mark.django_db
def test_an_admin_sees_every_node_with_its_owner_and_the_pending_devices(admin_user, operator):
    make_node(operator, "esp32-kitchen", "Kitchen")
    ingest.ingest([("esp32-stranger", {"power": 12.0})])

    page = html(client_for(admin_user).get(reverse("energy:nodes")))

    assert "Kitchen" in page and "Olga Operator" in page
    assert "Pending devices" in page and "esp32-stranger" in page
    pending = PendingDevice.objects.get()
    assert reverse("energy:pending_claim", args=[pending.pk]) in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/energy/nodes/", "/energy/?all=1", "/energy/consumption/"])
def test_lists_cost_the_same_queries_for_one_node_or_many(admin_user, operator, url):
    client = client_for(admin_user)
    make_node(operator, "esp32-1", "One")
    send("esp32-1", (timezone.now(), {"power": 5.0, "energy": 1.0}))
    client.get(url)  # warm the permission cache
    with CaptureQueriesContext(connection) as one:
        html(client.get(url))
    for index in range(2, 7):
        make_node(operator, f"esp32-{index}", f"Node {index}")
        send(f"esp32-{index}", (timezone.now(), {"power": 5.0, "energy": 1.0}))
    with CaptureQueriesContext(connection) as many:
        html(client.get(url))

    assert len(many) == len(one)


# --- adding, changing and removing nodes ----------------------------------------------------


@pytest.mark.django_db
def test_adding_a_node_shows_its_device_key_once(operator):
    client = client_for(operator)

    page = html(
        client.post(
            reverse("energy:node_new"),
            {"device_id": "esp32-kitchen", "name": "Kitchen", "expected_interval": 10},
        )
    )

    node = Node.objects.get()
    raw_key = page.split('id="device-key"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert raw_key.startswith("fsd_")
    assert "it will not be shown again" in page
    assert node.owner == operator and node.expected_interval == 10
    assert post_ingest(raw_key, power=250.0).json()["accepted"] == 1
    assert raw_key not in html(client.get(reverse("energy:node", args=[node.pk])))


@pytest.mark.django_db
def test_a_duplicate_device_id_gets_a_clear_message(operator, outsider):
    make_node(outsider, "esp32-kitchen", "Otto's kitchen")

    response = client_for(operator).post(
        reverse("energy:node_new"),
        {"device_id": "esp32-kitchen", "name": "Mine", "expected_interval": 30},
    )

    page = html(response)
    assert "A node with the device id “esp32-kitchen” already exists" in page
    assert Node.objects.count() == 1


@pytest.mark.django_db
def test_a_device_id_that_cannot_be_an_mqtt_topic_level_is_refused(operator):
    response = client_for(operator).post(
        reverse("energy:node_new"), {"device_id": "kitchen/1", "name": "K", "expected_interval": 30}
    )

    assert "no spaces or slashes" in html(response)
    assert not Node.objects.exists()


@pytest.mark.django_db
def test_editing_a_node_saves_it_and_refuses_a_taken_device_id(operator):
    kitchen, _ = make_node(operator, "esp32-kitchen", "Kitchen")
    make_node(operator, "esp32-yard", "Yard")
    client = client_for(operator)
    url = reverse("energy:node_edit", args=[kitchen.pk])
    fields = {"device_id": "esp32-kitchen", "name": "Kitchen", "expected_interval": 30}

    saved = client.post(url, {**fields, "location": "Ground floor"})
    taken = client.post(url, {**fields, "device_id": "esp32-yard"})

    assert saved.status_code == 302 and saved.url == reverse("energy:node", args=[kitchen.pk])
    assert "already exists" in html(taken)
    kitchen.refresh_from_db()
    assert kitchen.location == "Ground floor" and kitchen.device_id == "esp32-kitchen"


@pytest.mark.django_db
def test_deleting_a_node_asks_first_then_removes_it_and_its_key(operator):
    node, raw_key = make_node(operator)
    client = client_for(operator)
    url = reverse("energy:node_delete", args=[node.pk])

    confirm = html(client.get(url))
    assert "This cannot be undone." in confirm and Node.objects.exists()

    response = client.post(url)

    assert response.status_code == 302 and response.url == reverse("energy:nodes")
    assert not Node.objects.exists()
    assert post_ingest(raw_key, power=250.0).status_code in (401, 403)


@pytest.mark.django_db
def test_a_new_key_is_shown_once_and_the_old_one_stops_working(operator):
    node, old_key = make_node(operator)
    client = client_for(operator)
    url = reverse("energy:node_key", args=[node.pk])

    assert "stops working at once" in html(client.get(url))
    page = html(client.post(url))

    new_key = page.split('id="device-key"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert new_key != old_key and "it will not be shown again" in page
    assert post_ingest(old_key, power=1.0).status_code in (401, 403)
    assert post_ingest(new_key, power=1.0).json()["accepted"] == 1


# --- claiming pending devices ---------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_claims_a_pending_device_for_someone(admin_user, operator):
    ingest.ingest([("esp32-stranger", {"power": 12.0})])
    pending = PendingDevice.objects.get()
    client = client_for(admin_user)
    url = reverse("energy:pending_claim", args=[pending.pk])

    assert "esp32-stranger" in html(client.get(url))
    page = html(client.post(url, {"owner": operator.pk, "name": "Stranger"}))

    node = Node.objects.get()
    assert (node.device_id, node.name, node.owner) == ("esp32-stranger", "Stranger", operator)
    assert "it will not be shown again" in page
    assert not PendingDevice.objects.exists()


@pytest.mark.django_db
def test_only_admins_may_claim_pending_devices(operator):
    ingest.ingest([("esp32-stranger", {"power": 12.0})])
    url = reverse("energy:pending_claim", args=[PendingDevice.objects.get().pk])
    client = client_for(operator)

    assert client.get(url).status_code == 403
    assert client.post(url, {"owner": operator.pk, "name": "Mine"}).status_code == 403
    assert not Node.objects.exists()


@pytest.mark.django_db
def test_claiming_an_id_no_meter_may_use_says_why(admin_user):
    ingest.ingest([("meter 12/b", {"power": 5.0})])
    url = reverse("energy:pending_claim", args=[PendingDevice.objects.get().pk])

    page = html(client_for(admin_user).post(url, {"owner": admin_user.pk, "name": "M"}))

    assert "“meter 12/b” cannot become a node." in page
    assert not Node.objects.exists()


# --- consumption ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_consumption_shows_hand_checkable_totals_and_the_change(operator):
    node, _ = make_node(operator, "esp32-kitchen", "Kitchen")
    today = timezone.localdate()

    def at(days_ago, hour):
        return datetime.combine(today - timedelta(days=days_ago), time(hour), UTC)

    send(
        "esp32-kitchen",
        (at(40, 8), {"energy": 90.0}),
        (at(40, 9), {"energy": 92.0}),  # 2.0 kWh, 40 days ago: the 30 days before
        (at(3, 10), {"energy": 92.0}),
        (at(3, 12), {"energy": 93.5}),  # 1.5 kWh three days ago
        (at(2, 9), {"energy": 96.5}),  # 3.0
        (at(2, 10), {"energy": 97.0}),  # 0.5: 3.5 kWh two days ago
    )

    page = html(client_for(operator).get(reverse("energy:consumption")))

    assert 'id="total-kwh">5.00<' in page
    assert 'id="previous-kwh">2.00<' in page
    assert "+150.0\u00a0%" in page and "More than before." in page
    day = (today - timedelta(days=2)).strftime("%m/%d/%Y")
    assert f"{day}</td><td" in page and ">3.50</td>" in page and ">1.50</td>" in page
    by_month = html(client_for(operator).get(reverse("energy:consumption") + "?period=month"))
    assert 'id="total-kwh">7.00<' in by_month  # the last 12 months hold all three days


@pytest.mark.django_db
def test_consumption_by_hour_of_one_node(operator):
    kitchen, _ = make_node(operator, "esp32-kitchen", "Kitchen")
    make_node(operator, "esp32-yard", "Yard")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    send("esp32-kitchen", (hour, {"energy": 1.0}), (hour + timedelta(minutes=30), {"energy": 1.25}))
    send("esp32-yard", (hour, {"energy": 5.0}), (hour + timedelta(minutes=30), {"energy": 9.0}))
    url = reverse("energy:consumption")

    page = html(client_for(operator).get(f"{url}?period=hour&node={kitchen.pk}"))

    assert 'id="total-kwh">0.25<' in page
    assert "Last 24 hours" in page


@pytest.mark.django_db
def test_a_custom_consumption_range_too_fine_for_its_period_is_refused(operator):
    make_node(operator)
    start = timezone.localdate() - timedelta(days=60)
    url = reverse("energy:consumption") + f"?period=hour&start={start}"

    page = html(client_for(operator).get(url))

    assert "too many bars" in page
    assert "Last 24 hours" in page  # shown instead


@pytest.mark.django_db
def test_the_panel_shows_the_users_best_saving_advice_and_not_dismissed_ones(operator):
    from energy.models import Recommendation

    owner = operator
    node, _ = make_node(owner, "esp32-adv", "Fridge")
    send("esp32-adv", (timezone.now(), {"power": 100.0}))
    common = {
        "owner": owner,
        "node": node,
        "detail": "…",
        "evidence": {},
        "currency": "USD",
        "computed_at": timezone.now(),
    }
    Recommendation.objects.create(
        kind="standby",
        title="Standby of Fridge",
        saving_kwh_year=400,
        saving_money_year=60,
        **common,
    )
    Recommendation.objects.create(
        kind="always_on",
        title="Fridge never sleeps",
        saving_kwh_year=90,
        saving_money_year=13,
        dismissed_at=timezone.now(),
        **common,
    )
    html = client_for(owner).get(reverse("energy:panel")).content.decode()
    assert "Standby of Fridge" in html
    assert "Fridge never sleeps" not in html


@pytest.mark.django_db
def test_an_admin_discards_a_pending_device_and_others_may_not(admin_user, operator):
    pending = PendingDevice.objects.create(
        device_id="typo 12/b", source="mqtt", last_seen_at=timezone.now()
    )
    url = reverse("energy:pending_discard", args=[pending.pk])
    assert client_for(operator).post(url).status_code == 403
    assert client_for(admin_user).post(url).status_code == 302
    assert not PendingDevice.objects.exists()
