"""Motion detection for the edge agent: frames in, events with snapshots out.

    settings = MotionSettings.from_dict({"min_area_fraction": 0.001})
    for event in iter_events("rtsp://camera/stream", settings):
        ...  # event.snapshots[0] is the best frame's JPEG

`dry_run(FILE, settings)` prints the events of a recorded clip as JSON lines. OpenCV and NumPy
only: no Django here.
"""

from .detector import MotionDetector, MotionResult
from .events import EventBuilder, MotionEvent
from .run import dry_run, iter_events
from .settings import MotionSettings
from .sources import SourceError, open_source

__all__ = [
    "EventBuilder",
    "MotionDetector",
    "MotionEvent",
    "MotionResult",
    "MotionSettings",
    "SourceError",
    "dry_run",
    "iter_events",
    "open_source",
]
