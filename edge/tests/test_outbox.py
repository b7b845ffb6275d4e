import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from edge.outbox import MAX_RETRY, Outbox, backoff


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def motion_event(jpeg: bytes = b"\xff\xd8jpeg\xff\xd9", *, at: datetime | None = None):
    """An event shaped like edge.motion.MotionEvent."""
    started = at or datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)
    return SimpleNamespace(
        event_id=str(uuid.uuid4()),
        started_at=started,
        ended_at=started + timedelta(seconds=2),
        start_frame=10,
        end_frame=40,
        score=0.042,
        boxes=[[10, 20, 30, 40]],
        frame_width=640,
        frame_height=480,
        snapshots=[jpeg, b"second"],
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox(tmp_path, clock):
    box = Outbox(tmp_path / "outbox.sqlite3", clock=clock, rng=lambda: 0.5)
    yield box
    box.close()


def test_an_event_comes_out_as_the_form_fields_of_the_contract(outbox):
    event = motion_event()
    outbox.put(event)

    entry = outbox.next_due()
    assert entry.fields == {
        "event_id": event.event_id,
        "started_at": "2026-11-24T10:00:00.123+00:00",
        "ended_at": "2026-11-24T10:00:02.123+00:00",
        "score": "0.042",
        "boxes": "[[10, 20, 30, 40]]",
        "frame_width": "640",
        "frame_height": "480",
    }
    assert entry.snapshots == [event.snapshots[0], b"second"]


def test_events_leave_oldest_first(outbox):
    events = [motion_event() for _ in range(3)]
    for event in events:
        outbox.put(event)

    sent = []
    while entry := outbox.next_due():
        sent.append(entry.event_id)
        outbox.mark_sent(entry)

    assert sent == [e.event_id for e in events]
    assert outbox.counters()["sent"] == 3
    assert outbox.pending() == 0


def test_a_later_event_waits_behind_an_earlier_one_that_waits_for_a_retry(outbox, clock):
    first, second = motion_event(), motion_event()
    outbox.put(first)
    outbox.put(second)

    delay = outbox.mark_failed(outbox.next_due(), "503: busy")

    assert outbox.next_due() is None  # the second is not offered in the meantime
    assert outbox.wait_time() == pytest.approx(delay)
    clock.now += delay
    assert outbox.next_due().event_id == first.event_id


def test_retries_back_off_exponentially_up_to_a_cap_with_jitter(outbox):
    outbox.put(motion_event())
    delays = []
    for _ in range(10):
        entry = outbox.next_due() or _due_now(outbox)
        delays.append(outbox.mark_failed(entry, "unreachable"))

    # rng = 0.5: three quarters of the ceiling 1, 2, 4, ... 60 s.
    assert delays[:4] == [0.75, 1.5, 3.0, 6.0]
    assert delays[-1] == 0.75 * MAX_RETRY
    assert {backoff(3, lambda: 0.0), backoff(3, lambda: 1.0)} == {2.0, 4.0}


def test_a_retry_after_from_the_server_is_honoured(outbox):
    outbox.put(motion_event())
    assert outbox.mark_failed(outbox.next_due(), "429", retry_after=17) == 17


def test_a_rejected_event_is_forgotten_and_counted(outbox):
    event, later = motion_event(), motion_event()
    outbox.put(event)
    outbox.put(later)

    outbox.mark_rejected(outbox.next_due(), "400: boxes is not a list")

    assert outbox.counters()["rejected"] == 1
    assert outbox.next_due().event_id == later.event_id


def test_the_same_event_is_kept_once(outbox):
    event = motion_event()
    assert outbox.put(event)
    assert not outbox.put(event)
    assert outbox.pending() == 1


def test_the_disk_cap_drops_the_oldest_events_first_and_counts_them(tmp_path, clock):
    outbox = Outbox(tmp_path / "capped.sqlite3", max_bytes=3000, clock=clock)
    events = [motion_event(b"x" * 900) for _ in range(5)]
    for event in events:
        outbox.put(event)

    # Each takes ~1.2 kB: three no longer fit in 3 kB.
    assert outbox.pending() == 2
    assert outbox.pending_bytes() <= 3000
    assert outbox.counters()["dropped"] == 3
    kept = []
    while entry := outbox.next_due():
        kept.append(entry.event_id)
        outbox.mark_sent(entry)
    assert kept == [events[3].event_id, events[4].event_id]


def test_an_event_bigger_than_the_cap_is_dropped_without_touching_the_others(tmp_path, clock):
    outbox = Outbox(tmp_path / "capped.sqlite3", max_bytes=3000, clock=clock)
    small = motion_event()
    outbox.put(small)

    assert not outbox.put(motion_event(b"x" * 5000))

    assert outbox.next_due().event_id == small.event_id
    assert outbox.counters()["dropped"] == 1


def test_events_retries_and_counters_survive_a_restart(tmp_path, clock):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, clock=clock)
    first, second = motion_event(), motion_event()
    outbox.put(first)
    outbox.put(second)
    outbox.mark_sent(outbox.next_due())
    delay = outbox.mark_failed(outbox.next_due(), "unreachable")
    outbox.close()

    reopened = Outbox(path, clock=clock)
    assert reopened.pending() == 1
    assert reopened.counters() == {"sent": 1, "rejected": 0, "dropped": 0}
    assert reopened.next_due() is None
    clock.now += delay
    entry = reopened.next_due()
    assert (entry.event_id, entry.attempts) == (second.event_id, 1)
    assert entry.snapshots == second.snapshots
    reopened.close()


def test_the_database_runs_in_wal_mode_and_shrinks_when_events_leave(tmp_path, clock):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, clock=clock)
    for _ in range(20):
        outbox.put(motion_event(b"x" * 50_000))
    outbox._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = path.stat().st_size
    while entry := outbox.next_due():
        outbox.mark_sent(entry)
    outbox._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert path.stat().st_size < full / 10
    outbox.close()


def _due_now(outbox):
    outbox.clock.now += outbox.wait_time()
    return outbox.next_due()
