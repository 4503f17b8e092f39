"""`autostart on|off|status`: start the tray app at login, or not."""

from __future__ import annotations

import argparse
import sys

from portwatch.core.autostart import AutostartError, autostart_manager


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("autostart", help="start the tray app at login: on, off or status")
    p.add_argument(
        "action",
        choices=("on", "off", "status"),
        help="on: start at login; off: do not; status: say which",
    )
    p.set_defaults(func=cmd_autostart)


def cmd_autostart(args: argparse.Namespace) -> int:
    manager = autostart_manager()
    try:
        if args.action == "on":
            manager.enable()
        elif args.action == "off":
            manager.disable()
        enabled = manager.is_enabled()
    except AutostartError as exc:
        print(f"portwatch: start at login: {exc}", file=sys.stderr)
        return 1
    if enabled:
        print(f"Start at login: on ({manager.location()})")
    else:
        print("Start at login: off")
    return 0
