"""Demo energy data (manage.py seed_demo): simulated meters with a month of history; and the
feed that keeps them reporting while the site serves (DEMO_FEED_INTERVAL, set by make run)."""

import asyncio
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from accounts.models import User

from . import alerts, ingest, recommendations, simulator, worker
from .models import AlertRule, Automation, EnergyProfile, Node

log = logging.getLogger(__name__)

HISTORY = timedelta(days=30)
HISTORY_STEP = timedelta(minutes=5)
OWNERS = [("operator@flowsuite.demo", 3), ("viewer@flowsuite.demo", 1)]


def seed(say) -> None:
    if Node.objects.filter(device_id__startswith=simulator.SIMULATED_PREFIX).exists():
        say("simulated meters exist: demo energy data left as it is")
        return
    now = timezone.now()
    first = 1
    for email, count in OWNERS:
        owner = User.objects.filter(email=email).first()
        if owner is None:
            continue
        meter_list = simulator.meters(first + count - 1)[first - 1 :]
        first += count
        simulator.ensure_nodes(meter_list, owner, interval=2)
        zone = ZoneInfo(owner.time_zone or settings.TIME_ZONE)
        stored = 0
        for batch in simulator.backfill(meter_list, now - HISTORY, now, HISTORY_STEP, zone):
            stored += ingest.ingest(batch, source="simulator").accepted
        say(f"{count} simulated meter(s) of {email}, {stored} readings of history")
    _seed_alerting(say)


def _seed_alerting(say) -> None:
    """Demo rules for the operator, an automation, a demo alert, and advice from the history."""
    owner = User.objects.filter(email=OWNERS[0][0]).first()
    if owner is None:
        return
    first = Node.objects.filter(owner=owner).order_by("device_id").first()
    EnergyProfile.objects.get_or_create(
        user=owner,
        defaults={"tariff": EnergyProfile.Tariff.TIME_OF_USE, "price": 0.12, "peak_price": 0.28},
    )
    demo_rules = [
        {
            "name": "High power",
            "kind": "threshold",
            "magnitude": "power",
            "comparison": "above",
            "threshold": 3000,
            "hysteresis": 200,
            "duration": 300,
        },
        {
            "name": "Voltage out of range",
            "kind": "threshold",
            "magnitude": "voltage",
            "comparison": "outside",
            "threshold": 207,
            "threshold_high": 253,
            "hysteresis": 2,
            "duration": 60,
        },
        {"name": "Meter offline", "kind": "offline", "offline_intervals": 30},
        {"name": "Daily budget", "kind": "budget", "budget_kwh": 60, "budget_period": "day"},
    ]
    for fields in demo_rules:
        rule = AlertRule(owner=owner, **fields)
        rule.full_clean()
        rule.save()
    Automation.objects.create(
        owner=owner,
        name="Shed load when power is high",
        trigger=Automation.Trigger.ALERT_OPENED,
        rule=AlertRule.objects.get(owner=owner, name="High power"),
        action=Automation.Action.MQTT,
        payload='{"relay": "off", "reason": "{{rule}}"}',
    )
    if first is not None:
        alerts.raise_external(
            owner=owner,
            node=first,
            message="Demo: the main breaker tripped at 03:12 and was reset",
            source="demo",
        )
    advice = recommendations.compute(owner)
    say(f"{len(demo_rules)} alert rules, 1 automation, 1 alert, {len(advice)} pieces of advice")


_meters: dict[str, simulator.Meter] = {}


def feed_once() -> int:
    """One reading from each simulated meter, into the ingest service."""
    node_list = Node.objects.filter(device_id__startswith=simulator.SIMULATED_PREFIX)
    now = timezone.now()
    batch = []
    for node in node_list:
        if node.device_id not in _meters:
            _meters[node.device_id] = simulator.for_nodes([node])[0]
        batch += simulator.readings_at([_meters[node.device_id]], now, ZoneInfo(node.time_zone))
    return ingest.ingest(batch, source="simulator").accepted if batch else 0


class DemoFeed:
    """ASGI middleware that, from the first request on, feeds the demo meters in this process:
    with the in-memory channel layer only this process can push their live events."""

    def __init__(self, app, interval: float):
        self.app = app
        self.interval = interval
        self.task = None

    async def __call__(self, scope, receive, send):
        if self.task is None and scope["type"] in ("http", "websocket"):
            self.task = asyncio.get_running_loop().create_task(self._feed())
        return await self.app(scope, receive, send)

    async def _feed(self):
        log.info("demo: simulated meters report every %g s", self.interval)
        beats = 0
        while True:
            await asyncio.sleep(self.interval)
            beats += 1
            try:
                await sync_to_async(feed_once)()
                if beats * self.interval >= worker.INTERVAL:  # no bridge here: run its worker
                    beats = 0
                    await sync_to_async(worker.tick)()
            except Exception:
                log.exception("demo: the simulated meters could not report")
