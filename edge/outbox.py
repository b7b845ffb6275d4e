"""An on-disk outbox of motion events waiting to be sent (SQLite in WAL mode).

Events are kept, snapshots and all, until the server has them, across restarts and while the
server is unreachable. They leave in the order they were made: `next_due()` only ever offers
the oldest event, so a later one never overtakes an earlier one that is waiting for a retry.
The disk cap drops the oldest events first; dropped, sent and rejected events are counted in
the same database, so the counts survive restarts too.

One `Outbox` may be shared by threads (the camera loop puts, the sender takes).
"""

import json
import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("edge.outbox")

FIRST_RETRY = 1.0  # seconds
MAX_RETRY = 60.0  # the backoff's cap
MAX_RETRY_AFTER = 600.0  # a server's Retry-After beyond this is taken as this

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    fields TEXT NOT NULL,
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (seq, position)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('sent', 0), ('rejected', 0), ('dropped', 0);
"""


@dataclass
class Entry:
    """An event as the outbox holds it: the form fields to post and the JPEG snapshots."""

    seq: int
    event_id: str
    fields: dict[str, str]
    snapshots: list[bytes]
    attempts: int


def event_fields(event) -> dict[str, str]:
    """The form fields of the device events endpoint, from an `edge.motion.MotionEvent`."""
    return {
        "event_id": str(event.event_id),
        "started_at": event.started_at.isoformat(timespec="milliseconds"),
        "ended_at": event.ended_at.isoformat(timespec="milliseconds"),
        "score": repr(float(event.score)),
        "boxes": json.dumps([[int(v) for v in box] for box in event.boxes]),
        "frame_width": str(int(event.frame_width)),
        "frame_height": str(int(event.frame_height)),
    }


def backoff(attempts: int, rng=random.random) -> float:
    """Seconds to wait after the `attempts`-th failure in a row: doubling up to the cap, with
    jitter so that cameras that lost the server together do not come back in step."""
    ceiling = min(MAX_RETRY, FIRST_RETRY * 2 ** (attempts - 1))
    return ceiling / 2 + rng() * ceiling / 2


class Outbox:
    def __init__(self, path, *, max_bytes: int = 200 * 1024 * 1024, clock=time.time, rng=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.clock = clock
        self.rng = rng or random.random
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe in WAL mode (a power cut may lose the last commit, never
        # corrupt the file) and spares the SD card a sync on every commit.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        # Deleted snapshots give their pages back to the file system, so the file shrinks.
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
            self._db.execute("PRAGMA auto_vacuum=FULL")
            self._db.execute("VACUUM")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- the camera side --------------------------------------------------------------

    def put(self, event) -> bool:
        """Keep an event (an `edge.motion.MotionEvent`) until it is sent. Returns False when
        it could not be kept: already in the outbox, or bigger than the whole disk cap."""
        return self.put_fields(event_fields(event), list(event.snapshots))

    def put_fields(self, fields: dict[str, str], snapshots: list[bytes]) -> bool:
        size = len(json.dumps(fields)) + sum(len(jpeg) for jpeg in snapshots)
        if size > self.max_bytes:
            log.warning("event %s (%d bytes) exceeds the outbox cap", fields["event_id"], size)
            with self._transaction() as db:
                self._count(db, "dropped", 1)
            return False
        with self._transaction() as db:
            if self._holds(db, fields["event_id"]):
                return False
            self._make_room(db, size)
            seq = db.execute(
                "INSERT INTO events (event_id, fields, size) VALUES (?, ?, ?)",
                (fields["event_id"], json.dumps(fields), size),
            ).lastrowid
            db.executemany(
                "INSERT INTO snapshots (seq, position, jpeg) VALUES (?, ?, ?)",
                [(seq, position, jpeg) for position, jpeg in enumerate(snapshots)],
            )
        return True

    # --- the sender side --------------------------------------------------------------

    def next_due(self) -> Entry | None:
        """The oldest event if its time has come; None when the outbox is empty or the
        oldest is waiting for a retry (later ones wait behind it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq, event_id, fields, attempts, next_attempt_at FROM events"
                " ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None or row[4] > self.clock():
                return None
            snapshots = self._db.execute(
                "SELECT jpeg FROM snapshots WHERE seq = ? ORDER BY position", (row[0],)
            ).fetchall()
        return Entry(row[0], row[1], json.loads(row[2]), [s[0] for s in snapshots], row[3])

    def wait_time(self) -> float | None:
        """Seconds until the oldest event is due (0 if it is), None when the outbox is empty."""
        with self._lock:
            row = self._db.execute(
                "SELECT next_attempt_at FROM events ORDER BY seq LIMIT 1"
            ).fetchone()
        return None if row is None else max(0.0, row[0] - self.clock())

    def mark_sent(self, entry: Entry) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM events WHERE seq = ?", (entry.seq,))
            self._count(db, "sent", 1)

    def mark_rejected(self, entry: Entry, reason: str) -> None:
        """The server will never take this event: forget it (and count it)."""
        log.error("the server refused event %s for good: %s", entry.event_id, reason)
        with self._transaction() as db:
            db.execute("DELETE FROM events WHERE seq = ?", (entry.seq,))
            self._count(db, "rejected", 1)

    def mark_failed(self, entry: Entry, error: str, retry_after: float | None = None) -> float:
        """Sending failed but may work later: schedule the next try; return the delay."""
        attempts = entry.attempts + 1
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        else:
            delay = backoff(attempts, self.rng)
        with self._transaction() as db:
            db.execute(
                "UPDATE events SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                (attempts, self.clock() + delay, error[:300], entry.seq),
            )
        return delay

    # --- figures ------------------------------------------------------------------------

    def pending(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def pending_bytes(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(SUM(size), 0) FROM events").fetchone()[0]

    def counters(self) -> dict[str, int]:
        """How many events were sent, rejected by the server and dropped for room, ever."""
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    # --- inside -------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db, self._lock)

    @staticmethod
    def _holds(db, event_id: str) -> bool:
        row = db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return row is not None

    def _make_room(self, db, size: int) -> None:
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM events").fetchone()[0]
        dropped = 0
        for seq, event_id, old_size in db.execute(
            "SELECT seq, event_id, size FROM events ORDER BY seq"
        ).fetchall():
            if total + size <= self.max_bytes:
                break
            db.execute("DELETE FROM events WHERE seq = ?", (seq,))
            total -= old_size
            dropped += 1
            log.warning("outbox full: dropped the oldest event %s", event_id)
        if dropped:
            self._count(db, "dropped", dropped)

    @staticmethod
    def _count(db, name: str, n: int) -> None:
        db.execute("UPDATE counters SET value = value + ? WHERE name = ?", (n, name))


class _Transaction:
    """The lock and BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on an error) around a write."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, kind, error, traceback):
        try:
            self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.lock.release()
