"""Traffic counting for the edge agent: frames in, vehicles per line, direction and class out.

    lines = [parse_line("North:0,240,640,240")]  # or lines_from_config(server_config)
    counter = Counter(lines, CounterSettings.from_config(server_config), frame_size=(640, 480))
    for index, (frame, at) in enumerate(open_source("rtsp://camera/stream")):
        for crossing in counter.process(frame, index, at):
            ...  # crossing.line, .direction ("in"/"out"), .vehicle_class
        counter.movements()  # [(from_line, to_line, class)] since the last call

`dry_run(FILE, lines, settings)` prints the crossings of a recorded clip as JSON lines.
"In" is from the right of a line to its left, seen from its first point towards its second.
OpenCV and NumPy only: no Django here.
"""

from edge.motion.sources import SourceError, open_source

from .counter import Counter
from .crossing import Crossing, LineRule, LineState
from .run import dry_run
from .settings import CounterSettings, Line, lines_from_config, parse_line

__all__ = [
    "Counter",
    "CounterSettings",
    "Crossing",
    "Line",
    "LineRule",
    "LineState",
    "SourceError",
    "dry_run",
    "lines_from_config",
    "open_source",
    "parse_line",
]
