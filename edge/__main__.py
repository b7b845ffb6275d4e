"""`python -m edge COMMAND`: the edge agent's commands.

    python -m edge whoami --server https://flowsuite.example.com --key fsd_...

The server and key can also come from FLOWSUITE_SERVER and FLOWSUITE_DEVICE_KEY.
"""

import argparse
import json
import os
import sys

from .client import ApiError, Server


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
    try:
        print(json.dumps(Server(args.server, args.key).whoami()))
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description="FlowSuite edge agent")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "whoami", parents=[connection_options()], help="check the key: which device is this"
    )
    command.set_defaults(run=whoami)
    args = parser.parse_args(argv)
    if not args.server or not args.key:
        parser.error("--server and --key (or FLOWSUITE_SERVER and FLOWSUITE_DEVICE_KEY) are needed")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
