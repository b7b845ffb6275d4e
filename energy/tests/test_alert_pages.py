"""The pages of alerts, rules, automations, saving advice and energy settings, seen by their
owner (Olga, an operator), another user (Otto, an outsider) and an administrator (Ada)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import client_for
from energy import alerts, nodes, recommendations
from energy.models import (
    Alert,
    AlertRule,
    Automation,
    AutomationRun,
    EnergyProfile,
    Node,
    Recommendation,
)

pytestmark = pytest.mark.django_db


def make_node(owner, device_id="esp32-kitchen", name="Kitchen") -> Node:
    return nodes.node_create(owner=owner, device_id=device_id, name=name)[0]


def make_rule(owner, node=None, **fields) -> AlertRule:
    values = {
        "name": "Kitchen over 2 kW",
        "kind": AlertRule.Kind.THRESHOLD,
        "magnitude": "power",
        "comparison": "above",
        "threshold": 2000.0,
        **fields,
    }
    rule = AlertRule(owner=owner, node=node, **values)
    rule.full_clean()
    rule.save()
    return rule


def open_alert(rule, node, power=2500.0) -> Alert:
    since = timezone.now().isoformat()
    values = {"power": power, "unit": "W", "threshold": rule.threshold, "since": since}
    return alerts.open_for_rule(rule, node.pk, timezone.now(), values)


def make_automation(owner, node, **fields) -> Automation:
    automation = Automation(
        owner=owner, name="Relay off", trigger="opened", action="mqtt", node=node, **fields
    )
    automation.full_clean()
    automation.save()
    return automation


def make_advice(owner, node, **fields) -> Recommendation:
    values = {
        "kind": Recommendation.Kind.STANDBY,
        "title": "“Kitchen” draws 80 W all night",
        "detail": "Over 14 nights, its lowest hourly mean was typically 80 W.",
        "evidence": {"base_w": 80.4, "nights": 14, "share_saved": 0.5},
        "saving_kwh_year": 350.4,
        "saving_money_year": Decimal("52.56"),
        "currency": "EUR",
        "computed_at": timezone.now(),
        **fields,
    }
    return Recommendation.objects.create(owner=owner, node=node, **values)


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rule_post(node="", **fields) -> dict:
    return {
        "name": "Oven",
        "enabled": "on",
        "kind": "threshold",
        "node": node,
        "magnitude": "power",
        "comparison": "above",
        "threshold": "1500",
        "threshold_high": "",
        "hysteresis": "50",
        "duration": "5",
        "duration_unit": "min",
        "offline_intervals": "5",
        "budget_kwh": "",
        "budget_period": "day",
        "notify_interval": "15",
        "webhook_url": "",
        "webhook_format": "json",
        **fields,
    }


def automation_post(node, **fields) -> dict:
    return {
        "name": "Oven off",
        "enabled": "on",
        "trigger": "opened",
        "rule": "",
        "at_time": "",
        "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "action": "mqtt",
        "node": node.pk,
        "topic": "flowsuite/energy/{{device_id}}/command",
        "payload": '{"relay": "off"}',
        "webhook_url": "",
        **fields,
    }


# --- every page, for its owner ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["alerts", "rules", "rule_new", "automations", "automation_new", "recommendations", "settings"],
)
def test_each_page_renders_for_its_owner_with_the_energy_tabs(operator, name):
    kitchen = make_node(operator)
    rule = make_rule(operator, kitchen)
    open_alert(rule, kitchen)
    make_automation(operator, kitchen)
    make_advice(operator, kitchen)

    page = html(client_for(operator).get(reverse(f"energy:{name}")))

    for tab in ("panel", "nodes", "consumption", "alerts", "rules", "recommendations"):
        assert f'href="{reverse(f"energy:{tab}")}"' in page
    assert 'aria-current="page"' in page


def test_the_alert_list_shows_the_message_node_severity_times_and_values(operator):
    kitchen = make_node(operator)
    rule = make_rule(operator, kitchen)
    alert = open_alert(rule, kitchen, power=2512.0)

    page = html(client_for(operator).get(reverse("energy:alerts")))

    assert alert.message in page
    assert alert.message == "Power of Kitchen is 2512 W, above 2000 W"
    assert reverse("energy:node", args=[kitchen.pk]) in page
    assert 'data-severity="warning"' in page
    assert "2,512\u00a0W" in page  # the triggering value, with its unit
    assert "2,000\u00a0W" in page  # the threshold
    assert reverse("energy:alert_ack", args=[alert.pk]) in page
    assert reverse("energy:alert_resolve", args=[alert.pk]) in page
    assert f'data-alert-live="user.{operator.pk}"' in page


def test_alert_times_are_shown_in_the_users_time_zone(operator):
    operator.time_zone = "America/Mexico_City"
    operator.save(update_fields=["time_zone"])
    alert = alerts.raise_external(owner=operator, message="Door open", source="x")
    Alert.objects.filter(pk=alert.pk).update(opened_at=datetime(2024, 1, 10, 18, 5, tzinfo=UTC))

    page = html(client_for(operator).get(reverse("energy:alerts")))

    assert "12:05" in page  # 18:05 UTC is 12:05 in Mexico City
    assert "6:05" not in page and "18:05" not in page


def test_alerts_are_filtered_by_status_severity_and_node(operator):
    kitchen, yard = make_node(operator), make_node(operator, "esp32-yard", "Yard")
    rule = make_rule(operator)
    in_kitchen = open_alert(rule, kitchen)
    in_yard = open_alert(rule, yard)
    alerts.acknowledge(in_yard, operator, "")
    client = client_for(operator)

    by_status = html(client.get(reverse("energy:alerts"), {"status": "acknowledged"}))
    by_node = html(client.get(reverse("energy:alerts"), {"node": kitchen.pk}))
    by_severity = html(client.get(reverse("energy:alerts"), {"severity": "critical"}))

    assert in_yard.message in by_status and in_kitchen.message not in by_status
    assert in_kitchen.message in by_node and in_yard.message not in by_node
    assert "No alerts match these filters" in by_severity


def test_a_linked_alert_is_highlighted_even_when_it_is_not_on_the_page(operator):
    kitchen = make_node(operator)
    old = alerts.raise_external(owner=operator, node=kitchen, message="Old one", source="x")
    alerts.close(old, operator)
    recent = alerts.raise_external(owner=operator, node=kitchen, message="New one", source="x")
    client = client_for(operator)

    on_page = html(client.get(reverse("energy:alerts"), {"alert": recent.pk}))
    filtered_out = html(client.get(reverse("energy:alerts"), {"alert": old.pk, "status": "open"}))

    assert f'is-linked" id="alert-{recent.pk}"' in on_page
    assert "The alert you followed a link to" not in on_page
    assert "The alert you followed a link to" in filtered_out
    assert f'is-linked" id="alert-{old.pk}"' in filtered_out


def test_acknowledging_with_a_comment_changes_the_status(operator):
    kitchen = make_node(operator)
    alert = open_alert(make_rule(operator, kitchen), kitchen)
    back = reverse("energy:alerts") + "?status=open"

    response = client_for(operator).post(
        reverse("energy:alert_ack", args=[alert.pk]),
        {"comment": "Oven left on; switched off.", "next": back},
    )

    assert response.status_code == 302 and response["Location"] == back
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    assert alert.comment == "Oven left on; switched off."
    assert alert.acknowledged_by == operator and alert.acknowledged_at is not None
    page = html(client_for(operator).get(reverse("energy:alerts")))
    assert "Oven left on; switched off." in page and "Acknowledged by" in page


def test_resolving_by_hand_closes_the_alert_and_the_next_must_be_on_this_site(operator):
    kitchen = make_node(operator)
    alert = alerts.raise_external(owner=operator, node=kitchen, message="Smoke", source="x")

    response = client_for(operator).post(
        reverse("energy:alert_resolve", args=[alert.pk]),
        {"comment": "False alarm", "next": "https://evil.example.com/"},
    )

    assert response["Location"] == reverse("energy:alerts")
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED and alert.comment == "False alarm"


def test_the_alert_list_costs_the_same_queries_for_one_alert_or_many(operator):
    kitchen = make_node(operator)
    client = client_for(operator)
    rule = make_rule(operator, kitchen)
    first = open_alert(rule, kitchen)
    alerts.acknowledge(first, operator, "seen")
    client.get(reverse("energy:alerts"))  # warm up sessions and caches
    with CaptureQueriesContext(connection) as one:
        html(client.get(reverse("energy:alerts")))
    for number in range(6):
        other = make_node(operator, f"esp32-{number}", f"Node {number}")
        alerts.acknowledge(open_alert(rule, other), operator, "seen")
    with CaptureQueriesContext(connection) as many:
        html(client.get(reverse("energy:alerts")))

    assert len(many.captured_queries) == len(one.captured_queries)


# --- another user ----------------------------------------------------------------------------


def test_another_user_sees_none_of_it_and_gets_404_on_every_action(operator, outsider):
    kitchen = make_node(operator)
    rule = make_rule(operator, kitchen)
    alert = open_alert(rule, kitchen)
    automation = make_automation(operator, kitchen)
    advice = make_advice(operator, kitchen)
    client = client_for(outsider)

    for name in ("alerts", "rules", "automations", "recommendations"):
        page = html(client.get(reverse(f"energy:{name}")))
        for secret in (alert.message, rule.name, automation.name, advice.title, "Kitchen"):
            assert secret not in page
    assert html(client.get(reverse("energy:alerts"), {"alert": alert.pk})).count(alert.message) == 0
    for name, pk in [
        ("rule_edit", rule.pk),
        ("rule_delete", rule.pk),
        ("automation_edit", automation.pk),
        ("automation_delete", automation.pk),
    ]:
        assert client.get(reverse(f"energy:{name}", args=[pk])).status_code == 404
        assert client.post(reverse(f"energy:{name}", args=[pk]), {}).status_code == 404
    for name, pk in [
        ("alert_ack", alert.pk),
        ("alert_resolve", alert.pk),
        ("advice_dismiss", advice.pk),
    ]:
        assert client.post(reverse(f"energy:{name}", args=[pk])).status_code == 404
    alert.refresh_from_db()
    advice.refresh_from_db()
    assert alert.status == Alert.Status.OPEN and advice.dismissed_at is None
    assert AlertRule.objects.filter(pk=rule.pk).exists()
    assert Automation.objects.filter(pk=automation.pk).exists()


def test_an_administrator_sees_only_their_own_alerts_and_rules(operator, admin_user):
    kitchen = make_node(operator)
    rule = make_rule(operator, kitchen)
    alert = open_alert(rule, kitchen)
    client = client_for(admin_user)

    assert alert.message not in html(client.get(reverse("energy:alerts")))
    assert rule.name not in html(client.get(reverse("energy:rules")))
    assert client.get(reverse("energy:rule_edit", args=[rule.pk])).status_code == 404


# --- rules -----------------------------------------------------------------------------------


def test_a_threshold_rule_is_created_with_its_duration_in_minutes(operator):
    kitchen = make_node(operator)

    response = client_for(operator).post(reverse("energy:rule_new"), rule_post(node=kitchen.pk))

    assert response.status_code == 302
    rule = AlertRule.objects.get(owner=operator)
    assert (rule.node, rule.magnitude, rule.threshold) == (kitchen, "power", 1500.0)
    assert rule.duration == 300 and rule.hysteresis == 50
    page = html(client_for(operator).get(reverse("energy:rules")))
    assert "Power above 1,500\u00a0W for 5 min" in page


def test_the_rule_form_offers_only_the_users_own_nodes_and_refuses_a_forged_one(operator, outsider):
    make_node(operator, "esp32-olga", "Olga's meter")
    others = make_node(outsider, "esp32-otto", "Otto's meter")
    client = client_for(operator)

    form = html(client.get(reverse("energy:rule_new")))
    response = client.post(reverse("energy:rule_new"), rule_post(node=others.pk))

    assert "Olga&#x27;s meter" in form and "Each of my nodes" in form
    assert "Otto" not in form
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not AlertRule.objects.exists()


def test_the_models_validation_errors_show_on_their_fields(operator):
    response = client_for(operator).post(
        reverse("energy:rule_new"),
        rule_post(comparison="outside", threshold="200", threshold_high="", budget_kwh="x"),
    )

    page = html(response)
    assert "Give an upper threshold above the lower one" in page
    assert 'id="id_threshold_high-errors"' in page
    assert 'id="id_budget_kwh-errors"' not in page  # a threshold rule has no budget
    assert not AlertRule.objects.exists()


def test_fields_of_another_kind_of_rule_are_ignored(operator):
    response = client_for(operator).post(
        reverse("energy:rule_new"),
        rule_post(kind="offline", magnitude="", threshold="not a number", offline_intervals="3"),
    )

    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.kind == "offline" and rule.offline_intervals == 3
    assert rule.threshold is None and rule.magnitude == "" and rule.node is None


def test_a_budget_rule_needs_its_kwh(operator):
    page = html(
        client_for(operator).post(
            reverse("energy:rule_new"), rule_post(kind="budget", budget_kwh="")
        )
    )

    assert "Give the budget in kWh." in page


def test_a_rule_is_edited_and_deleted_after_a_confirmation(operator):
    kitchen = make_node(operator)
    rule = make_rule(operator, kitchen, duration=90)
    client = client_for(operator)

    form = html(client.get(reverse("energy:rule_edit", args=[rule.pk])))
    client.post(
        reverse("energy:rule_edit", args=[rule.pk]),
        rule_post(node=kitchen.pk, name="Renamed", duration="30", duration_unit="s"),
    )
    rule.refresh_from_db()
    confirm = html(client.get(reverse("energy:rule_delete", args=[rule.pk])))
    client.post(reverse("energy:rule_delete", args=[rule.pk]))

    assert 'value="90"' in form  # 90 s is not a whole number of minutes
    assert (rule.name, rule.duration) == ("Renamed", 30)
    assert "Delete the rule “Renamed”?" in confirm
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


# --- automations -----------------------------------------------------------------------------


def test_an_automation_for_another_nodes_topic_is_refused_with_the_reason(operator, outsider):
    mine = make_node(operator, "esp32-olga", "Olga's meter")
    make_node(outsider, "esp32-otto", "Otto's meter")

    response = client_for(operator).post(
        reverse("energy:automation_new"),
        automation_post(mine, topic="flowsuite/energy/esp32-otto/command"),
    )

    page = html(response)
    assert "The topic must be under flowsuite/energy/{{device_id}}/" in page
    assert "is-invalid" in page
    assert not Automation.objects.exists()


def test_an_automation_for_another_users_node_or_rule_is_refused(operator, outsider):
    make_node(operator)
    others = make_node(outsider, "esp32-otto", "Otto's meter")
    their_rule = make_rule(outsider, others, name="Otto's rule")
    client = client_for(operator)

    form = html(client.get(reverse("energy:automation_new")))
    response = client.post(
        reverse("energy:automation_new"), automation_post(others, rule=their_rule.pk)
    )

    assert "Otto" not in form
    assert html(response).count("Select a valid choice") == 2
    assert not Automation.objects.exists()


def test_a_scheduled_automation_keeps_its_time_and_weekdays(operator):
    kitchen = make_node(operator)

    response = client_for(operator).post(
        reverse("energy:automation_new"),
        automation_post(kitchen, trigger="schedule", at_time="22:30", weekdays=["0", "4"]),
    )

    assert response.status_code == 302
    automation = Automation.objects.get()
    assert automation.at_time.strftime("%H:%M") == "22:30"
    assert automation.weekdays == "0,4"
    page = html(client_for(operator).get(reverse("energy:automations")))
    assert "Mon, Fri" in page


def test_a_webhook_automation_needs_its_url(operator):
    kitchen = make_node(operator)

    page = html(
        client_for(operator).post(
            reverse("energy:automation_new"), automation_post(kitchen, action="webhook")
        )
    )

    assert "Give the URL to call." in page


def test_the_automation_list_shows_the_last_runs_and_their_outcomes(operator):
    kitchen = make_node(operator)
    automation = make_automation(operator, kitchen)
    now = timezone.now()
    for minutes, outcome, detail in [
        (3, "ok", "published to flowsuite/energy/esp32-kitchen/command"),
        (2, "failed", "ConnectionError: no MQTT broker is configured"),
        (1, "pending", ""),
    ]:
        AutomationRun.objects.create(
            automation=automation,
            node=kitchen,
            trigger="opened",
            queued_at=now - timedelta(minutes=minutes),
            outcome=outcome,
            detail=detail,
        )

    page = html(client_for(operator).get(reverse("energy:automations")))

    assert "no MQTT broker is configured" in page
    assert 'data-kind="failed"' in page and 'data-kind="ok"' in page
    assert 'data-kind="pending"' in page


# --- advice and settings --------------------------------------------------------------------


def test_advice_shows_its_figures_and_is_dismissed(operator):
    kitchen = make_node(operator)
    advice = make_advice(operator, kitchen)
    client = client_for(operator)

    page = html(client.get(reverse("energy:recommendations")))
    client.post(reverse("energy:advice_dismiss", args=[advice.pk]))
    after = html(client.get(reverse("energy:recommendations")))

    assert advice.title in page
    assert "80.4\u00a0W" in page and "50\u00a0%" in page  # the evidence table
    assert "350" in page and "52.56\u00a0EUR" in page
    assert reverse("energy:settings") in page
    assert f'id="advice-{advice.pk}"' not in after
    assert "1 piece of advice dismissed." in after


def test_compute_again_runs_the_advice_for_the_user(operator, monkeypatch):
    asked = []
    monkeypatch.setattr(recommendations, "compute", lambda user, **kw: asked.append(user))

    response = client_for(operator).post(reverse("energy:advice_refresh"))

    assert response.status_code == 302 and asked == [operator]


def test_compute_again_works_with_the_real_advice(operator):
    make_node(operator)

    response = client_for(operator).post(reverse("energy:advice_refresh"), follow=True)

    assert response.status_code == 200


def test_energy_settings_are_created_on_the_first_save(operator):
    client = client_for(operator)
    assert "flat rate" in html(client.get(reverse("energy:settings")))

    response = client.post(
        reverse("energy:settings"),
        {
            "tariff": "tou",
            "currency": "eur",
            "price": "0.12",
            "peak_price": "0.31",
            "peak_start": "18:00",
            "peak_end": "22:00",
            "quiet_start": "23:00",
            "quiet_end": "07:00",
        },
    )

    assert response.status_code == 302
    profile = EnergyProfile.objects.get(user=operator)
    assert (profile.tariff, profile.currency, profile.price) == ("tou", "EUR", Decimal("0.12"))
    assert profile.notify_email is False  # the box was not ticked
    assert profile.quiet_start.hour == 23


def test_quiet_hours_need_both_ends(operator):
    page = html(
        client_for(operator).post(
            reverse("energy:settings"),
            {
                "tariff": "flat",
                "currency": "USD",
                "price": "0.15",
                "peak_price": "0.25",
                "peak_start": "18:00",
                "peak_end": "22:00",
                "quiet_start": "23:00",
            },
        )
    )

    assert "Give both ends of the quiet hours, or neither." in page
    assert not EnergyProfile.objects.exists()


# --- the navbar's bell -----------------------------------------------------------------------


def test_the_bell_shows_the_count_of_open_alerts_on_every_page(operator, outsider):
    kitchen = make_node(operator)
    rule = make_rule(operator)
    open_alert(rule, kitchen)
    open_alert(rule, make_node(operator, "esp32-yard", "Yard"))
    acknowledged = alerts.raise_external(owner=operator, message="Seen", source="x")
    alerts.acknowledge(acknowledged, operator)

    home = html(client_for(operator).get(reverse("home")))
    others = html(client_for(outsider).get(reverse("home")))

    assert 'id="alert-badge" data-count="2"' in home
    assert "2 open alerts" in home
    assert f'href="{reverse("energy:alerts")}" id="alert-bell"' in home
    assert 'id="alert-badge" data-count="0"' in others


def test_the_bell_is_not_shown_to_visitors(client):
    assert 'id="alert-bell"' not in html(client.get(reverse("login")))
