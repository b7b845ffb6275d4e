"""`python -m edge COMMAND`: the edge agent's commands.

    python -m edge whoami --server https://flowsuite.example.com --key fsd_...
    python -m edge motion --source 0 --server https://flowsuite.example.com --key fsd_...
    python -m edge motion --source clip.mp4 --dry-run --snapshots /tmp/shots

The server and key can also come from FLOWSUITE_SERVER and FLOWSUITE_DEVICE_KEY, or (for
`motion`) from the --config file. See edge/README.md.
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


def default_outbox() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "flowsuite-edge", "outbox.sqlite3")


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
    for override in overrides:
        name, equals, value = override.partition("=")
        if not equals:
            raise ValueError(f"--set {override}: NAME=VALUE expected")
        values[name.strip()] = _json_or_string(value)
    return MotionSettings.from_dict(values)


def _json_or_string(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def demo_clip(args) -> int:
    from .motion.synthetic import write_demo_clip

    print(write_demo_clip(args.path, args.seconds))
    return 0


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
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
