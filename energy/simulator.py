"""Simulated ESP32 meters: realistic telemetry for demos, tests and benchmarks.

Each meter has a base load (always-on appliances), a daily curve with morning and evening
peaks, noise, a mains voltage and frequency that wander around nominal, a power factor that
drops at light load, a cumulative kWh counter, and occasional dropouts (a missed reading, now
and then a silence of a few minutes).
"""

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import User

from . import nodes
from .models import Node

SIMULATED_PREFIX = "sim-"


def _peak(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


@dataclass
class Meter:
    device_id: str
    base_w: float
    peak_w: float
    seed: int
    counter_kwh: float = 0.0
    last_ts: datetime | None = None
    silent_until: datetime | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.counter_kwh = self.rng.uniform(100, 5000)

    def load_w(self, local_hour: float) -> float:
        curve = 0.15 + 0.9 * _peak(local_hour, 7.5, 1.5) + _peak(local_hour, 19.5, 2.5)
        curve += 0.35 * _peak(local_hour, 13, 3)
        noisy = self.base_w + self.peak_w * curve * self.rng.lognormvariate(0, 0.2)
        return max(noisy, 0.0)

    def reading(self, ts: datetime, local_hour: float) -> dict | None:
        """The meter's reading at `ts`, or None during a dropout."""
        if self.silent_until and ts < self.silent_until:
            return None
        if self.rng.random() < 0.0005:  # now and then silent for a few minutes
            self.silent_until = ts + timedelta(minutes=self.rng.uniform(2, 10))
            return None
        if self.rng.random() < 0.01:  # a missed reading
            return None
        power = self.load_w(local_hour)
        if self.last_ts is not None:
            hours = min((ts - self.last_ts).total_seconds(), 600) / 3600
            self.counter_kwh += power * hours / 1000
        self.last_ts = ts
        voltage = 230 + 4 * math.sin(local_hour / 24 * 2 * math.pi) + self.rng.gauss(0, 1.2)
        voltage -= power / 2500  # a heavier load sags the voltage
        power_factor = min(0.99, 0.78 + 0.2 * (1 - math.exp(-power / 800)))
        power_factor += self.rng.gauss(0, 0.01)
        power_factor = max(0.5, min(power_factor, 1.0))
        return {
            "ts": ts.isoformat(),
            "voltage": round(voltage, 1),
            "current": round(power / (voltage * power_factor), 3),
            "power": round(power, 1),
            "power_factor": round(power_factor, 3),
            "frequency": round(50 + self.rng.gauss(0, 0.03), 3),
            "energy": round(self.counter_kwh, 4),
        }


def meters(count: int, prefix: str = SIMULATED_PREFIX) -> list[Meter]:
    rng = random.Random(count)
    return [
        Meter(
            device_id=f"{prefix}{number:02d}",
            base_w=rng.uniform(80, 400),
            peak_w=rng.uniform(600, 3500),
            seed=number,
        )
        for number in range(1, count + 1)
    ]


def ensure_nodes(meter_list: list[Meter], owner: User, interval: float) -> list[Node]:
    """The nodes of the simulated meters, created for `owner` when missing."""
    names = ["Main board", "Kitchen", "Workshop", "Cold room", "Offices", "Pumps", "HVAC"]
    existing = {
        n.device_id: n for n in Node.objects.filter(device_id__in=[m.device_id for m in meter_list])
    }
    result = []
    with transaction.atomic():
        for index, meter in enumerate(meter_list):
            node = existing.get(meter.device_id)
            if node is None:
                name = names[index] if index < len(names) else meter.device_id
                node, _ = nodes.node_create(
                    owner=owner,
                    device_id=meter.device_id,
                    name=name,
                    location="Demo site",
                    description="A simulated meter (manage.py simulate_meters).",
                    expected_interval=max(1, round(interval)),
                )
            result.append(node)
    return result


def for_nodes(node_list: list[Node]) -> list[Meter]:
    """Meters that go on from where these nodes' counters are."""
    result = []
    for node in node_list:
        rng = random.Random(node.device_id)
        meter = Meter(
            node.device_id,
            rng.uniform(80, 400),
            rng.uniform(600, 3500),
            seed=rng.randrange(1 << 30),
        )
        if node.counter_kwh is not None:
            meter.counter_kwh = node.counter_kwh
        meter.last_ts = node.counter_at
        result.append(meter)
    return result


def readings_at(meter_list: list[Meter], ts: datetime, zone) -> list[tuple[str, dict]]:
    local = ts.astimezone(zone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    batch = []
    for meter in meter_list:
        reading = meter.reading(ts, hour)
        if reading is not None:
            batch.append((meter.device_id, reading))
    return batch


def backfill(meter_list: list[Meter], start: datetime, end: datetime, step: timedelta, zone):
    """Readings from start to end every `step`, in batches: (device_id, payload) lists."""
    batch = []
    ts = start
    while ts < end:
        batch += readings_at(meter_list, ts, zone)
        if len(batch) >= 5000:
            yield batch
            batch = []
        ts += step
    if batch:
        yield batch
