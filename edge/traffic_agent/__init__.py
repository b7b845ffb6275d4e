"""The traffic counter's agent: one process, several cameras.

Each camera has a thread of its own (`CameraWorker`) with its source, its device key, its
configuration pulled from the site, its `edge.traffic.Counter`, its `Intervals` and its on-disk
outbox (`edge.outbox.Outbox`, one SQLite file per camera, delivered by `edge.uploader.Sender`),
plus a `TrafficLink` thread for heartbeats, configuration reloads and snapshots. A camera whose
key is refused or whose server is slow holds up no other camera.

Intervals are aligned to the wall clock (UTC): with 5-minute intervals, 10:00-10:05, 10:05-10:10.
Each is closed at its end and posted even when nothing was counted, with the health of the
camera over it (fps, frames, dropped frames, seconds without frames): zero vehicles and no
picture at all must look different to an analyst. The first interval after a start and the last
one before a stop are posted with their real start or end and `"partial": true`.

Beside the plain snapshot, the link sends what the counter sees (`CounterView`: its processing
frame with its lines, tracks and counts drawn) for the site's line editor. What the counter
learns of the camera (how large a car is there: `counter.calibration`) is kept in the state
folder at each closed interval and at the stop, and taken up again at the next start.
"""

from .agent import TrafficAgent
from .camera import CameraSpec, CameraWorker, deliver_report
from .config import counter_inputs, frame_size, make_counter, state_name, write_atomically
from .frames import FrameFeed, ending_now, frames_at
from .intervals import Intervals, Report, aligned_start
from .link import TrafficLink
from .view import CounterView

__all__ = [
    "CameraSpec",
    "CameraWorker",
    "CounterView",
    "FrameFeed",
    "Intervals",
    "Report",
    "TrafficAgent",
    "TrafficLink",
    "aligned_start",
    "counter_inputs",
    "deliver_report",
    "ending_now",
    "frame_size",
    "frames_at",
    "make_counter",
    "state_name",
    "write_atomically",
]
