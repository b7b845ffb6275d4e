"""A blob that vehicles the tracker knows are in, cut at their ends.

A follower whose gap to the vehicle ahead a cast shadow fills comes into view already joined
to it, one blob for two. A vehicle the tracker knows by its size (on a blob of its own for
KNOWN_FRAMES frames in a row, moving along one way, whole in view along it) cuts a blob it is
in at its predicted ends: what lies beyond or between such vehicles is a blob of its own.

Coordinates are pixels of the processing size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .background import Blob
from .boxes import intersection

if TYPE_CHECKING:
    from .tracker import Track

# A merged track's edge within this share of its size (or 2 px) of the blob's edge follows it.
EDGE_TOLERANCE = 0.3
# Frames in a row on a blob of its own before a vehicle is known by its size.
KNOWN_FRAMES = 10
# Known vehicles (on a blob of their own for KNOWN_FRAMES frames in a row, moving at least
# SPLIT_SPEED px/frame mostly along x or y, whole in view along their way) cut a blob they
# are in at their predicted ends: what lies beyond or between them, at least SPLIT_PIECE of
# their length (plus 2 px) long, is another vehicle run into them (a follower whose gap a
# shadow fills) and a blob of its own; shorter rests stay with them.
SPLIT_SPEED = 0.5
SPLIT_PIECE = 0.3
# ... but at the frame's edge, where the other vehicle is coming into view, from this many px.
EDGE_PIECE = 4
# The outer vehicles' predicted ends within this share of their length of the blob's edge
# (not the frame's) are taken to be there.
SPLIT_SNAP = 0.15
# A vehicle cuts a blob when it lies mostly (this share) within the blob's extent across its
# way, and vehicles one behind the other overlap by this share of the narrower.
IN_LINE_SHARE = 0.5
# A blob more than this many times as wide across the way as the vehicle (plus 4 px) holds
# vehicles side by side (two lanes, both ways): it is not cut.
SPLIT_ACROSS = 2.0


def cut(blob: Blob, tracks: list[Track], size: tuple[int, int]) -> list[Blob]:
    """`blob` cut along the way of the known vehicles in it, at their predicted ends (the
    outer ones held to the blob's edge when near it): a piece for each of them and for what
    is beyond or between them (another vehicle, not yet known); [blob] when nothing is."""
    along_x = abs(tracks[0].vx) >= abs(tracks[0].vy)
    for track in tracks[1:]:
        if (abs(track.vx) >= abs(track.vy)) != along_x or not _in_line(tracks[0], track, along_x):
            return [blob]  # side by side (two lanes) or crossing: left to the merged tracks
    low, length = (blob.x, blob.w) if along_x else (blob.y, blob.h)
    high = low + length
    spans = []
    for track in tracks:
        extent = track.w if along_x else track.h
        start = (track.cx if along_x else track.cy) - extent / 2
        spans.append((start, start + extent, extent))
    spans.sort()
    (start, end, extent), last = spans[0], len(spans) - 1
    limit = size[0] if along_x else size[1]
    if low > 0 and abs(start - low) <= max(2.0, SPLIT_SNAP * extent):
        spans[0] = (low, low + extent, extent)
    start, end, extent = spans[last]
    if high < limit and abs(end - high) <= max(2.0, SPLIT_SNAP * extent):
        spans[last] = (high - extent, high, extent)
    cuts = [low]
    for index, (start, end, extent) in enumerate(spans):
        smallest = SPLIT_PIECE * extent + 2
        if index == 0:
            if start - low >= (EDGE_PIECE if low <= 0 else smallest):
                cuts.append(start)
        else:
            before_end, before_extent = spans[index - 1][1], spans[index - 1][2]
            if start < before_end - EDGE_TOLERANCE * min(extent, before_extent):
                return [blob]  # side by side (two lanes), not one after the other
            if start - before_end >= SPLIT_PIECE * min(extent, before_extent) + 2:
                cuts += [before_end, start]
            else:
                cuts.append((before_end + start) / 2)
        if index == last and high - end >= (EDGE_PIECE if high >= limit else smallest):
            cuts.append(end)
    cuts.append(high)
    cuts = sorted({min(high, max(low, round(c))) for c in cuts})
    if len(cuts) <= 2:
        return [blob]
    width, height = size
    pieces = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        area = max(1, round(blob.area * (b - a) / length))
        if along_x:
            piece = replace(blob, x=a, w=b - a, area=area, split=True)
        else:
            piece = replace(blob, y=a, h=b - a, area=area, split=True)
        # Out of view at the frame's edge (a mask's cut is not told apart here).
        x2, y2 = piece.x + piece.w, piece.y + piece.h
        piece.cut = piece.x <= 0 or piece.y <= 0 or x2 >= width or y2 >= height
        pieces.append(piece)
    return pieces


def is_known(track: Track, size: tuple[int, int]) -> bool:
    """A vehicle whose length along its way is known: on a blob of its own for the last
    KNOWN_FRAMES frames, moving steadily along one way, and whole in view along it."""
    vx, vy = track.vx, track.vy
    along, across = max(abs(vx), abs(vy)), min(abs(vx), abs(vy))
    if track.alone < KNOWN_FRAMES or along < SPLIT_SPEED or across > 0.5 * along:
        return False
    x1, y1, x2, y2 = track.box
    if abs(vx) >= abs(vy):
        return x1 + vx >= 1 and x2 + vx <= size[0] - 1
    return y1 + vy >= 1 and y2 + vy <= size[1] - 1


def within(track: Track, blob: Blob) -> bool:
    """The track overlaps the blob, and mostly lies within its extent across its way (not a
    pedestrian or a vehicle in the next lane touching its side)."""
    if intersection(track.box, blob.box) <= 0:
        return False
    x1, y1, x2, y2 = track.box
    if abs(track.vx) >= abs(track.vy):
        inside, extent, across = min(y2, blob.y + blob.h) - max(y1, blob.y), y2 - y1, blob.h
    else:
        inside, extent, across = min(x2, blob.x + blob.w) - max(x1, blob.x), x2 - x1, blob.w
    return inside >= IN_LINE_SHARE * extent and across <= SPLIT_ACROSS * extent + 4


def _in_line(a: Track, b: Track, along_x: bool) -> bool:
    """One is behind the other (their extents across the way overlap mostly)."""
    if along_x:
        (a1, a2), (b1, b2) = (a.cy - a.h / 2, a.cy + a.h / 2), (b.cy - b.h / 2, b.cy + b.h / 2)
    else:
        (a1, a2), (b1, b2) = (a.cx - a.w / 2, a.cx + a.w / 2), (b.cx - b.w / 2, b.cx + b.w / 2)
    return min(a2, b2) - max(a1, b1) >= IN_LINE_SHARE * min(a2 - a1, b2 - b1)
