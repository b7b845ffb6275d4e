from gatepass import badges, drivers
from gatepass.choices import StationMode
from gatepass.models import Driver, Station


def make_driver(name="Juan Pérez", licence="LIC-001", company="Transportes Norte", **fields):
    return drivers.driver_save(Driver(name=name, licence_number=licence, company=company, **fields))


def make_station(name="North gate", mode=StationMode.BOTH, guards=(), **fields):
    station = Station.objects.create(name=name, mode=mode, **fields)
    station.guards.set(guards)
    return station


def token_of(driver) -> str:
    return badges.token_for(badges.current_badge(driver))
