"""Surveillance upload benchmark: cameras posting motion events with their snapshots at once.

`--cameras` cameras (20), each a thread posting events back to back to
`POST /api/surveillance/device/events/` with its own device key, the way the edge agent does:
the request is built and sent by the agent's own code (edge.outbox.event_fields for the form
fields, edge.uploader.deliver and edge.client.Server for the multipart POST, urllib, one
connection per request, the agent's 30 s upload timeout), each event with 1 to
`--max-snapshots` (3) JPEG snapshots, the best first. The snapshots are 640x480 frames of a
generated scene (edge.motion.synthetic: texture, sensor noise, two moving objects), encoded
at the agent's JPEG quality (85): about 55 KB each, `--frames` (48) different ones, taken in
turn. Like the agent, a camera sends an event again after 429 (waiting Retry-After), 5xx or
no answer (backoff) with the same event_id, and drops it after any other 4xx.

The site runs under daphne on 127.0.0.1 (a temporary VAR_DIR, migrated; SQLite by default,
`--database postgres` a throwaway cluster; `--redis` a real Redis as cache and channel layer,
as in production); each camera has a JSON webhook, so each event also queues a delivery (that
nothing sends here). Two cases (`--cases`), each with cameras of its own and a fresh daphne:

  lifted   SURVEILLANCE_UPLOADS_PER_MINUTE=0 (no per-camera limit): what the server can take;
  default  the site's limit (60 events a minute per camera): 429s are part of the figure.
           Its warm-up is at least `--limited-warmup` s (65), past the first minute in which
           every camera may post its 60 events at once, so the window shows the steady state.

After `--warmup` s (5) not counted, `--seconds` s (30) are measured: events, snapshots and MB
of snapshots accepted (2xx) a second; the latency of each POST from the start of the agent's
call to its answer, p50/p95/p99/max (2xx answers; 429s apart); the answers by status; the
events per camera (fairness); CPU of daphne and of the uploading threads as a share of one
core; the load average. Then, after the cameras stop (an event whose POST got no answer is
sent again until answered), the stored rows and files are checked against the answers: every
event answered 2xx is stored once with its snapshots (rows, byte sizes, files and thumbnails
on disk), nothing else is stored, and no file lies on disk without its row.

Run from the top of the project (never by the test suite):

    .venv/bin/python bench/upload.py [--cameras 20] [--seconds 30] [--warmup 5]
        [--cases lifted,default] [--database sqlite|postgres] [--redis]
        [--max-snapshots 3] [--frames 48]

About 2.5 minutes with both cases (the limited case's warm-up is a minute).
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.aggregates import Daphne  # noqa: E402 (needs ROOT)
from bench.ingest import CpuClock, Postgres, manage, site_environment  # noqa: E402
from flowsuite.testing import Redis, percentile  # noqa: E402

OWNER_EMAIL = "owner@bench.invalid"
WEBHOOK_URL = "http://127.0.0.1:9/bench-webhook"  # queued, never sent (no worker runs here)
UPLOAD_TIMEOUT = 30.0  # the agent's default (edge.agent.Agent upload_timeout)
GRACE_SECONDS = 120.0  # after the stop, for events whose POST got no answer


def log(message: str) -> None:
    """Progress, on standard error; the figures go to standard output."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=20, help="cameras posting at once")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=5.0, help="posting not measured")
    parser.add_argument(
        "--limited-warmup",
        type=float,
        default=65.0,
        help="the default case's warm-up, at least (past the rate limit's first minute)",
    )
    parser.add_argument("--cases", default="lifted,default", help="lifted, default")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="Redis as cache and channel layer")
    parser.add_argument("--max-snapshots", type=int, default=3, help="snapshots per event, 1..N")
    parser.add_argument("--frames", type=int, default=48, help="different snapshots to send")
    parser.add_argument("--seed", type=int, default=5)
    return parser.parse_args(argv)


# --- The snapshots: what the agent would send ---------------------------------------------


@dataclass
class Frames:
    jpegs: list[bytes]
    boxes: list[list[list[int]]]  # per frame: the movers' boxes


def make_frames(count: int, seed: int) -> Frames:
    """`count` frames of a generated scene with two objects crossing it, as the agent's JPEGs."""
    import cv2

    from edge.motion import MotionSettings
    from edge.motion.synthetic import Mover, render_clip

    movers = [
        Mover(start=(20, 300), end=(580, 260), size=(40, 80)),
        Mover(start=(560, 90), end=(60, 150), size=(60, 120), shade=150.0),
    ]
    quality = MotionSettings().jpeg_quality
    clip = render_clip(count, movers=movers, seed=seed)
    jpegs = []
    for frame in clip:
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("a frame could not be encoded")
        jpegs.append(encoded.tobytes())
    boxes = [
        [list(box) for mover in movers if (box := mover.box_at(n, count))] for n in range(count)
    ]
    return Frames(jpegs, boxes)


# --- The cameras ---------------------------------------------------------------------------


@dataclass
class Attempt:
    camera: int
    event_id: str
    started: float  # time.monotonic()
    ended: float
    status: int  # 201 stored, 200 duplicate, 0 no answer
    snapshots: int
    snapshot_bytes: int


@dataclass
class Uploads:
    """What every camera sent and heard; filled by the camera threads."""

    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # snaps, bytes
    rejected: list[str] = field(default_factory=list)  # 4xx other than 429: dropped
    abandoned: list[str] = field(default_factory=list)  # stopped while waiting after a 429
    unanswered: list[str] = field(default_factory=list)  # no answer within the grace
    lock: threading.Lock = field(default_factory=threading.Lock)


class Camera(threading.Thread):
    """One camera: events back to back, each delivered by the agent's own code."""

    def __init__(self, index: int, url: str, key: str, frames: Frames, args, uploads, stop):
        super().__init__(name=f"camera-{index}", daemon=True)
        from edge.client import Server

        self.index = index
        self.server = Server(url, key, timeout=UPLOAD_TIMEOUT)
        self.frames = frames
        self.max_snapshots = args.max_snapshots
        self.rng = random.Random(args.seed * 1000 + index)
        self.uploads = uploads
        self.stop_event = stop
        self.grace_until = float("inf")
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sequence = 0
            while not self.stop_event.is_set():
                sequence += 1
                self.send(self.entry(sequence))
        except BaseException as error:  # reported by the main thread
            self.error = error

    def entry(self, sequence: int):
        """An event as the agent's outbox would hand it over: 1..N consecutive frames."""
        from edge.motion import MotionEvent
        from edge.outbox import Entry, event_fields

        count = self.rng.randint(1, self.max_snapshots)
        first = self.rng.randrange(len(self.frames.jpegs))
        picks = [(first + k) % len(self.frames.jpegs) for k in range(count)]
        ended = datetime.now(UTC)
        event = MotionEvent(
            event_id=str(uuid.uuid4()),
            started_at=ended - timedelta(seconds=self.rng.uniform(0.5, 8)),
            ended_at=ended,
            start_frame=sequence * 100,
            end_frame=sequence * 100 + 50,
            score=round(self.rng.uniform(0.005, 0.2), 4),
            boxes=self.frames.boxes[picks[0]],
            frame_width=640,
            frame_height=480,
            snapshots=[self.frames.jpegs[n] for n in picks],
        )
        return Entry(sequence, event.event_id, event_fields(event), event.snapshots, 0)

    def send(self, entry) -> None:
        """Until it is answered 2xx or refused for good, as edge.uploader.Sender does; after
        the stop, an event whose outcome is unknown (no answer, 5xx) is still sent again, one
        held back by a 429 is abandoned (never stored)."""
        from edge.client import ApiError
        from edge.outbox import MAX_RETRY_AFTER, backoff
        from edge.uploader import deliver, should_retry

        size = sum(len(jpeg) for jpeg in entry.snapshots)
        attempts = 0
        while True:
            started = time.monotonic()
            try:
                answer = deliver(self.server, entry)
                status, error = (200 if answer.get("duplicate") else 201), None
            except ApiError as failure:
                status, error = failure.status, failure
            ended = time.monotonic()
            with self.uploads.lock:
                self.uploads.attempts.append(
                    Attempt(
                        self.index,
                        entry.event_id,
                        started,
                        ended,
                        status,
                        len(entry.snapshots),
                        size,
                    )
                )
                if error is None:
                    self.uploads.acknowledged[entry.event_id] = (
                        self.index,
                        len(entry.snapshots),
                        size,
                    )
                elif not should_retry(error):
                    self.uploads.rejected.append(entry.event_id)
            if error is None or not should_retry(error):
                return
            attempts += 1
            if error.retry_after is not None:
                delay = min(max(error.retry_after, 0.0), MAX_RETRY_AFTER)
            else:
                delay = backoff(attempts)
            unknown = error.status == 0 or error.status >= 500
            if unknown:
                if time.monotonic() + delay > self.grace_until:
                    with self.uploads.lock:
                        self.uploads.unanswered.append(entry.event_id)
                    return
                time.sleep(delay)
            elif self.stop_event.wait(delay):
                with self.uploads.lock:
                    self.uploads.abandoned.append(entry.event_id)
                return


# --- Set-up ----------------------------------------------------------------------------------


@dataclass
class Site:
    work: Path
    env: dict[str, str]
    label: str
    cluster: Postgres | None = None
    redis: Redis | None = None

    def cleanup(self) -> None:
        if self.cluster:
            self.cluster.cleanup()
        if self.redis:
            self.redis.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)


def setup_site(args: argparse.Namespace) -> Site:
    import sqlite3

    work = Path(tempfile.mkdtemp(prefix="flowsuite-bench-upload-"))
    extra = {"VAR_DIR": str(work / "var"), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    site = Site(work, {}, f"SQLite {sqlite3.sqlite_version}")
    if args.database == "postgres":
        site.cluster = Postgres().start()
        extra["DATABASE_URL"] = site.cluster.create_database("flowsuite")
        site.label = f"PostgreSQL {site.cluster.version()}"
    if args.redis:
        site.redis = Redis().start()
        extra["REDIS_URL"] = site.redis.url
        site.label += ", Redis"
    env = site_environment(**extra)
    # The default case gets the site's default: nothing inherited from this shell.
    env.pop("SURVEILLANCE_UPLOADS_PER_MINUTE", None)
    site.env = env
    manage(env, "migrate", "--no-input")
    os.environ.update(env)
    os.environ.pop("SURVEILLANCE_UPLOADS_PER_MINUTE", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsuite.settings"
    import django

    django.setup()
    return site


def create_cameras(case: str, count: int) -> list[tuple[object, str]]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts import services
    from surveillance.cameras import camera_create

    owner = get_user_model().objects.filter(email=OWNER_EMAIL).first()
    if owner is None:
        owner = services.user_create(email=OWNER_EMAIL, password=f"bench-{os.getpid()}-only-x")
    cameras = [
        camera_create(
            owner=owner,
            name=f"{case}-{n:02d}",
            location="bench",
            webhook_url=WEBHOOK_URL,
        )
        for n in range(count)
    ]
    connection.close()  # no SQLite connection held open while daphne writes
    return cameras


# --- One case ---------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    label: str
    limit: int  # SURVEILLANCE_UPLOADS_PER_MINUTE daphne runs with (0: none)
    warmup: float
    camera_ids: list[int] = field(default_factory=list)
    uploads: Uploads = field(default_factory=Uploads)
    window: tuple[float, float] = (0.0, 0.0)  # monotonic
    cpu: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    check: dict = field(default_factory=dict)
    log_errors: Counter = field(default_factory=Counter)

    def measured(self) -> list[Attempt]:
        start, end = self.window
        return [a for a in self.uploads.attempts if start <= a.ended <= end]


def run_case(case: Case, site: Site, frames: Frames, args: argparse.Namespace) -> None:
    cameras = create_cameras(case.name, args.cameras)
    case.camera_ids = [camera.pk for camera, _ in cameras]
    env = dict(site.env, SURVEILLANCE_UPLOADS_PER_MINUTE=str(case.limit))
    daphne = Daphne(env, site.work / f"daphne-{case.name}.log")
    stop = threading.Event()
    threads = [
        Camera(n, f"http://127.0.0.1:{daphne.port}", key, frames, args, case.uploads, stop)
        for n, (_, key) in enumerate(cameras)
    ]
    try:
        log(f"{case.name}: {args.cameras} cameras posting, {case.warmup:g} s warm-up")
        for thread in threads:
            thread.start()
        time.sleep(case.warmup)
        clock = CpuClock(daphne.process.pid, os.getpid())
        load_before, started = os.getloadavg()[0], time.monotonic()
        log(f"{case.name}: measuring {args.seconds:g} s")
        time.sleep(args.seconds)
        ended = time.monotonic()
        elapsed = ended - started
        cpu = clock.used(("daphne", "uploaders"))
        case.cpu = {name: seconds / elapsed for name, seconds in cpu.items()}
        case.window, case.load = (started, ended), (load_before, os.getloadavg()[0])
        stop.set()
        for thread in threads:
            thread.grace_until = time.monotonic() + GRACE_SECONDS
        for thread in threads:
            thread.join(timeout=GRACE_SECONDS + UPLOAD_TIMEOUT + 10)
        errors = [t.error for t in threads if t.error] + [t.name for t in threads if t.is_alive()]
        if errors:
            raise RuntimeError(f"{len(errors)} camera(s) failed or hung: {errors[0]!r}")
    finally:
        stop.set()
        daphne.stop()
    for line in daphne.log_path.read_text(errors="replace").splitlines():
        if "ERROR" in line or "Traceback" in line:
            case.log_errors[line.split(" ERROR ", 1)[-1][:150]] += 1
    case.check = check_stored(case)


def check_stored(case: Case) -> dict:
    """The stored rows and files against the answers the cameras got."""
    from django.db import connection
    from django.db.models import Count

    from surveillance.models import Delivery, MotionEvent, Snapshot

    uploads = case.uploads
    events = MotionEvent.objects.filter(camera_id__in=case.camera_ids)
    stored_ids = [str(value) for value in events.values_list("event_id", flat=True)]
    twice = events.values("camera_id", "event_id").annotate(n=Count("id")).filter(n__gt=1).count()
    acknowledged = set(uploads.acknowledged)
    snapshots = list(Snapshot.objects.filter(event__camera_id__in=case.camera_ids))
    storage = Snapshot._meta.get_field("image").storage
    bad_files = sum(
        1
        for s in snapshots
        if not storage.exists(s.image.name)
        or storage.size(s.image.name) != s.size
        or not storage.exists(s.thumbnail.name)
    )
    deliveries = Delivery.objects.filter(event__camera_id__in=case.camera_ids).count()
    connection.close()
    return {
        "acknowledged": len(acknowledged),
        "stored": len(stored_ids),
        "missing": len(acknowledged - set(stored_ids)),
        "unacknowledged": len(set(stored_ids) - acknowledged),
        "twice": twice,
        "snapshots_expected": sum(n for _, n, _ in uploads.acknowledged.values()),
        "snapshots_stored": len(snapshots),
        "bytes_expected": sum(b for _, _, b in uploads.acknowledged.values()),
        "bytes_stored": sum(s.size for s in snapshots),
        "bad_files": bad_files,
        "deliveries": deliveries,
    }


def orphan_files(site: Site) -> tuple[int, int]:
    """(files under MEDIA_ROOT/surveillance, files the Snapshot rows name) over all cases."""
    from django.conf import settings
    from django.db import connection

    from surveillance.models import Snapshot

    folder = Path(settings.MEDIA_ROOT) / "surveillance"
    on_disk = sum(1 for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0
    named = Snapshot.objects.count() * 2  # the picture and its thumbnail
    connection.close()
    return on_disk, named


# --- Figures ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        " / ".join(
            ms(v)
            for v in (
                percentile(values, 50),
                percentile(values, 95),
                percentile(values, 99),
                max(values),
            )
        )
        + " ms"
    )


def rows(case: Case, args: argparse.Namespace) -> dict[str, str]:
    """The case's figures, by row label."""
    measured = case.measured()
    seconds = case.window[1] - case.window[0]
    ok = [a for a in measured if a.status in (200, 201)]
    statuses = Counter(a.status for a in measured)
    events = len(ok)
    snapshots = sum(a.snapshots for a in ok)
    megabytes = sum(a.snapshot_bytes for a in ok) / 1e6
    per_camera = Counter(a.camera for a in ok)
    counts = [per_camera.get(n, 0) for n in range(args.cameras)]
    not_ok = {s: n for s, n in sorted(statuses.items()) if s not in (200, 201)}
    check = case.check
    lost = check["missing"] + check["unacknowledged"] + check["twice"]
    files_ok = (
        check["snapshots_stored"] == check["snapshots_expected"]
        and check["bytes_stored"] == check["bytes_expected"]
        and not check["bad_files"]
    )
    uploads = case.uploads
    return {
        "events/s accepted (2xx)": f"{events / seconds:,.1f}",
        "snapshots/s": f"{snapshots / seconds:,.1f}",
        "MB/s of snapshots": f"{megabytes / seconds:,.2f}",
        "POSTs/s, all answers": f"{len(measured) / seconds:,.1f}",
        "latency 2xx p50/p95/p99/max": spread([a.ended - a.started for a in ok]),
        "latency 429 p50/p95/p99/max": spread(
            [a.ended - a.started for a in measured if a.status == 429]
        ),
        "answers 201 / 200 duplicate": f"{statuses[201]:,} / {statuses[200]:,}",
        "answers not 2xx, by status": ", ".join(f"{s or 'none'}: {n:,}" for s, n in not_ok.items())
        or "none",
        "events per camera, min..max": f"{min(counts):,}..{max(counts):,}",
        "CPU daphne / uploaders (of a core)": (
            f"{case.cpu['daphne']:.0%} / {case.cpu['uploaders']:.0%}"
        ),
        "load average (1 min) before/after": f"{case.load[0]:.1f} / {case.load[1]:.1f}",
        "acknowledged = stored (whole run)": (
            f"{check['acknowledged']:,} = {check['stored']:,} "
            f"{'OK' if not lost and check['acknowledged'] == check['stored'] else 'MISMATCH'}"
        ),
        "  lost / stored unacknowledged / twice": (
            f"{check['missing']} / {check['unacknowledged']} / {check['twice']}"
        ),
        "  snapshots, bytes, files": (
            f"{check['snapshots_stored']:,} of {check['snapshots_expected']:,}, "
            f"{check['bytes_stored'] / 1e6:,.1f} of {check['bytes_expected'] / 1e6:,.1f} MB, "
            f"{check['bad_files']} bad {'OK' if files_ok else 'MISMATCH'}"
        ),
        "  webhook deliveries queued": f"{check['deliveries']:,}",
        "  refused 4xx / held by 429 at stop / unanswered": (
            f"{len(uploads.rejected)} / {len(uploads.abandoned)} / {len(uploads.unanswered)}"
        ),
    }


def print_results(cases: list[Case], site: Site, frames: Frames, args, orphans) -> None:
    sizes = [len(jpeg) for jpeg in frames.jpegs]
    print(
        f"\n== Uploads: {args.cameras} cameras posting events back to back (1-"
        f"{args.max_snapshots} snapshots each) to POST /api/surveillance/device/events/, "
        f"daphne, {site.label}"
    )
    print(
        f"  snapshots: 640x480 JPEG at the agent's quality, {len(sizes)} different, "
        f"{min(sizes) / 1024:.0f}-{max(sizes) / 1024:.0f} KB (mean "
        f"{sum(sizes) / len(sizes) / 1024:.0f} KB); measured {args.seconds:g} s after the "
        f"warm-up; {os.cpu_count()} cores"
    )
    table = [rows(case, args) for case in cases]
    width = max(len(label) for label in table[0]) + 2
    column = max(26, *(len(value) for figures in table for value in figures.values())) + 2
    print("\n  " + " " * width + "".join(f"{case.label:<{column}}" for case in cases))
    for label in table[0]:
        print("  " + f"{label:<{width}}" + "".join(f"{f[label]:<{column}}" for f in table))
    on_disk, named = orphans
    verdict = "OK" if on_disk == named else "MISMATCH"
    print(
        f"\n  files under MEDIA_ROOT/surveillance: {on_disk:,}, named by Snapshot rows "
        f"(picture + thumbnail): {named:,} {verdict}"
    )
    print(
        "  latency: from the agent's deliver() call (multipart built, new connection) to "
        "the answer read, urllib in threads of this process"
    )
    for case in cases:
        for kind, count in case.log_errors.most_common(3):
            print(f"  {case.name} server log: {count} x {kind}")


# --- Orchestration -----------------------------------------------------------------------------


def main(argv=None) -> None:
    args = parse_args(argv)
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = set(names) - {"lifted", "default"}
    if unknown or not names:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown)) or '(none)'}")
    started = time.perf_counter()
    log(f"rendering {args.frames} snapshots")
    frames = make_frames(args.frames, args.seed)
    log("migrating")
    site = setup_site(args)
    try:
        from django.conf import settings

        default_limit = settings.SURVEILLANCE_UPLOADS_PER_MINUTE
        cases = []
        for name in names:
            if name == "lifted":
                case = Case(name, "no per-camera limit", 0, args.warmup)
            else:
                warmup = max(args.warmup, args.limited_warmup)
                label = f"site default: {default_limit}/min per camera"
                case = Case(name, label, default_limit, warmup)
            run_case(case, site, frames, args)
            cases.append(case)
        print_results(cases, site, frames, args, orphan_files(site))
    finally:
        site.cleanup()
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
