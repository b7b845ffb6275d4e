"""The one ingest service, the rollups it keeps and the aggregates read from them."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conftest import make_user
from energy import nodes, rollups, selectors
from energy.ingest import ingest
from energy.models import DayRollup, HourRollup, MinuteRollup, Node, PendingDevice, Reading

pytestmark = [pytest.mark.backend, pytest.mark.django_db]

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(hours=0.0, minutes=0.0, seconds=0.0):
    return NOW - timedelta(hours=6) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def meter(device_id="esp32-a", owner=None, **fields):
    owner = owner or make_user(f"{device_id}@example.com")
    return nodes.node_create(owner=owner, device_id=device_id, name=device_id, **fields)[0]


def send(*readings, device_id="esp32-a", received_at=NOW):
    batch = [(device_id, {**r, "ts": r["ts"].isoformat()} if "ts" in r else r) for r in readings]
    return ingest(batch, received_at=received_at)


def used(node):
    return round(sum(Reading.objects.filter(node=node).values_list("energy_used", flat=True)), 6)


def hours_of(node):
    return {
        start: round(kwh, 6)
        for start, kwh in HourRollup.objects.filter(node=node).values_list("start", "energy_used")
    }


def test_a_batch_is_stored_with_the_received_time_when_a_reading_has_none():
    node = meter()
    result = send({"voltage": 231.2, "power": 800, "ts": at()}, {"power": 810})
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, [])
    assert sorted(Reading.objects.values_list("ts", flat=True)) == [at(), NOW]
    node.refresh_from_db()
    assert node.last_reading_at == NOW
    assert node.latest["power"] == 810 and node.latest["voltage"] == 231.2


@pytest.mark.parametrize(
    "reading, reason",
    [
        ({"voltage": 1500}, "voltage 1500 is outside 0..1000 V"),
        ({"power": -5}, "power -5 is outside"),
        ({"power_factor": 1.3}, "power_factor 1.3 is outside"),
        ({"frequency": 5}, "frequency 5 is outside"),
        ({"power": "800"}, "power must be a number"),
        ({"power": True}, "power must be a number"),
        ({"power": float("nan")}, "power is not a finite number"),
        ({"power": float("inf")}, "power is not a finite number"),
        ({"colour": "blue"}, "no magnitude in the reading"),
        ({"power": 1, "ts": "2026-03-10T11:00:00"}, "ts has no time zone"),
        ({"power": 1, "ts": "tomorrow"}, "ts is not an ISO 8601 time"),
        ({"power": 1, "ts": (NOW + timedelta(hours=1)).timestamp()}, "ts is in the future"),
        ({"power": 1, "ts": (NOW - timedelta(days=800)).timestamp()}, "older than the backfill"),
    ],
)
def test_a_bad_reading_is_refused_with_its_reason_and_stores_nothing(reading, reason):
    meter()
    result = ingest([("esp32-a", reading)], received_at=NOW)
    assert result.accepted == 0
    assert reason in result.rejected[0].reason
    assert not Reading.objects.exists()
    assert not MinuteRollup.objects.exists()


def test_bad_readings_do_not_keep_the_good_ones_of_the_batch_out():
    meter()
    result = send({"power": 100, "ts": at()}, {"power": "x"}, {"power": 120, "ts": at(0, 1)})
    assert result.accepted == 2
    assert [r.index for r in result.rejected] == [1]


def test_epoch_seconds_and_milliseconds_are_both_understood():
    meter()
    seconds, millis = at().timestamp(), at(minutes=1).timestamp() * 1000
    assert ingest([("esp32-a", {"power": 1, "ts": seconds})], received_at=NOW).accepted == 1
    assert ingest([("esp32-a", {"power": 1, "ts": millis})], received_at=NOW).accepted == 1
    assert sorted(Reading.objects.values_list("ts", flat=True)) == [at(), at(minutes=1)]


def test_unknown_fields_are_dropped_and_counted_the_reading_kept():
    meter()
    result = send({"power": 100, "rssi": -70, "firmware": "1.2", "ts": at()})
    assert (result.accepted, result.ignored_fields) == (1, 2)


def test_an_unknown_device_is_refused_and_listed_as_pending():
    result = ingest([("esp32-x", {"power": 1}), ("esp32-x", {"power": 2})], source="mqtt")
    assert [r.reason for r in result.rejected] == ["unknown device"] * 2
    pending = PendingDevice.objects.get()
    assert (pending.device_id, pending.messages, pending.source) == ("esp32-x", 2, "mqtt")
    assert "'power': 2" in pending.last_payload


def test_a_redelivered_reading_is_stored_once_and_counted_once_in_the_rollups():
    node = meter()
    readings = [{"power": 100 + n, "energy": 10 + n / 100, "ts": at(minutes=n)} for n in range(5)]
    assert send(*readings).accepted == 5
    again = send(*readings, readings[2])
    assert (again.accepted, again.duplicates) == (0, 6)
    assert Reading.objects.count() == 5
    assert sum(MinuteRollup.objects.values_list("readings", flat=True)) == 5
    assert used(node) == pytest.approx(0.04)
    assert sum(hours_of(node).values()) == pytest.approx(0.04)


def test_a_counter_reset_adds_no_spike_and_no_negative_consumption():
    node = meter()
    send(
        {"energy": 100.0, "ts": at(0)},
        {"energy": 101.0, "ts": at(0, 10)},
        {"energy": 0.2, "ts": at(0, 20)},  # the meter rebooted: its counter starts again
        {"energy": 1.2, "ts": at(0, 30)},
    )
    assert list(Reading.objects.order_by("ts").values_list("energy_used", flat=True)) == (
        pytest.approx([0, 1.0, 0.2, 1.0])
    )
    assert min(HourRollup.objects.values_list("energy_used", flat=True)) >= 0
    assert used(node) == pytest.approx(2.2)


def test_an_impossible_counter_jump_counts_nothing():
    node = meter()
    send({"energy": 10.0, "ts": at(0)}, {"energy": 90_000.0, "ts": at(0, 1)})
    assert used(node) == 0  # 89,990 kWh in a minute: a replaced meter, not consumption


def test_late_readings_land_in_their_own_hours_and_correct_the_next_one():
    node = meter()
    send({"energy": 10.0, "ts": at(0)}, {"energy": 13.0, "ts": at(3)})
    assert hours_of(node) == {at(0): 0, at(3): 3.0}
    # The meter catches up after an outage: readings of hours 1 and 2 arrive later.
    result = send({"energy": 11.0, "ts": at(1)}, {"energy": 12.5, "ts": at(2)})
    assert result.accepted == 2
    assert hours_of(node) == {at(0): 0, at(1): 1.0, at(2): 1.5, at(3): 0.5}
    assert used(node) == pytest.approx(3.0)
    node.refresh_from_db()
    assert (node.counter_kwh, node.last_reading_at) == (13.0, at(3))


def test_a_power_only_meter_is_integrated_over_time():
    node = meter(expected_interval=60)
    send(*[{"power": 1200.0, "ts": at(0, n)} for n in range(61)])
    assert used(node) == pytest.approx(1.2)  # 1.2 kW for an hour


def test_rollups_keep_count_mean_min_and_max_per_minute_hour_and_day():
    node = meter()
    send(
        {"voltage": 228.0, "power": 100.0, "ts": at(0, 0, 0)},
        {"voltage": 232.0, "power": 300.0, "ts": at(0, 0, 30)},
        {"voltage": 230.0, "ts": at(0, 1, 0)},
    )
    minute = MinuteRollup.objects.get(node=node, start=at(0))
    assert (minute.readings, minute.voltage_min, minute.voltage_max) == (2, 228.0, 232.0)
    assert minute.voltage_sum / minute.voltage_count == 230.0
    hour = HourRollup.objects.get(node=node)
    assert (hour.readings, hour.voltage_count, hour.power_count) == (3, 3, 2)
    assert (hour.power_min, hour.power_max, hour.power_sum) == (100.0, 300.0, 400.0)
    day = DayRollup.objects.get(node=node)
    assert (day.readings, day.start) == (3, at().date())


def test_consumption_is_cut_at_the_users_midnight_across_a_counter_reset():
    # Mexico City is UTC-6 in March: its midnight of 10 March is 06:00 UTC.
    zone = ZoneInfo("America/Mexico_City")
    owner = make_user("mx@example.com")
    owner.time_zone = "America/Mexico_City"
    owner.save()
    node = meter(owner=owner)
    assert node.time_zone == "America/Mexico_City"

    def utc(day, hour, minute=0):
        return datetime(2026, 3, day, hour, minute, tzinfo=UTC)

    send(
        {"energy": 50.0, "ts": utc(10, 4)},  # 9 March 22:00 local
        {"energy": 52.0, "ts": utc(10, 5, 30)},  # 9 March 23:30: +2
        {"energy": 53.5, "ts": utc(10, 6, 30)},  # 10 March 00:30: +1.5
        {"energy": 0.5, "ts": utc(10, 7)},  # reboot: +0.5, not -53
        {"energy": 3.5, "ts": utc(10, 10)},  # +3
        received_at=utc(10, 11),
    )
    days = selectors.consumption([node], "day", utc(9, 6), utc(11, 6), zone)
    assert [(start.date().isoformat(), round(kwh, 6)) for start, kwh in days.buckets] == [
        ("2026-03-09", 2.0),
        ("2026-03-10", 5.0),
    ]
    assert days.total == pytest.approx(7.0)
    hours = selectors.consumption([node], "hour", utc(10, 5), utc(10, 8), zone)
    assert [round(kwh, 6) for _, kwh in hours.buckets] == [2.0, 1.5, 0.5]
    months = selectors.consumption([node], "month", utc(1, 6), utc(11, 6), zone)
    assert [(s.month, round(kwh, 6)) for s, kwh in months.buckets] == [(3, 7.0)]
    # Seen from UTC (an admin there), the same data cuts at UTC midnight: all on the 10th.
    utc_days = selectors.consumption([node], "day", utc(9, 0), utc(11, 0), ZoneInfo("UTC"))
    assert [round(kwh, 6) for _, kwh in utc_days.buckets] == [0, 7.0]


def test_consumption_compares_with_the_period_before():
    node = meter()
    send({"energy": 1.0, "ts": at(-30)}, {"energy": 3.0, "ts": at(-25)})  # 2 kWh, the day before
    send({"energy": 4.0, "ts": at(-2)}, {"energy": 9.0, "ts": at(-1)})  # 1 + 5 kWh
    result = selectors.consumption([node], "hour", at(-3), at(0), ZoneInfo("UTC"))
    assert result.total == pytest.approx(6.0)
    previous = selectors.consumption([node], "hour", at(-6), at(-3), ZoneInfo("UTC"))
    assert result.previous_total == pytest.approx(previous.total)


def test_the_period_before_sums_its_whole_days_and_the_hours_at_its_ends_exactly():
    madrid = ZoneInfo("Europe/Madrid")
    owner = make_user("madrid@example.com")
    owner.time_zone = "Europe/Madrid"
    owner.save()
    node = meter(owner=owner)
    assert node.time_zone == "Europe/Madrid"
    counter, readings = 0.0, []
    for hour in range(24 * 9):  # a reading an hour for nine days, one kWh more each time
        counter += 1 + hour % 3
        readings.append({"energy": counter, "ts": NOW - timedelta(days=9, hours=-hour)})
    send(*readings)
    end = NOW - timedelta(hours=1, minutes=20)  # not on a midnight: partial days at both ends
    result = selectors.consumption([node], "hour", end - timedelta(days=3), end, madrid)
    # The same range hour by hour: its days are summed from day rollups, its ends from hours.
    before = HourRollup.objects.filter(
        node=node, start__gte=result.start - (end - result.start), start__lt=result.start
    )
    expected = sum(before.values_list("energy_used", flat=True))
    assert expected > 24 * 2
    assert result.previous_total == pytest.approx(expected)


UTC_ZONE = ZoneInfo("UTC")


def hourly(node_list, zone=UTC_ZONE):
    result = selectors.consumption(node_list, "hour", at(-4), at(2), zone)
    return [round(kwh, 6) for _, kwh in result.buckets]


def added(*series):
    return [round(sum(values), 6) for values in zip(*series, strict=True)]


def three_meters_of_two_owners():
    ana, bea = make_user("ana@example.com"), make_user("bea@example.com")
    a1, a2, b1 = meter("a1", owner=ana), meter("a2", owner=ana), meter("b1", owner=bea)
    send({"energy": 10.0, "ts": at(-3)}, {"energy": 12.0, "ts": at(-1)}, device_id="a1")
    send({"energy": 5.0, "ts": at(-4)}, {"energy": 5.5, "ts": at(0, 30)}, device_id="a2")
    send({"energy": 1.0, "ts": at(-2)}, {"energy": 4.0, "ts": at(1)}, device_id="b1")
    # a1 backfills an hour it missed; a2's meter reboots (counter back to zero)
    send({"energy": 11.5, "ts": at(-2)}, device_id="a1")
    send({"energy": 0.25, "ts": at(1, 30)}, device_id="a2")
    return a1, a2, b1


def test_all_of_an_owners_nodes_by_the_hour_add_up_their_nodes_hours():
    a1, a2, b1 = three_meters_of_two_owners()
    assert hourly([a1]) == [0, 0, 1.5, 0.5, 0, 0]
    assert hourly([a2]) == [0, 0, 0, 0, 0.5, 0.25]
    assert hourly([b1]) == [0, 0, 0, 0, 0, 3.0]
    assert hourly([a1, a2]) == [0, 0, 1.5, 0.5, 0.5, 0.25]  # all of ana's
    assert hourly([a1, a2, b1]) == [0, 0, 1.5, 0.5, 0.5, 3.25]  # an admin's all
    assert hourly([a1, b1]) == added(hourly([a1]), hourly([b1]))  # part of ana's
    whole = selectors.consumption([a1, a2], "hour", at(-1), at(2), UTC_ZONE)
    assert (whole.total, whole.previous_total) == (pytest.approx(1.25), pytest.approx(1.5))


def test_a_node_given_to_another_owner_takes_its_energy_along():
    a1, a2, b1 = three_meters_of_two_owners()
    a3 = meter("a3", owner=a1.owner)
    send({"energy": 7.0, "ts": at(-1)}, {"energy": 9.0, "ts": at(0)}, device_id="a3")
    assert hourly([a1, a2, a3]) == [0, 0, 1.5, 0.5, 2.5, 0.25]
    bea = b1.owner
    bea.time_zone = "America/Mexico_City"
    bea.save()
    nodes.node_update(a3, owner=bea)
    assert hourly([a1, a2]) == [0, 0, 1.5, 0.5, 0.5, 0.25]
    assert hourly([b1, a3]) == [0, 0, 0, 0, 2.0, 3.0]
    a3.refresh_from_db()
    assert a3.time_zone == "America/Mexico_City"
    # Its days are cut at Mexico City's midnight (06:00 UTC): its first reading, 05:00 UTC,
    # falls on 9 March there, and the 2 kWh up to 06:00 UTC on the 10th.
    days = DayRollup.objects.filter(node=a3).order_by("start")
    assert [(day.isoformat(), kwh) for day, kwh in days.values_list("start", "energy_used")] == [
        ("2026-03-09", 0.0),
        ("2026-03-10", 2.0),
    ]


def test_removing_one_of_an_owners_nodes_takes_its_energy_out_of_their_hours():
    a1, a2, b1 = three_meters_of_two_owners()
    a3 = meter("a3", owner=a1.owner)
    send({"energy": 7.0, "ts": at(-1)}, {"energy": 9.0, "ts": at(0)}, device_id="a3")
    nodes.node_delete(a3)
    assert hourly([a1, a2]) == [0, 0, 1.5, 0.5, 0.5, 0.25]


def test_a_new_owner_time_zone_recuts_the_days():
    owner = make_user("tz@example.com")
    node = meter(owner=owner)
    send(
        {"energy": 1.0, "ts": datetime(2026, 3, 10, 3, tzinfo=UTC)},
        {"energy": 2.0, "ts": datetime(2026, 3, 10, 4, tzinfo=UTC)},
    )
    assert list(DayRollup.objects.values_list("start", "energy_used")) == [
        (datetime(2026, 3, 10).date(), 1.0)
    ]
    owner.time_zone = "America/Mexico_City"
    owner.save()
    node.refresh_from_db()
    assert node.time_zone == "America/Mexico_City"
    assert list(DayRollup.objects.values_list("start", "energy_used")) == [
        (datetime(2026, 3, 9).date(), 1.0)
    ]


def test_node_status_moves_from_never_to_online_silent_and_offline():
    node = meter(expected_interval=10)
    assert nodes.node_status(node, NOW) == "never"
    send({"power": 5.0, "ts": NOW})
    node.refresh_from_db()
    assert nodes.node_status(node, NOW + timedelta(seconds=25)) == "online"
    assert nodes.node_status(node, NOW + timedelta(seconds=31)) == "offline"  # 3 intervals
    nodes.set_link_state("esp32-a", "online", NOW + timedelta(seconds=40))
    node.refresh_from_db()
    assert nodes.node_status(node, NOW + timedelta(seconds=45)) == "silent"
    nodes.set_link_state("esp32-a", "offline", NOW + timedelta(seconds=50))
    node.refresh_from_db()
    assert nodes.node_status(node, NOW + timedelta(seconds=51)) == "offline"
    send({"power": 6.0, "ts": NOW + timedelta(seconds=60)}, received_at=NOW + timedelta(minutes=1))
    node.refresh_from_db()
    assert nodes.node_status(node, NOW + timedelta(seconds=61)) == "online"


def test_a_chart_reads_rollups_with_a_resolution_that_fits_the_range():
    node = meter()
    send(*[{"power": float(n), "ts": at(0, n)} for n in range(180)])
    assert selectors.fit_resolution(at(0), at(1)) == "raw"
    assert selectors.fit_resolution(at(0), at(24)) == "minute"
    assert selectors.fit_resolution(at(0), at(24 * 30)) == "hour"
    assert selectors.fit_resolution(at(0), at(24 * 365)) == "day"
    hourly = selectors.series(node, at(0), at(3), "hour")["points"]
    assert [p["power"]["avg"] for p in hourly] == [29.5, 89.5, 149.5]
    assert [(p["power"]["min"], p["power"]["max"]) for p in hourly][0] == (0.0, 59.0)
    summary = selectors.summary(selectors.series(node, at(0), at(3), "raw")["points"])
    assert summary["power"]["current"] == 179.0 and summary["power"]["min"] == 0.0


def test_pruning_drops_old_raw_readings_but_not_the_consumption():
    node = meter()
    old = timezone.now() - timedelta(days=100)
    ingest(
        [
            ("esp32-a", {"energy": 1.0, "ts": old.isoformat()}),
            ("esp32-a", {"energy": 4.0, "ts": (old + timedelta(hours=1)).isoformat()}),
        ]
    )
    zone = ZoneInfo("UTC")
    before = selectors.consumption([node], "day", old - timedelta(days=1), timezone.now(), zone)
    deleted = rollups.prune(timezone.now(), raw_days=90, minute_days=0)
    assert deleted == {"readings": 2, "minute rollups": 0}
    after = selectors.consumption([node], "day", old - timedelta(days=1), timezone.now(), zone)
    assert after.total == before.total == pytest.approx(3.0)


def test_deleting_a_node_removes_its_data_and_revokes_its_key():
    node = meter()
    send({"power": 1.0, "ts": at()})
    key = node.device_key
    nodes.node_delete(node)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert not Node.objects.exists() and not Reading.objects.exists()
    assert not HourRollup.objects.exists()
