"""Alert rules judged in the ingest path, and alerts' life: open, acknowledge, resolve."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import client_for, make_user
from energy import alerts, nodes, rules
from energy.ingest import ingest
from energy.models import Alert, AlertRule, RuleState

pytestmark = [pytest.mark.backend, pytest.mark.django_db]

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def owner():
    return make_user("owner@example.com")


@pytest.fixture
def node(owner):
    return nodes.node_create(owner=owner, device_id="esp32-a", name="Oven", expected_interval=60)[0]


def rule_for(owner, node=None, **fields):
    defaults = {"name": "Too much power", "kind": "threshold", "magnitude": "power"}
    rule = AlertRule(owner=owner, node=node, **{**defaults, **fields})
    rule.full_clean()
    rule.save()
    return rule


def feed(values, magnitude="power", start=T0, step=60, device_id="esp32-a"):
    """One reading a `step` seconds apart with each value, in one batch per reading."""
    for n, value in enumerate(values):
        ts = start + timedelta(seconds=n * step)
        ingest([(device_id, {magnitude: value, "ts": ts.isoformat()})], received_at=ts)


def statuses():
    return list(Alert.objects.order_by("opened_at").values_list("status", flat=True))


def test_power_held_above_the_threshold_for_the_duration_opens_one_alert(owner, node):
    rule = rule_for(owner, node, comparison="above", threshold=3000, duration=300)
    feed([2000, 3500, 3600, 3550, 3700, 3800])  # above from minute 1: 4 min held by minute 5
    assert statuses() == []
    feed([3900, 4000, 4100], start=T0 + timedelta(minutes=6))
    alert = Alert.objects.get()
    assert (alert.status, alert.rule, alert.node) == ("open", rule, node)
    assert alert.opened_at == T0 + timedelta(minutes=6)
    assert alert.values["power"] == 3900 and alert.values["threshold"] == 3000
    assert alert.message == "Power of Oven is 3900 W, above 3000 W"
    assert RuleState.objects.get().active


def test_a_short_spike_does_not_open_an_alert(owner, node):
    rule_for(owner, node, comparison="above", threshold=3000, duration=300)
    feed([1000, 5000, 5000, 1000, 5000, 5000, 1000, 1000])
    assert statuses() == []
    assert not RuleState.objects.exists()  # back to nothing going on: no state row kept


def test_a_value_hovering_at_the_threshold_does_not_flap(owner, node):
    rule_for(owner, node, comparison="above", threshold=3000, hysteresis=200, duration=0)
    feed([2900, 3010, 2990, 3020, 2950, 3005, 2850, 3100, 2810])
    assert statuses() == ["open"]  # opened at 3010, never cleared above 2800
    feed([2790], start=T0 + timedelta(minutes=10))
    assert statuses() == ["resolved"]
    alert = Alert.objects.get()
    assert alert.resolved_at == T0 + timedelta(minutes=10)
    assert alert.values["cleared"] == {"power": 2790}


def test_voltage_outside_a_band_opens_and_resolves_once_back_inside(owner, node):
    rule_for(
        owner,
        node,
        magnitude="voltage",
        comparison="outside",
        threshold=207,
        threshold_high=253,
        hysteresis=2,
        duration=120,
    )
    feed([230, 205, 204, 203, 206, 208, 210, 230], magnitude="voltage")
    assert statuses() == ["resolved"]
    alert = Alert.objects.get()
    assert alert.opened_at == T0 + timedelta(minutes=3)  # 205 from minute 1, held 2 min
    assert alert.resolved_at == T0 + timedelta(minutes=6)  # 210 ≥ 207 + 2 at minute 6
    assert "outside 207–253 V" in alert.message


def test_at_most_one_open_alert_per_rule_and_node_and_a_new_one_after_resolving(owner, node):
    rule_for(owner, node, comparison="above", threshold=100, duration=0)
    feed([150, 160, 170, 50, 150])
    assert statuses() == ["resolved", "open"]


def test_a_rule_for_all_nodes_watches_each_node_on_its_own(owner, node):
    other = nodes.node_create(owner=owner, device_id="esp32-b", name="Pump")[0]
    rule_for(owner, comparison="below", magnitude="frequency", threshold=49.5, duration=0)
    feed([50.0, 49.2], magnitude="frequency")
    feed([49.0], magnitude="frequency", device_id="esp32-b")
    assert sorted(Alert.objects.values_list("node__name", flat=True)) == ["Oven", "Pump"]
    assert other.pk in Alert.objects.values_list("node", flat=True)


def test_a_batch_of_readings_is_judged_reading_by_reading(owner, node):
    rule_for(owner, node, comparison="above", threshold=100, duration=120)
    batch = [
        ("esp32-a", {"power": value, "ts": (T0 + timedelta(minutes=n)).isoformat()})
        for n, value in enumerate([150, 150, 150, 50])
    ]
    ingest(batch, received_at=T0 + timedelta(minutes=5))
    alert = Alert.objects.get()
    assert alert.opened_at == T0 + timedelta(minutes=2)
    assert alert.status == "resolved"


def test_disabled_rules_and_other_magnitudes_are_left_alone(owner, node):
    rule_for(owner, node, comparison="above", threshold=100, enabled=False)
    rule_for(owner, node, magnitude="current", comparison="above", threshold=1)
    feed([500, 600])
    assert statuses() == []


def test_a_node_silent_for_longer_than_its_rule_allows_is_alerted_then_resolved(owner, node):
    rule_for(owner, node, name="Offline", kind="offline", offline_intervals=5, magnitude="")
    now = timezone.now()
    ingest([("esp32-a", {"power": 10.0})], received_at=now - timedelta(minutes=4))
    assert rules.check_clock(now) == {"opened": 0, "resolved": 0}  # 4 min < 5 x 60 s
    assert rules.check_clock(now + timedelta(minutes=2)) == {"opened": 1, "resolved": 0}
    assert rules.check_clock(now + timedelta(minutes=3))["opened"] == 0  # still the one
    alert = Alert.objects.get()
    assert (alert.severity, alert.status) == ("critical", "open")
    assert "stopped reporting" in alert.message
    ingest([("esp32-a", {"power": 12.0})], received_at=now + timedelta(minutes=4))
    assert statuses() == ["resolved"]


def test_a_daily_budget_counts_the_users_day_and_rolls_over_at_their_midnight(owner, node):
    owner.time_zone = "America/Mexico_City"  # UTC-6 in March
    owner.save()
    node.refresh_from_db()
    rule = rule_for(
        owner,
        node,
        name="Day budget",
        kind="budget",
        budget_kwh=5,
        budget_period="day",
        magnitude="",
    )
    now = timezone.now()
    local_midnight = now.astimezone(rules.ZoneInfo("America/Mexico_City")).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    before = local_midnight - timedelta(hours=2)  # yesterday, local
    after = local_midnight + (now - local_midnight) / 2  # today, local (maybe not in UTC)
    later = after + (now - after) / 2
    ingest([("esp32-a", {"energy": 100.0, "ts": before.isoformat()})], received_at=now)
    ingest([("esp32-a", {"energy": 104.0, "ts": (before + timedelta(hours=1)).isoformat()})])
    ingest([("esp32-a", {"energy": 106.0, "ts": after.isoformat()})], received_at=now)
    assert statuses() == []  # 4 kWh yesterday, 2 today: each day under 5
    ingest([("esp32-a", {"energy": 110.0, "ts": later.isoformat()})])
    alert = Alert.objects.get()
    assert alert.values["kwh"] == pytest.approx(6.0)
    assert alert.severity == "info" and alert.rule == rule
    assert rules.check_clock(now + timedelta(days=1))["resolved"] == 1  # a new day
    assert statuses() == ["resolved"]


def test_acknowledging_keeps_the_alert_open_until_it_clears(owner, node):
    rule_for(owner, node, comparison="above", threshold=100, duration=0)
    feed([500])
    alert = alerts.acknowledge(Alert.objects.get(), owner, "Oven left on, going to check")
    assert (alert.status, alert.comment) == ("acknowledged", "Oven left on, going to check")
    feed([50], start=T0 + timedelta(minutes=5))
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_rule_cannot_read_another_users_node(owner, node):
    stranger = make_user("stranger@example.com")
    with pytest.raises(ValidationError) as refused:
        rule_for(stranger, node, comparison="above", threshold=1)
    assert "node" in refused.value.message_dict
    answer = client_for(stranger).post(
        "/api/energy/rules/",
        {
            "name": "spy",
            "kind": "threshold",
            "node": node.pk,
            "magnitude": "power",
            "comparison": "above",
            "threshold": 1,
        },
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "node" in answer.json()["error"]["fields"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"magnitude": "colour", "comparison": "above", "threshold": 1}, "magnitude"),
        ({"comparison": "above"}, "threshold"),
        ({"comparison": "outside", "threshold": 250, "threshold_high": 200}, "threshold_high"),
        ({"kind": "budget", "magnitude": ""}, "budget_kwh"),
    ],
)
def test_an_incomplete_rule_says_what_is_missing(owner, fields, field):
    with pytest.raises(ValidationError) as refused:
        rule_for(owner, **fields)
    assert field in refused.value.message_dict


def test_the_rules_api_lists_only_your_rules(owner, node):
    rule_for(owner, node, comparison="above", threshold=1)
    stranger = make_user("stranger@example.com")
    assert client_for(stranger).get("/api/energy/rules/").json()["count"] == 0
    assert client_for(owner).get("/api/energy/rules/").json()["count"] == 1


def test_other_systems_raise_alerts_through_the_older_seeds_endpoint(owner, node):
    from accounts.services import api_token_create
    from conftest import bearer_client

    token = api_token_create(user=owner, name="scada")[1]
    answer = bearer_client(token).post(
        "/api/alert",
        {"message": "Transformer temperature high", "severity": "critical", "node": "esp32-a"},
        format="json",
    )
    assert answer.status_code == 201
    alert = Alert.objects.get()
    assert (alert.owner, alert.node, alert.source) == (owner, node, "external")
    device = bearer_client(nodes.node_rotate_key(node)).post(
        "/api/alert/", {"message": "Relay stuck"}, format="json"
    )
    assert device.status_code == 201
    assert Alert.objects.filter(node=node).count() == 2
    assert bearer_client(token).post("/api/alert/", {}, format="json").status_code == 400
    assert client_for(make_user("x@example.com")).get("/api/energy/alerts/").json()["count"] == 0


def test_a_rule_deleted_by_another_process_does_not_break_the_ingest(owner, node):
    from django.db import connection

    rule_for(owner, node, comparison="above", threshold=100, duration=0)
    feed([50])  # this process now holds the rule in its cache
    with connection.cursor() as cursor:  # another process deletes it: no signal here
        cursor.execute("DELETE FROM energy_alertrule")
    result = ingest(
        [("esp32-a", {"power": 500.0, "ts": (T0 + timedelta(minutes=5)).isoformat()})],
        received_at=T0 + timedelta(minutes=5),
    )
    assert result.accepted == 1
    assert not Alert.objects.exists() and not RuleState.objects.exists()
