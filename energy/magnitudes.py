"""What an energy meter measures: the magnitudes a reading may carry, with units and the
physical ranges outside which a value is refused as a sensor or transmission fault."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Magnitude:
    key: str  # the payload field and the column prefix
    label: str
    unit: str
    minimum: float
    maximum: float
    decimals: int


VOLTAGE = Magnitude("voltage", _("Voltage"), "V", 0, 1000, 1)
CURRENT = Magnitude("current", _("Current"), "A", 0, 10_000, 2)
POWER = Magnitude("power", _("Power"), "W", 0, 10_000_000, 0)
POWER_FACTOR = Magnitude("power_factor", _("Power factor"), "", 0, 1, 2)
FREQUENCY = Magnitude("frequency", _("Frequency"), "Hz", 40, 70, 2)
# The meter's cumulative counter. It is not averaged: consumption is derived from it.
ENERGY = Magnitude("energy", _("Energy"), "kWh", 0, 1e9, 3)

# The magnitudes that are averaged, charted and rolled up (min/max/mean).
SAMPLED = (VOLTAGE, CURRENT, POWER, POWER_FACTOR, FREQUENCY)
ALL = (*SAMPLED, ENERGY)
BY_KEY = {magnitude.key: magnitude for magnitude in ALL}

NOMINAL_VOLTAGE = 230.0
