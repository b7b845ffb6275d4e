"""Saving advice from a user's own data: four weeks of synthetic meters put in through ingest,
judged from the rollups, priced with the user's tariff."""

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import make_user
from energy import nodes
from energy.ingest import ingest
from energy.models import EnergyProfile, Recommendation
from energy.recommendations import compute

pytestmark = [pytest.mark.backend, pytest.mark.django_db]

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


def person(email, time_zone=""):
    user = make_user(email)
    if time_zone:
        user.time_zone = time_zone
        user.save()
    return user


def meter(owner, device_id):
    return nodes.node_create(owner=owner, device_id=device_id, name=device_id)[0]


def feed(node, load, *, days=28, end=NOW, power_factor=None):
    """A meter reporting every 15 minutes for `days` up to `end`: `load(local time)` watts,
    its counter grown at each reading by that power over the 15 minutes before."""
    zone = ZoneInfo(node.time_zone)
    counter, batch = 0.0, []
    ts = end - timedelta(days=days)
    while ts < end:
        watts = load(ts.astimezone(zone))
        counter += watts * STEP.total_seconds() / 3_600_000
        payload = {"ts": ts.isoformat(), "power": watts, "energy": counter}
        if power_factor is not None:
            payload["power_factor"] = power_factor
        batch.append((node.device_id, payload))
        ts += STEP
    assert ingest(batch, received_at=end).accepted == len(batch)


def by_day(watts_by_day, watts_at_night=0.0):
    """A load of `watts_by_day` from 07:00 to 23:00 local time."""
    return lambda t: watts_by_day if 7 <= t.hour < 23 else watts_at_night


def evening(t):
    """2 kW from 18:00 to 22:00 local time, 100 W the rest of the day."""
    return 2000.0 if 18 <= t.hour < 22 else 100.0


def time_of_use(user, peak_price="0.30"):
    return EnergyProfile.objects.update_or_create(
        user=user,
        defaults={
            "tariff": EnergyProfile.Tariff.TIME_OF_USE,
            "price": Decimal("0.10"),
            "peak_price": Decimal(peak_price),
            "peak_start": time(18),
            "peak_end": time(22),
            "currency": "EUR",
        },
    )[0]


def kinds(advice, node=None):
    return sorted(r.kind for r in advice if node is None or r.node == node)


def one(advice, kind, node=None):
    [found] = [r for r in advice if r.kind == kind and (node is None or r.node == node)]
    return found


def test_a_base_load_at_night_is_standby_advice_priced_at_half_its_yearly_kwh():
    alice = person("alice@example.com", time_zone="Asia/Tokyo")
    living_room = meter(alice, "esp32-living")
    noise = random.Random(1)
    feed(living_room, lambda t: 150 + noise.uniform(0, 6) + (1200 if 7 <= t.hour < 23 else 0))

    advice = compute(alice, now=NOW)

    standby = one(advice, "standby")
    figures = standby.evidence
    # Nights in Tokyo: read in UTC, the daytime load would be the "base".
    assert figures["base_w"] == pytest.approx(150, rel=0.05)
    assert figures["standby_kwh_year"] == pytest.approx(150 * 8.76, rel=0.05)
    assert figures["nights"] == 28
    assert standby.saving_kwh_year == pytest.approx(figures["standby_kwh_year"] / 2, abs=0.1)
    assert float(standby.saving_money_year) == pytest.approx(standby.saving_kwh_year * 0.15, 0.01)
    assert standby.currency == "USD"
    assert standby.node == living_room
    assert f"{round(figures['base_w'])} W" in standby.title
    assert f"{standby.saving_kwh_year:,.0f} kWh" in standby.detail
    assert kinds(advice) == ["standby"]  # the day load is far above it: not always on


def test_peak_hours_on_a_time_of_use_tariff_are_worth_shifting_in_money_not_kwh():
    bob = person("bob@example.com")
    time_of_use(bob)
    feed(meter(bob, "esp32-heater"), evening)

    advice = compute(bob, now=NOW)

    shift = one(advice, "peak_shift")
    # 2 kW for 4 peak hours a day: 8 kWh a day, 2,920 a year; 20 % of it moved saves 0.20 a kWh.
    assert shift.evidence["peak_kwh_year"] == pytest.approx(2920, rel=0.01)
    assert shift.evidence["shifted_kwh_year"] == pytest.approx(584, rel=0.01)
    assert shift.saving_money_year == Decimal("116.80")
    assert (shift.saving_kwh_year, shift.currency, shift.node) == (0, "EUR", None)
    assert "18:00–22:00" in shift.title and "2,920 kWh" in shift.detail
    assert shift.evidence["nodes"] == [{"device_id": "esp32-heater", "peak_kwh_year": 2920.0}]


def test_a_flat_tariff_gets_no_peak_shift_advice():
    carol = person("carol@example.com")
    feed(meter(carol, "esp32-heater"), evening)

    assert "peak_shift" not in kinds(compute(carol, now=NOW))


def test_a_poor_power_factor_is_found_at_075_and_not_at_097():
    dave = person("dave@example.com")
    pump = meter(dave, "esp32-pump")
    oven = meter(dave, "esp32-oven")
    feed(pump, by_day(800), power_factor=0.75)
    feed(oven, by_day(800), power_factor=0.97)

    advice = compute(dave, now=NOW)

    poor = one(advice, "power_factor")
    assert poor.node == pump
    assert poor.evidence["average_power_factor"] == 0.75
    kwh_year = 800 * 16 * 365 / 1000
    assert poor.evidence["kwh_year"] == pytest.approx(kwh_year, rel=0.01)
    expected = kwh_year * 0.03 * (1 - (0.75 / 0.95) ** 2)
    assert poor.saving_kwh_year == pytest.approx(expected, rel=0.01)
    assert "0.75" in poor.title


def test_a_week_well_above_the_three_before_is_unusual_but_not_without_three_weeks_of_history():
    erin = person("erin@example.com")
    kiln, steady, newcomer = (meter(erin, d) for d in ("esp32-kiln", "esp32-steady", "esp32-new"))
    week_ago = NOW - timedelta(days=7)
    feed(kiln, lambda t: (500 if t >= week_ago else 300) if 7 <= t.hour < 23 else 10)
    feed(steady, by_day(300, 10))
    feed(newcomer, lambda t: (500 if t >= week_ago else 300) if 7 <= t.hour < 23 else 10, days=14)

    advice = compute(erin, now=NOW)

    unusual = one(advice, "unusual")
    assert unusual.node == kiln
    # A usual week of 7 × (16 h × 300 W + 8 h × 10 W) = 34.16 kWh; last week 56.56 kWh.
    assert unusual.evidence["usual_week_kwh"] == pytest.approx(34.16, rel=0.01)
    assert unusual.evidence["last_week_kwh"] == pytest.approx(56.56, rel=0.01)
    assert unusual.saving_kwh_year == pytest.approx((56.56 - 34.16) * 52, rel=0.01)
    assert "66 %" in unusual.title


def test_a_node_that_never_turns_off_is_found_and_one_that_sleeps_at_night_is_not():
    fay = person("fay@example.com")
    server, lamp = meter(fay, "esp32-server"), meter(fay, "esp32-lamp")
    noise = random.Random(2)
    feed(server, lambda t: 120 + noise.uniform(-10, 10))
    feed(lamp, by_day(400, 2))

    advice = compute(fay, now=NOW)

    always_on = one(advice, "always_on")
    assert always_on.node == server
    assert 110 <= always_on.evidence["min_w"] <= 112 < 118 <= always_on.evidence["mean_w"] <= 122
    assert always_on.saving_kwh_year == pytest.approx(always_on.evidence["min_w"] * 2.92, 0.01)
    # Its base load is its work: no standby advice on top of it; the lamp gets none at all.
    assert kinds(advice, server) == ["always_on"]
    assert kinds(advice, lamp) == []


def test_a_dismissed_advice_stays_dismissed_with_its_figures_when_recomputed():
    alice = person("alice@example.com")
    feed(meter(alice, "esp32-living"), by_day(1200, 150))
    standby = one(compute(alice, now=NOW), "standby")
    Recommendation.objects.filter(pk=standby.pk).update(dismissed_at=NOW)

    assert compute(alice, now=NOW + timedelta(hours=1)) == []

    kept = Recommendation.objects.get(pk=standby.pk)
    assert kept.dismissed_at == NOW
    assert (kept.computed_at, kept.saving_kwh_year) == (NOW, standby.saving_kwh_year)


def test_a_dismissed_advice_comes_back_once_its_saving_grows_by_more_than_half():
    bob = person("bob@example.com")
    profile = time_of_use(bob, peak_price="0.30")
    feed(meter(bob, "esp32-heater"), evening)
    shift = one(compute(bob, now=NOW), "peak_shift")
    Recommendation.objects.filter(pk=shift.pk).update(dismissed_at=NOW)

    profile.peak_price = Decimal("0.35")  # 0.25 a kWh saved instead of 0.20: +25 %
    profile.save()
    assert "peak_shift" not in kinds(compute(bob, now=NOW))

    profile.peak_price = Decimal("0.50")  # 0.40 instead of 0.20: twice the saving
    profile.save()
    back = one(compute(bob, now=NOW), "peak_shift")
    assert back.pk == shift.pk and back.dismissed_at is None
    assert back.saving_money_year == Decimal("233.60")


def test_advice_that_no_longer_applies_is_removed():
    bob = person("bob@example.com")
    profile = time_of_use(bob)
    feed(meter(bob, "esp32-heater"), evening)
    assert "peak_shift" in kinds(compute(bob, now=NOW))

    profile.tariff = EnergyProfile.Tariff.FLAT
    profile.save()
    advice = compute(bob, now=NOW)

    assert "peak_shift" not in kinds(advice)
    assert not Recommendation.objects.filter(owner=bob, kind="peak_shift").exists()
    assert list(Recommendation.objects.filter(owner=bob)) == advice  # the standby stays


def test_one_users_data_never_feeds_another_users_advice():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    time_of_use(bob)
    feed(meter(alice, "esp32-living"), by_day(1200, 150))
    feed(meter(alice, "esp32-heater"), evening)
    lamp = meter(bob, "esp32-lamp")
    feed(lamp, by_day(100, 2))

    bobs = compute(bob, now=NOW)
    alices = compute(alice, now=NOW)

    assert kinds(bobs) == ["peak_shift"]
    assert [n["device_id"] for n in one(bobs, "peak_shift").evidence["nodes"]] == ["esp32-lamp"]
    # His lamp's 100 W for 4 peak hours: 146 kWh a year, not Alice's heater's 2,920.
    assert one(bobs, "peak_shift").evidence["peak_kwh_year"] == pytest.approx(146, rel=0.01)
    assert {r.node.owner for r in alices} == {alice}
    assert set(Recommendation.objects.filter(owner=bob)) == set(bobs)


def test_a_few_queries_per_user_however_many_nodes():
    small, large = person("small@example.com"), person("large@example.com")
    feed(meter(small, "esp32-s1"), by_day(1200, 150))
    for n in range(3):
        feed(meter(large, f"esp32-l{n}"), by_day(1200, 150))

    with CaptureQueriesContext(connection) as for_one:
        assert len(compute(small, now=NOW)) == 1
    with CaptureQueriesContext(connection) as for_three:
        assert len(compute(large, now=NOW)) == 3

    assert len(for_one) == len(for_three) <= 10


def test_the_command_computes_every_user_with_nodes_and_prints_a_line_each():
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    alice, bob = person("alice@example.com"), person("bob@example.com")
    person("otto@example.com")  # no nodes
    feed(meter(alice, "esp32-living"), by_day(1200, 150), end=end)
    feed(meter(bob, "esp32-lamp"), by_day(100, 2), end=end)

    out = StringIO()
    call_command("energy_recommendations", stdout=out)

    standby = Recommendation.objects.get(owner=alice)
    assert out.getvalue().splitlines() == [
        f"alice@example.com: 1 piece(s) of advice, {standby.saving_kwh_year:,.0f} kWh and "
        f"{standby.saving_money_year:,.2f} USD a year",
        "bob@example.com: no advice",
    ]
    out = StringIO()
    call_command("energy_recommendations", "--user", "BOB@example.com", stdout=out)
    assert out.getvalue() == "bob@example.com: no advice\n"
    with pytest.raises(CommandError, match="no user"):
        call_command("energy_recommendations", "--user", "nobody@example.com")
