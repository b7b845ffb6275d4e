"""What the counter sees, drawn for the site's line editor."""

import threading
from collections.abc import Callable


class CounterView:
    """The counter's observer: what it sees, drawn (`edge.traffic.annotate.Annotator`) only
    when asked for, since drawing a frame costs most of what counting it does. `ask()` (from
    the link) has the next `frames` counted frames drawn, so that each vehicle's path is in
    the picture; then `on_ready` is called and `take()` gives the picture once. Between, only
    the running counts the picture shows are kept."""

    def __init__(self, on_ready: Callable[[], None] = lambda: None, frames: int | None = None):
        from ..traffic.annotate import PATH_POINTS

        self.annotator = None
        self.frames = frames or PATH_POINTS
        self.on_ready = on_ready
        self.drawn = 0
        self._counter = None
        self._asked = threading.Event()
        self._left = 0
        self._lock = threading.Lock()
        self._ready = None

    def ask(self) -> None:
        self._asked.set()

    def take(self):
        """The picture drawn since the last `take()` (a BGR array), or None."""
        with self._lock:
            picture, self._ready = self._ready, None
        return picture

    def observe(self, frame, index: int, counter, crossings) -> None:
        if counter is not self._counter:  # a new counter (a new frame size): new tracks
            self.follow(counter)
        if self._asked.is_set():
            self._asked.clear()
            self._left = self.frames
        if not self._left:
            for crossing in crossings:
                key = (crossing.line, crossing.direction, crossing.vehicle_class)
                self.annotator.counts[key] += 1
            return
        self.annotator.observe(frame, index, counter, crossings)
        self.drawn += 1
        self._left -= 1
        if not self._left:
            with self._lock:
                self._ready = self.annotator.last
            self.on_ready()

    def follow(self, counter) -> None:
        from ..traffic.annotate import Annotator

        previous, self.annotator, self._counter = self.annotator, Annotator(None), counter
        if previous is not None:  # the running counts go on
            self.annotator.counts = previous.counts
