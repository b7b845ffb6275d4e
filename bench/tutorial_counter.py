"""The baseline the traffic counter must beat: the vehicle counter of OpenCV tutorials.

MOG2 background subtraction with its shadows dropped, an opening and a closing, contours over
150 px, nearest-centroid tracking, and a count when a track's centre crosses the segment.
About sixty lines, as the tutorials have it, at the clip's own resolution; nothing tuned to a
clip. `bench/counting_accuracy.py` runs it beside the counter.
"""

import math

import cv2
import numpy as np

MIN_AREA = 150
MAX_JUMP = 50  # px: the nearest centroid farther than this is another vehicle
MAX_MISSED = 5


def _side(p1, p2, point) -> float:
    return (p2[0] - p1[0]) * (point[1] - p1[1]) - (p2[1] - p1[1]) * (point[0] - p1[0])


def _segments_cross(a, b, p1, p2) -> bool:
    return (_side(p1, p2, a) > 0) != (_side(p1, p2, b) > 0) and (_side(a, b, p1) > 0) != (
        _side(a, b, p2) > 0
    )


def count(frames, line) -> dict[str, list[int]]:
    """Frames of one clip and a line ((x1, y1), (x2, y2)): the frames where a track crossed
    it, by direction ("in": from the right of p1->p2 to its left, as the counter's)."""
    subtractor = cv2.createBackgroundSubtractorMOG2(detectShadows=True)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    p1, p2 = line
    tracks: dict[int, dict] = {}
    next_id = 0
    crossed = {"in": [], "out": []}
    for index, frame in enumerate(frames):
        mask = subtractor.apply(frame)
        _, mask = cv2.threshold(mask, 254, 255, cv2.THRESH_BINARY)  # shadows are 127
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=3)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        centres = []
        for contour in contours:
            if cv2.contourArea(contour) >= MIN_AREA:
                x, y, w, h = cv2.boundingRect(contour)
                centres.append((x + w / 2, y + h / 2))
        free = set(range(len(centres)))
        for track in tracks.values():
            near = min(free, key=lambda i: math.dist(centres[i], track["at"]), default=None)
            if near is None or math.dist(centres[near], track["at"]) > MAX_JUMP:
                track["missed"] += 1
                continue
            free.discard(near)
            before, track["at"], track["missed"] = track["at"], centres[near], 0
            if not track["counted"] and _segments_cross(before, track["at"], p1, p2):
                direction = "in" if _side(p1, p2, before) > 0 else "out"
                crossed[direction].append(index)
                track["counted"] = True
        tracks = {k: t for k, t in tracks.items() if t["missed"] <= MAX_MISSED}
        for i in free:
            tracks[next_id] = {"at": centres[i], "missed": 0, "counted": False}
            next_id += 1
    return crossed


def frames_of(path) -> "np.ndarray":
    capture = cv2.VideoCapture(str(path))
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame
