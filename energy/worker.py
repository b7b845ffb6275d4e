"""The energy worker: what runs outside the ingest and request paths, every few seconds —
offline and budget-period checks, scheduled automations, notification delivery and queued
automation runs — and, being the worker the site already runs, the surveillance webhooks
and the FlowTrack batches. It
runs inside the MQTT bridge (a thread of its own), in `make run`'s demo feed and as
`manage.py energy_watchdog` for set-ups without a bridge."""

import logging
import threading

from django.db import close_old_connections
from django.utils import timezone

from surveillance import notifications as surveillance_notifications
from traffic import flowtrack

from . import automations, notifications, rules

log = logging.getLogger(__name__)

INTERVAL = 5.0


def tick(now=None) -> dict:
    now = now or timezone.now()
    report = {}
    for name, job in (
        ("clock", lambda: rules.check_clock(now)),
        ("scheduled", lambda: automations.queue_scheduled(now)),
        ("notifications", lambda: notifications.deliver_due(now)),
        ("automations", lambda: automations.run_pending()),
        ("surveillance", lambda: surveillance_notifications.deliver_due(now)),
        ("flowtrack", lambda: flowtrack.deliver_due(now)),
    ):
        try:
            report[name] = job()
        except Exception:  # one failing job must not stop the others
            log.exception("energy worker: %s failed", name)
    return report


class Worker(threading.Thread):
    def __init__(self, interval: float = INTERVAL):
        super().__init__(name="energy-worker", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            close_old_connections()
            report = tick()
            if any(_busy(value) for value in report.values()):
                log.info("energy worker: %s", report)
        close_old_connections()

    def stop(self):
        self.stopped.set()


def _busy(value) -> bool:
    if isinstance(value, dict):
        return any(value.values())
    return bool(value)
