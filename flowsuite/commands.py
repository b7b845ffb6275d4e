"""What the site's long-running management commands share."""

import signal
import threading
from collections.abc import Callable

from django.db import close_old_connections


def repeat_until_stopped(work: Callable[[], None], interval: float) -> None:
    """Run `work()` now and then every `interval` seconds, until SIGTERM or SIGINT (a pass
    that has started finishes first)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while True:
        close_old_connections()  # a database restarted in between must not end the loop
        work()
        if stop.wait(interval):
            return
