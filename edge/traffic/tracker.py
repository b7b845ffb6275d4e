"""Tracks of blobs over frames, through short occlusions, merges and splits.

Each frame every track predicts its box (constant velocity) and picks the blob that covers
most of it. A blob picked by one track is its measurement (with nearby loose pieces of the
same vehicle joined to it); a blob picked by several tracks is vehicles run together (a queue
at a red light, a truck passing a car): each of those tracks keeps its own size and follows
the blob's edge it is at (the queue's head its front, the last car its back), or stays where
it was predicted within the blob. Before that, a blob that vehicles known by their size
(alone for a while, moving) are in is cut at their ends: a follower that comes into view
already joined to the one ahead gets a blob, and so a track and its counts, of its own. A
blob nobody picks starts a track. A track not seen coasts on its velocity for up to
`max_missed_frames`. Two tracks that come to cover the same blob alone are one vehicle: the
younger ends and hands its counts to the older (unless the older is parked and the younger
moves). A parked track (a ghost, a parked car) does not take the blob of a vehicle that
comes over it: the vehicle gets a track of its own. The cutting is `cuts.py`.

Coordinates are pixels of the processing size.
"""

import math
from dataclasses import dataclass, field

from .background import Blob
from .boxes import Box, intersection, overlap, union
from .crossing import LineState
from .cuts import EDGE_PIECE, EDGE_TOLERANCE, cut, is_known, within

SIZE_GAIN = 0.4
# A track's search box is its predicted box grown by this many pixels plus half its speed.
GATE = 2.0
# Loose pieces are joined to a track's blob while the union stays within this factor of the
# track's size (plus a few pixels).
PIECES_GROWTH = 1.3
# Two tracks whose boxes overlap this much (of the smaller one) are one vehicle.
DUPLICATE_OVERLAP = 0.7
# A merged track follows an edge of the blob only if it covers this share of the blob across.
FOLLOW_SPAN = 0.4
# Velocity of a merged track that follows no edge fades by this factor each frame.
MERGED_DAMPING = 0.9
# A track younger than this (frames) is still taking shape (a vehicle coming into view, in
# pieces when parts of it are the asphalt's colour): pieces next to it join it, and young
# tracks that end up on one blob are one vehicle.
YOUNG_FRAMES = 10
# A blob this much inside a track's box starts no track.
INSIDE_SHARE = 0.5
# A track slower than this (px/frame) is a stopped vehicle, and one that has moved less than
# this share of its size in the PARKED_FRAMES or more since it was first seen is a parked one
# (or a patch of light).
STOPPED_SPEED = 0.3
PARKED_SHARE = 0.25
PARKED_FRAMES = 30
# A parked track's blob grown this many times from one frame to the next is a vehicle come
# over it (into view over a ghost at the frame's edge, past a parked car): the parked track
# stays where it is, and the vehicle gets a track of its own.
ARRIVING_GROWTH = 2.0


@dataclass
class Track:
    id: int
    cx: float
    cy: float
    w: float
    h: float
    vx: float = 0.0
    vy: float = 0.0
    hits: int = 1
    missed: int = 0
    age: int = 0
    # Blob areas when the track had its blob to itself (processing pixels), whole in view;
    # and the largest while it was cut by the frame's edge.
    areas: list[int] = field(default_factory=list)
    edge_area: int = 0
    lines: dict = field(default_factory=dict)  # line id -> LineState
    pending: list = field(default_factory=list)  # crossings before the track was confirmed
    last_line: int | str | None = None
    merged: bool = False
    measured: bool = False
    # Frames in a row it had a blob of its own (up to the last one).
    alone: int = 0
    # The box area of the blob it was last seen on.
    blob_area: float = 0.0
    # Whole in view when first seen (not cut by the frame's edge, a mask or a split).
    whole: bool = True
    # Where it was first seen.
    x0: float = 0.0
    y0: float = 0.0

    def __post_init__(self):
        self.x0, self.y0 = self.cx, self.cy
        self.blob_area = self.w * self.h

    @property
    def box(self) -> Box:
        return (
            self.cx - self.w / 2,
            self.cy - self.h / 2,
            self.cx + self.w / 2,
            self.cy + self.h / 2,
        )

    def line_state(self, line_id) -> LineState:
        state = self.lines.get(line_id)
        if state is None:
            # Where it came into view tells where it comes from, if it came whole and then.
            state = self.lines[line_id] = LineState(trust_birth=self.whole and self.age == 0)
        return state


class Tracker:
    def __init__(self, *, max_missed: int, position_gain: float, velocity_gain: float):
        self.max_missed = max_missed
        self.position_gain = position_gain
        self.velocity_gain = velocity_gain
        self.tracks: list[Track] = []
        self._next_id = 1

    def step(self, blobs: list[Blob], size: tuple[int, int]) -> list[Track]:
        """Move the tracks to this frame's blobs; return the tracks that ended."""
        # Known vehicles, taken before they move (their last frames are the evidence).
        known = [t for t in self.tracks if is_known(t, size)]
        for track in self.tracks:
            track.cx += track.vx
            track.cy += track.vy
            track.measured = track.merged = False
            track.age += 1
        blobs = self._split(blobs, known, size)
        claims = self._claims(blobs)
        taken = set(claims)
        ended = []
        arriving = []
        for index, tracks in claims.items():
            blob = blobs[index]
            for track in tracks:
                if _parked(track) and blob.w * blob.h > ARRIVING_GROWTH * track.blob_area:
                    self._stay(track)  # its blob grew at once: something else came over it
            tracks = [t for t in tracks if not t.merged]
            if not tracks:
                if not self._inside_a_track(blob):
                    arriving.append(blob)  # a vehicle over a parked track: a track of its own
                continue
            young = [t for t in tracks if t.age < YOUNG_FRAMES]
            if len(tracks) > 1 and len(young) == len(tracks):
                ended += self._join(tracks)
                tracks = tracks[:1]
            if len(tracks) == 1:
                box, area, pieces = self._with_pieces(tracks[0], blob, blobs, taken)
                whole = pieces == 1 and not blob.split
                self._measure(tracks[0], box, area if whole else None, blob.cut)
            else:
                for track in tracks:
                    self._measure_merged(track, blob)
        for index, blob in enumerate(blobs):
            if index not in taken and not self._inside_a_track(blob):
                self._start(blob)
        for blob in arriving:
            self._start(blob)
        if ended:
            gone = {id(t) for t in ended}
            self.tracks = [t for t in self.tracks if id(t) not in gone]
        return ended + self._end_tracks(size)

    def _split(self, blobs: list[Blob], known: list[Track], size: tuple[int, int]) -> list[Blob]:
        """Cut each blob that known vehicles are in at their ends: each keeps its own piece,
        and a vehicle that ran into them (a follower arriving already joined to the one ahead
        by a shadow or a short gap) is a blob of its own, for a new track or its own."""
        if not known:
            return blobs
        result = []
        for blob in blobs:
            over = [t for t in known if within(t, blob)]
            result += cut(blob, over, size) if over else [blob]
        return result

    def _inside_a_track(self, blob: Blob) -> bool:
        """A blob mostly within a tracked vehicle is a piece of it (a queue's blob breaking
        up where a car is the asphalt's colour), not a new vehicle."""
        area = blob.w * blob.h
        return any(intersection(t.box, blob.box) >= INSIDE_SHARE * area for t in self.tracks)

    def _join(self, tracks: list[Track]) -> list[Track]:
        """Young tracks on one blob are pieces of one vehicle: the oldest takes the others'
        line history; the others end (without counting)."""
        tracks.sort(key=lambda t: t.id)
        keeper = tracks[0]
        for other in tracks[1:]:
            for line_id, state in other.lines.items():
                keeper.line_state(line_id).absorb(state)
            keeper.pending += other.pending
            keeper.hits = max(keeper.hits, other.hits)
            other.lines, other.pending = {}, []
        return tracks[1:]

    def _claims(self, blobs: list[Blob]) -> dict[int, list[Track]]:
        claims: dict[int, list[Track]] = {}
        for track in self.tracks:
            grow = GATE + 0.5 * max(abs(track.vx), abs(track.vy))
            x1, y1, x2, y2 = track.box
            search = (x1 - grow, y1 - grow, x2 + grow, y2 + grow)
            best, best_cover = None, 0.0
            for index, blob in enumerate(blobs):
                cover = intersection(search, blob.box)
                if cover > best_cover:
                    best, best_cover = index, cover
            if best is not None:
                claims.setdefault(best, []).append(track)
        return claims

    def _with_pieces(self, track: Track, blob: Blob, blobs: list[Blob], taken: set[int]):
        """The blob joined with loose pieces around the track that fit within its size."""
        box, area, pieces = blob.box, blob.area, 1
        young = track.age < YOUNG_FRAMES
        grow = GATE + 0.5 * max(abs(track.vx), abs(track.vy))
        x1, y1, x2, y2 = track.box
        search = (x1 - grow, y1 - grow, x2 + grow, y2 + grow)
        for index, other in enumerate(blobs):
            if index in taken or intersection(search, other.box) <= 0:
                continue
            joined = union(box, other.box)
            if young or (
                joined[2] - joined[0] <= PIECES_GROWTH * track.w + 3
                and joined[3] - joined[1] <= PIECES_GROWTH * track.h + 3
            ):
                box, area, pieces = joined, area + other.area, pieces + 1
                taken.add(index)
        return box, area, pieces

    def _measure(self, track: Track, box: Box, area: int | None, cut: bool) -> None:
        x1, y1, x2, y2 = box
        track.blob_area = (x2 - x1) * (y2 - y1)
        if area is not None and cut:
            track.edge_area = max(track.edge_area, area)
            area = None
        self._correct(track, (x1 + x2) / 2, (y1 + y2) / 2)
        track.alone += 1
        gain = 1.0 if track.age < YOUNG_FRAMES else SIZE_GAIN
        track.w += gain * (x2 - x1 - track.w)
        track.h += gain * (y2 - y1 - track.h)
        if area is not None:
            track.areas.append(area)

    def _measure_merged(self, track: Track, blob: Blob) -> None:
        bx1, by1, bx2, by2 = blob.box
        track.blob_area = blob.w * blob.h
        # An edge across the blob's way is the track's own only if the track spans the blob
        # across it (one vehicle behind another): one that fills only a side of it (a
        # pedestrian or a parked car beside a passing bus) is not carried along by its edge.
        x, follows_x = _follow_edge(track.cx, track.w, bx1, bx2, track.h / max(1, by2 - by1))
        y, follows_y = _follow_edge(track.cy, track.h, by1, by2, track.w / max(1, bx2 - bx1))
        self._correct(track, x, y, alone=False)
        track.alone = 0
        if not follows_x:
            track.vx *= MERGED_DAMPING
        if not follows_y:
            track.vy *= MERGED_DAMPING
        track.merged = True

    def _stay(self, track: Track) -> None:
        """Seen where it was: a parked track under a vehicle passing over it."""
        self._correct(track, track.cx, track.cy, alone=False)
        track.vx = track.vy = 0.0
        track.alone = 0
        track.merged = True

    def _correct(self, track: Track, x: float, y: float, alone: bool = True) -> None:
        """Alpha-beta filter: the predicted position moves towards the measurement.
        Only a blob of its own is a hit: a track only ever seen within others' blob (a piece
        of a queue) never becomes confirmed."""
        dx, dy = x - track.cx, y - track.cy
        track.cx += self.position_gain * dx
        track.cy += self.position_gain * dy
        track.vx += self.velocity_gain * dx
        track.vy += self.velocity_gain * dy
        track.hits += alone
        track.missed = 0
        track.measured = True

    def _start(self, blob: Blob) -> None:
        x1, y1, x2, y2 = blob.box
        track = Track(self._next_id, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        if blob.cut or blob.split:
            track.edge_area = blob.area
            track.whole = False
        else:
            track.areas.append(blob.area)
        track.measured = True
        self._next_id += 1
        self.tracks.append(track)

    def _end_tracks(self, size: tuple[int, int]) -> list[Track]:
        width, height = size
        ended = []
        for track in self.tracks:
            if not track.measured:
                track.missed += 1
                track.alone = 0
            outside = not (0 <= track.cx < width and 0 <= track.cy < height)
            if (
                track.missed > self.max_missed
                or (outside and not track.measured)
                or _left_behind(track, size)
            ):
                ended.append(track)
        ended += self._duplicates()
        if ended:
            gone = {id(t) for t in ended}
            self.tracks = [t for t in self.tracks if id(t) not in gone]
        return ended

    def _duplicates(self) -> list[Track]:
        """Tracks mostly within another's box: one vehicle tracked twice (or a piece of it
        tracked on its own). The older one goes on, unless it stands still and the other
        moves (a ghost or a patch of light that a vehicle drove over)."""
        duplicates: list[Track] = []
        ordered = sorted(self.tracks, key=lambda t: t.id)
        for i, older in enumerate(ordered):
            for younger in ordered[i + 1 :]:
                if older in duplicates:
                    break
                if younger in duplicates or overlap(older.box, younger.box) < DUPLICATE_OVERLAP:
                    continue
                keeper, copy = older, younger
                if _standing(older) and not _standing(younger):
                    keeper, copy = younger, older
                for line_id, state in copy.lines.items():
                    keeper.line_state(line_id).absorb(state)
                if keeper is older:  # a ghost's frames are no evidence for the vehicle
                    keeper.hits = max(keeper.hits, copy.hits)
                copy.lines = {}
                copy.pending = []
                duplicates.append(copy)
        return duplicates

    def finish(self) -> list[Track]:
        """End every track (the source ended)."""
        ended, self.tracks = self.tracks, []
        return ended


def _standing(track: Track) -> bool:
    """Stopped now, or parked."""
    if track.age < YOUNG_FRAMES:
        return False
    return math.hypot(track.vx, track.vy) < STOPPED_SPEED or _parked(track)


def _parked(track: Track) -> bool:
    """Never moved since it was first seen, long ago."""
    moved = math.hypot(track.cx - track.x0, track.cy - track.y0)
    return track.age >= PARKED_FRAMES and moved < PARKED_SHARE * max(track.w, track.h)


def _left_behind(track: Track, size: tuple[int, int]) -> bool:
    """What a vehicle leaving the view left at the frame's edge (its wet trail, the ghost of
    its last frames): a track that came there moving and stands at the edge. A vehicle that
    comes into view next to it is a track of its own, not carried on by this one."""
    if track.age < 2 * YOUNG_FRAMES or not _standing(track):
        return False
    x1, y1, x2, y2 = track.box
    at_edge = x1 <= EDGE_PIECE or y1 <= EDGE_PIECE
    at_edge |= x2 >= size[0] - EDGE_PIECE or y2 >= size[1] - EDGE_PIECE
    return at_edge and math.hypot(track.cx - track.x0, track.cy - track.y0) > max(track.w, track.h)


def _follow_edge(
    centre: float, size: float, low: float, high: float, spans: float
) -> tuple[float, bool]:
    """Where a track of `size` predicted at `centre` is within a merged blob [low, high];
    `spans`: the share of the blob's extent across this axis that the track covers."""
    if size >= high - low:
        return (low + high) / 2, True
    if spans < FOLLOW_SPAN:
        return min(max(centre, low + size / 2), high - size / 2), False
    tolerance = max(2.0, EDGE_TOLERANCE * size)
    start, end = centre - size / 2, centre + size / 2
    to_low, to_high = abs(start - low), abs(end - high)
    if to_low <= tolerance and to_low <= to_high:
        return low + size / 2, True
    if to_high <= tolerance:
        return high - size / 2, True
    return min(max(centre, low + size / 2), high - size / 2), False
