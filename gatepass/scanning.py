"""Scanning a badge (or typing a licence number) at a station: the one place movements are
written. The server decides entry or exit from the driver's state and the station's mode."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from flowsuite import live

from . import badges
from .choices import Direction, Method, Outcome, Reason, StationMode
from .models import Driver, Movement, Station, normalize_licence

LIVE_GROUP = "gatepass.movements"


@dataclass
class ScanResult:
    movement: Movement
    duplicate: bool = False  # a repeat within the double-scan window: nothing new recorded

    @property
    def accepted(self) -> bool:
        return self.movement.accepted


def may_scan_at(user, station: Station) -> bool:
    """Guards scan at the stations they are assigned to; admins anywhere."""
    if not user.has_perm("gatepass.add_movement"):
        return False
    return user.has_perm("gatepass.change_station") or station.guards.filter(pk=user.pk).exists()


def scan(
    *,
    station: Station,
    guard,
    token: str = "",
    licence_number: str = "",
    now: datetime | None = None,
) -> ScanResult:
    """Record a scan attempt at `station` by `guard`; raises PermissionDenied if not allowed."""
    if not may_scan_at(guard, station):
        raise PermissionDenied("not assigned to this station")
    method = Method.MANUAL if licence_number else Method.QR
    with transaction.atomic():
        # The driver's row stays locked until the end: two guards scanning the same driver at
        # once must not both record an entry.
        driver, refusal = _identify(token=token, licence_number=licence_number)
        if not station.is_active:
            refusal = Reason.STATION_INACTIVE
        # Taken once the driver is locked, so that a driver's movements are in time order.
        now = now or timezone.now()
        if driver and not refusal and _is_repeat(driver, station, now):
            last = driver.movements.filter(station=station, outcome=Outcome.ACCEPTED)
            last = last.order_by("-occurred_at", "-id")
            return ScanResult(last.first(), duplicate=True)
        reason, direction = (refusal, "") if refusal else _decide(driver, station)
        movement = Movement.objects.create(
            occurred_at=now,
            station=station,
            driver=driver,
            guard=guard,
            company=driver.company if driver else "",
            outcome=Outcome.ACCEPTED if reason == Reason.OK else Outcome.REFUSED,
            direction=direction,
            reason=reason,
            method=method,
            note=f"licence {normalize_licence(licence_number)}" if licence_number else "",
        )
        if movement.accepted:
            driver.inside_since = now if direction == Direction.ENTRY else None
            driver.last_scan_at, driver.last_scan_station = now, station
            driver.save(update_fields=["inside_since", "last_scan_at", "last_scan_station"])
        publish_movement(movement)
    return ScanResult(movement)


def _identify(*, token: str, licence_number: str) -> tuple[Driver | None, str | None]:
    """The driver (locked) and, when the scan must be refused, why."""
    if licence_number:
        drivers = Driver.objects.select_for_update()
        driver = drivers.filter(licence_number=normalize_licence(licence_number)).first()
        return driver, None if driver else Reason.UNKNOWN
    try:
        return badges.badge_from_token(token, lock=True).driver, None
    except badges.BadgeRefused as refused:
        return (refused.badge.driver if refused.badge else None), refused.reason


def _is_repeat(driver: Driver, station: Station, now: datetime) -> bool:
    """Whether the driver's last accepted scan was here, within the double-scan window."""
    if driver.last_scan_at is None or driver.last_scan_station_id != station.pk:
        return False
    window = timedelta(seconds=settings.GATEPASS_DOUBLE_SCAN_SECONDS)
    return timedelta(0) <= now - driver.last_scan_at < window


def _decide(driver: Driver, station: Station) -> tuple[str, str]:
    """(reason, direction) of a scan of an identified driver at an open station."""
    if driver.is_banned:
        return Reason.BANNED, ""
    if station.mode == StationMode.ENTRY:
        return (Reason.ALREADY_INSIDE, "") if driver.is_inside else (Reason.OK, Direction.ENTRY)
    if station.mode == StationMode.EXIT:
        return (Reason.OK, Direction.EXIT) if driver.is_inside else (Reason.NOT_INSIDE, "")
    return Reason.OK, Direction.EXIT if driver.is_inside else Direction.ENTRY


@transaction.atomic
def record_correction(*, movement: Movement, by, direction: str, note: str) -> Movement:
    """An administrator's correction: a new movement pointing at the one it corrects."""
    if not by.has_perm("gatepass.correct_movement"):
        raise PermissionDenied("only administrators correct movements")
    driver = Driver.objects.select_for_update().get(pk=movement.driver_id)
    now = timezone.now()
    correction = Movement.objects.create(
        occurred_at=now,
        station=movement.station,
        driver=driver,
        guard=by,
        company=driver.company,
        outcome=Outcome.ACCEPTED,
        direction=direction,
        reason=Reason.CORRECTION,
        method=Method.CORRECTION,
        note=note,
        corrects=movement,
    )
    driver.inside_since = now if direction == Direction.ENTRY else None
    driver.save(update_fields=["inside_since"])
    publish_movement(correction)
    return correction


def publish_movement(movement: Movement) -> None:
    driver = movement.driver
    live.publish(
        LIVE_GROUP,
        "movement",
        {
            "id": movement.pk,
            "occurred_at": movement.occurred_at,
            "station": {"id": movement.station_id, "name": movement.station.name},
            "driver": {"id": driver.pk, "name": driver.name, "company": driver.company}
            if driver
            else None,
            "outcome": movement.outcome,
            "direction": movement.direction,
            "reason": movement.reason,
            "method": movement.method,
        },
    )
