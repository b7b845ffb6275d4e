"""`python -m edge COMMAND`: the edge agent's commands.

    python -m edge whoami --server https://flowsuite.example.com --key fsd_...
    python -m edge motion --source 0 --server https://flowsuite.example.com --key fsd_...
    python -m edge motion --source clip.mp4 --dry-run --snapshots /tmp/shots
    python -m edge traffic --source rtsp://... --server https://flowsuite.example.com --key fsd_...
    python -m edge traffic --camera fsd_1=rtsp://... --camera fsd_2=rtsp://... --server ...
    python -m edge traffic --source clip.mp4 --line North:0,240,640,240 --dry-run

The server and key can also come from FLOWSUITE_SERVER and FLOWSUITE_DEVICE_KEY, or (for
`motion`) from the --config file, (for `traffic`) from the --cameras file. See edge/README.md.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .client import ApiError, Server

# Keys of a --config file that are the agent's own; every other key is a motion setting.
AGENT_KEYS = {"source", "server", "key", "outbox", "max_outbox_mb", "heartbeat_seconds"}


def connection_options() -> argparse.ArgumentParser:
    """--server and --key, shared by every command that talks to the server."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--server",
        default=os.environ.get("FLOWSUITE_SERVER"),
        help="the FlowSuite site's URL (env FLOWSUITE_SERVER)",
    )
    options.add_argument(
        "--key",
        default=os.environ.get("FLOWSUITE_DEVICE_KEY"),
        help="this device's key, fsd_... (env FLOWSUITE_DEVICE_KEY)",
    )
    return options


def whoami(args) -> int:
    require_connection(args)
    try:
        print(json.dumps(Server(args.server, args.key).whoami()))
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def require_connection(args) -> None:
    if not args.server or not args.key:
        args.parser.error(
            "--server and --key (or FLOWSUITE_SERVER and FLOWSUITE_DEVICE_KEY) are needed"
        )


# --- motion ---------------------------------------------------------------------------------


def state_path(name: str) -> str:
    """Where the agents keep `name` between runs: $XDG_STATE_HOME/flowsuite-edge/."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "flowsuite-edge", name)


def default_outbox() -> str:
    return state_path("outbox.sqlite3")


def add_motion_command(commands) -> None:
    command = commands.add_parser(
        "motion",
        parents=[connection_options()],
        help="detect motion on a camera and send the events to the server",
        description="Detect motion on a camera, a video file or an RTSP stream and send each "
        "event (snapshots, score, boxes) to the server, keeping them on disk while it is away.",
    )
    command.add_argument(
        "--source", help="a camera index (0), a video file or an rtsp:// URL (config: source)"
    )
    command.add_argument(
        "--config",
        type=Path,
        metavar="FILE.json",
        help="a JSON file of motion settings (and agent keys, see edge/README.md)",
    )
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one motion setting, over the config file (VALUE is JSON, or else a string)",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="no server: print one JSON line per event and a summary line",
    )
    command.add_argument(
        "--snapshots",
        type=Path,
        metavar="DIR",
        help="with --dry-run: write each event's snapshots here",
    )
    command.add_argument(
        "--outbox",
        default=os.environ.get("FLOWSUITE_OUTBOX"),
        metavar="PATH",
        help=f"the events waiting to be sent (env FLOWSUITE_OUTBOX; default {default_outbox()})",
    )
    command.add_argument(
        "--max-outbox-mb",
        type=float,
        default=_env_float("FLOWSUITE_OUTBOX_MAX_MB"),
        metavar="N",
        help="disk cap of the outbox; the oldest events are dropped beyond it "
        "(env FLOWSUITE_OUTBOX_MAX_MB; default 200)",
    )
    command.add_argument(
        "--heartbeat-seconds",
        type=float,
        metavar="S",
        help="seconds between heartbeats (default 5)",
    )
    command.add_argument(
        "--flush-seconds",
        type=float,
        metavar="S",
        default=5.0,
        help="on stop, time given to sending what waits (default 5); the rest stays on disk",
    )
    command.add_argument(
        "--fast",
        action="store_true",
        help="read a video file as fast as it decodes, not at its frame rate "
        "(a file stands in for a camera at its own pace otherwise)",
    )
    command.add_argument("--verbose", "-v", action="store_true", help="log every retry")
    command.set_defaults(run=motion, parser=command)


def motion(args) -> int:
    try:
        config = read_config(args.config) if args.config else {}
        settings = motion_settings(config, args.overrides)
    except (OSError, ValueError, TypeError) as error:
        args.parser.error(str(error))
    source = args.source or config.get("source")
    if source is None:
        args.parser.error("--source (or `source` in the config file) is needed")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .motion import SourceError, dry_run

    try:
        if args.dry_run:
            dry_run(source, settings, snapshot_dir=args.snapshots)
            return 0
        return run_agent(args, config, source, settings)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def run_agent(args, config: dict, source, settings) -> int:
    from .agent import Agent
    from .motion import iter_events
    from .outbox import Outbox

    args.server = args.server or config.get("server")
    args.key = args.key or config.get("key")
    require_connection(args)
    path = args.outbox or config.get("outbox") or default_outbox()
    max_mb = args.max_outbox_mb or config.get("max_outbox_mb") or 200
    outbox = Outbox(path, max_bytes=int(max_mb * 1024 * 1024))
    agent = Agent(
        outbox,
        server_url=args.server,
        key=args.key,
        heartbeat_every=args.heartbeat_seconds or config.get("heartbeat_seconds") or 5.0,
        flush_seconds=args.flush_seconds,
    )
    agent.handle_signals()
    logging.getLogger("edge.agent").info(
        "watching %s; outbox %s (%d waiting)", source, path, outbox.pending()
    )
    agent.run(iter_events(source, settings, on_frame=agent.on_frame, realtime=not args.fast))
    if not agent.sender.is_alive():  # else an upload is still under way: leave the file open
        outbox.close()
    return 0


def read_config(path: Path) -> dict:
    config = json.loads(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a JSON object is expected")
    return config


def motion_settings(config: dict, overrides: list[str]):
    from .motion import MotionSettings

    values = {k: v for k, v in config.items() if k not in AGENT_KEYS}
    return MotionSettings.from_dict({**values, **parse_overrides(overrides)})


def parse_overrides(overrides: list[str]) -> dict:
    """--set NAME=VALUE options as a dict; a VALUE is JSON, or else a string."""
    values = {}
    for override in overrides:
        name, equals, value = override.partition("=")
        if not equals:
            raise ValueError(f"--set {override}: NAME=VALUE expected")
        values[name.strip()] = _json_or_string(value)
    return values


def _json_or_string(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


# --- traffic -------------------------------------------------------------------------------


def default_traffic_state() -> str:
    return state_path("traffic")


def add_traffic_command(commands) -> None:
    command = commands.add_parser(
        "traffic",
        parents=[connection_options()],
        help="count vehicles crossing lines on one or more cameras and send interval counts",
        description="Count vehicles per line, direction and class on one or more cameras, "
        "with the lines and settings the site gives each camera, and send the counts of each "
        "interval to the site, keeping them on disk while it is away. With --dry-run, count "
        "on a recorded clip with --line lines, no server.",
    )
    command.add_argument(
        "--source",
        help="one camera (with --key): a camera index (0), a video file or an rtsp:// URL; "
        "default: the source set on the site",
    )
    command.add_argument(
        "--camera",
        dest="cameras",
        action="append",
        default=[],
        metavar="KEY=SOURCE",
        help="a camera by its device key and source (repeatable: one process, several "
        "cameras); KEY= alone takes the source set on the site",
    )
    command.add_argument(
        "--cameras",
        dest="cameras_file",
        type=Path,
        metavar="FILE.json",
        help='the cameras in a JSON file: [{"key": ..., "source": ...}, ...], or '
        '{"server": URL, "cameras": [...]}',
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="no server: count on --source with the --line lines; print one JSON line per "
        "crossing and a summary",
    )
    command.add_argument(
        "--line",
        dest="lines",
        action="append",
        default=[],
        metavar="NAME:x1,y1,x2,y2",
        help='with --dry-run: a counting line in the clip\'s pixels (repeatable); "in" is '
        "from its right to its left, seen from (x1, y1) towards (x2, y2)",
    )
    command.add_argument(
        "--annotate",
        metavar="OUT.mp4|DIR",
        help="with --dry-run: write the clip as the counter sees it (the lines, each "
        "track's id, box, class and path, the running counts) to a video file or a folder "
        "of JPEG frames",
    )
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one counter setting (edge/traffic/settings.py; VALUE is JSON, or else a string); "
        "a camera's site settings give way to it (e.g. process_width on a slow board)",
    )
    command.add_argument(
        "--state-dir",
        default=os.environ.get("FLOWSUITE_TRAFFIC_STATE"),
        metavar="DIR",
        help="each camera's outbox, last config and learnt vehicle sizes (env "
        "FLOWSUITE_TRAFFIC_STATE; default "
        f"{default_traffic_state()})",
    )
    command.add_argument(
        "--max-outbox-mb",
        type=float,
        default=_env_float("FLOWSUITE_OUTBOX_MAX_MB") or 50.0,
        metavar="N",
        help="disk cap of each camera's outbox, oldest intervals dropped beyond it "
        "(env FLOWSUITE_OUTBOX_MAX_MB; default 50: years of 1-minute intervals)",
    )
    command.add_argument(
        "--heartbeat-seconds", type=float, default=5.0, metavar="S", help="default 5"
    )
    command.add_argument(
        "--snapshot-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="a snapshot of each camera's view at start and every S seconds (default 300)",
    )
    command.add_argument(
        "--flush-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="on stop, time given to sending what waits (default 5); the rest stays on disk",
    )
    command.add_argument(
        "--interval-seconds",
        type=float,
        metavar="S",
        help="intervals of S seconds instead of the site's interval_minutes (trials, tests)",
    )
    command.add_argument(
        "--fast",
        action="store_true",
        help="read a video file as fast as it decodes, timed as if it ended now "
        "(a file stands in for a camera at its own pace otherwise)",
    )
    command.add_argument("--verbose", "-v", action="store_true", help="log every retry")
    command.set_defaults(run=traffic, parser=command)


def traffic(args) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.dry_run:
        return traffic_dry_run(args)
    try:
        cameras = traffic_cameras(args)
        overrides = counter_overrides(args.overrides)
    except (OSError, ValueError, TypeError, KeyError) as error:
        args.parser.error(str(error))
    if not args.server or not cameras:
        args.parser.error(
            "--server and a camera (--key, --camera KEY=SOURCE or --cameras FILE) are needed"
        )
    from .traffic_agent import TrafficAgent

    state = args.state_dir or default_traffic_state()
    agent = TrafficAgent(
        cameras,
        server_url=args.server,
        state_dir=state,
        max_outbox_bytes=int(args.max_outbox_mb * 1024 * 1024),
        heartbeat_every=args.heartbeat_seconds,
        snapshot_every=args.snapshot_seconds,
        flush_seconds=args.flush_seconds,
        fast=args.fast,
        interval_seconds=args.interval_seconds,
        overrides=overrides,
    )
    agent.handle_signals()
    logging.getLogger("edge.traffic_agent").info("%d camera(s); state in %s", len(cameras), state)
    agent.run()
    return 1 if agent.errors else 0


def traffic_cameras(args) -> list:
    """The cameras of --cameras FILE, --camera KEY=SOURCE and --key/--source, in that order;
    a --cameras file may name the server."""
    from .traffic_agent import CameraSpec

    cameras = []
    if args.cameras_file:
        listed = json.loads(args.cameras_file.read_text())
        if isinstance(listed, dict):
            args.server = args.server or listed.get("server")
            listed = listed.get("cameras", [])
        if not isinstance(listed, list):
            raise ValueError(f"{args.cameras_file}: a list of cameras is expected")
        cameras += [CameraSpec(key=c["key"], source=c.get("source") or None) for c in listed]
    for text in args.cameras:
        key, equals, source = text.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--camera {text}: KEY=SOURCE expected")
        cameras.append(CameraSpec(key=key.strip(), source=source.strip() or None))
    if cameras and args.source:
        raise ValueError("--source is for one camera with --key: use --camera KEY=SOURCE")
    if not cameras and args.key:
        cameras.append(CameraSpec(key=args.key, source=args.source))
    return cameras


def counter_overrides(overrides: list[str]) -> dict:
    """--set NAME=VALUE options as a dict, checked against the counter's settings."""
    from .traffic import CounterSettings

    values = parse_overrides(overrides)
    CounterSettings.from_config(values)  # an unknown or invalid setting fails here
    return values


def traffic_dry_run(args) -> int:
    from .traffic import CounterSettings, SourceError, dry_run, parse_line

    if not args.source:
        args.parser.error("--dry-run needs --source (a video file, or a camera)")
    if not args.lines:
        args.parser.error("--dry-run needs at least one --line NAME:x1,y1,x2,y2")
    try:
        lines = [parse_line(text) for text in args.lines]
        settings = CounterSettings.from_config(counter_overrides(args.overrides))
    except (ValueError, TypeError) as error:
        args.parser.error(str(error))
    try:
        dry_run(args.source, lines, settings, annotate=args.annotate)
    except (SourceError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def demo_clip(args) -> int:
    from .motion.synthetic import write_demo_clip

    print(write_demo_clip(args.path, args.seconds))
    return 0


def traffic_demo_clip(args) -> int:
    from .traffic.synthetic import standard_lines, traffic_scene, write_clip

    scene = traffic_scene(seed=args.seed, seconds=args.seconds)
    print(write_clip(scene, args.path))
    lines = " ".join(
        f"--line {line.name}:{line.p1[0]:g},{line.p1[1]:g},{line.p2[0]:g},{line.p2[1]:g}"
        for line in standard_lines()
    )
    print(f"lines: {lines}", file=sys.stderr)
    print(f"truth: {json.dumps(scene.truth())}", file=sys.stderr)
    return 0


def add_traffic_demo_clip_command(commands) -> None:
    command = commands.add_parser(
        "traffic-demo-clip",
        help="write a video of a four-lane road (cars, motorbikes and trucks both ways, red "
        "lights, shadows, pedestrians) to stand in for a traffic camera on a demo site",
    )
    command.add_argument("path", help="the video file to write (.avi)")
    command.add_argument(
        "--seconds", type=float, default=60.0, help="how long vehicles arrive (default 60)"
    )
    command.add_argument("--seed", type=int, default=0, help="another seed, another scene")
    command.set_defaults(run=traffic_demo_clip, parser=command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description="FlowSuite edge agent")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "whoami", parents=[connection_options()], help="check the key: which device is this"
    )
    command.set_defaults(run=whoami, parser=command)
    add_motion_command(commands)
    command = commands.add_parser(
        "demo-clip",
        help="write a video of a yard where people and vans cross now and then, to stand in "
        "for a camera (--source FILE) on a demo site",
    )
    command.add_argument("path", help="the video file to write (.avi)")
    command.add_argument("--seconds", type=float, default=60.0, help="its length (default 60)")
    command.set_defaults(run=demo_clip, parser=command)
    add_traffic_command(commands)
    add_traffic_demo_clip_command(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
