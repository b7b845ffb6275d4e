from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from gatepass import badges, drivers
from gatepass.choices import Direction, Outcome, Reason, StationMode
from gatepass.models import Badge, Movement
from gatepass.scanning import scan

from .factories import make_driver, make_station, token_of


@pytest.fixture
def driver(db):
    return make_driver()


@pytest.fixture
def gate(guard):
    return make_station(guards=[guard])


def scan_at(station, guard, token, minutes=0):
    return scan(
        station=station, guard=guard, token=token, now=timezone.now() + timedelta(minutes=minutes)
    )


def test_entry_then_exit_toggles_whether_the_driver_is_inside(driver, gate, guard):
    entry = scan_at(gate, guard, token_of(driver))
    assert (entry.movement.outcome, entry.movement.direction) == (Outcome.ACCEPTED, Direction.ENTRY)
    driver.refresh_from_db()
    assert driver.is_inside

    exit_ = scan_at(gate, guard, token_of(driver), minutes=5)
    assert exit_.movement.direction == Direction.EXIT
    driver.refresh_from_db()
    assert not driver.is_inside


def test_entry_at_an_entry_only_station_while_inside_is_refused(driver, guard):
    entry_gate = make_station("Entry gate", StationMode.ENTRY, guards=[guard])
    scan_at(entry_gate, guard, token_of(driver))
    again = scan_at(entry_gate, guard, token_of(driver), minutes=10)
    assert (again.movement.outcome, again.movement.reason) == (
        Outcome.REFUSED,
        Reason.ALREADY_INSIDE,
    )
    assert Movement.objects.count() == 2  # the refusal is on record too


def test_exit_at_an_exit_only_station_needs_an_entry(driver, guard):
    exit_gate = make_station("Exit gate", StationMode.EXIT, guards=[guard])
    result = scan_at(exit_gate, guard, token_of(driver))
    assert result.movement.reason == Reason.NOT_INSIDE


def test_a_double_scan_within_the_window_is_recorded_once(driver, gate, guard, settings):
    settings.GATEPASS_DOUBLE_SCAN_SECONDS = 30
    first = scan(station=gate, guard=guard, token=token_of(driver))
    second = scan(station=gate, guard=guard, token=token_of(driver))
    assert second.duplicate and second.movement == first.movement
    assert Movement.objects.count() == 1
    driver.refresh_from_db()
    assert driver.is_inside  # not turned into an exit


def test_a_banned_driver_is_refused_and_the_refusal_recorded(driver, gate, guard, admin_user):
    drivers.ban(driver=driver, by=admin_user, reason="Speeding inside the plant")
    result = scan_at(gate, guard, token_of(driver))
    assert (result.movement.outcome, result.movement.reason) == (Outcome.REFUSED, Reason.BANNED)
    assert Movement.objects.get().driver == driver
    driver.refresh_from_db()
    assert not driver.is_inside


def test_forged_and_tampered_tokens_are_refused(driver, gate, guard):
    token = token_of(driver)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    forged = "FSG1:" + "x" * 16 + ":" + "y" * 43
    for bad, reason in (
        (tampered, Reason.FORGED),
        (forged, Reason.FORGED),
        ("hello", Reason.UNKNOWN),
    ):
        result = scan_at(gate, guard, bad)
        assert (result.movement.outcome, result.movement.reason) == (Outcome.REFUSED, reason)
        assert result.movement.driver is None


def test_reissuing_a_badge_revokes_the_old_one(driver, gate, guard):
    old_token = token_of(driver)
    badges.issue_badge(driver=driver)
    refused = scan_at(gate, guard, old_token)
    assert refused.movement.reason == Reason.REVOKED
    assert refused.movement.driver == driver
    assert scan_at(gate, guard, token_of(driver), minutes=1).accepted


def test_an_expired_badge_is_refused(driver, gate, guard):
    Badge.objects.filter(driver=driver).update(expires_at=timezone.now() - timedelta(days=1))
    assert scan_at(gate, guard, token_of(driver)).movement.reason == Reason.EXPIRED


def test_a_guard_cannot_scan_at_a_station_they_are_not_assigned_to(driver, guard):
    other_gate = make_station("South gate")
    with pytest.raises(PermissionDenied):
        scan_at(other_gate, guard, token_of(driver))
    assert not Movement.objects.exists()


def test_a_viewer_cannot_scan_anywhere(driver, viewer):
    gate = make_station(guards=[viewer])
    with pytest.raises(PermissionDenied):
        scan_at(gate, viewer, token_of(driver))


def test_manual_entry_by_licence_number_is_logged_as_manual(driver, gate, guard):
    result = scan(station=gate, guard=guard, licence_number=" lic-001 ")
    assert result.accepted
    assert result.movement.method == "manual"
    unknown = scan(station=gate, guard=guard, licence_number="NOPE-9")
    assert unknown.movement.reason == Reason.UNKNOWN


def test_a_closed_station_refuses_every_scan(driver, guard):
    closed = make_station("Old gate", guards=[guard], is_active=False)
    assert scan_at(closed, guard, token_of(driver)).movement.reason == Reason.STATION_INACTIVE
