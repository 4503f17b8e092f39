"""`watch-port add|remove|list`: edit the watched ports in the settings file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import replace

from portwatch.cli.common import format_table
from portwatch.core import paths
from portwatch.core.portspec import PortSpec, PortSpecError, parse_port_list
from portwatch.core.safetext import visible
from portwatch.core.settings import (
    LoadResult,
    Settings,
    SettingsError,
    SettingsFileError,
    WatchedPort,
    check_allowed_exposure,
    edit_settings,
    load_settings,
)

SYNTAX = "ports like 3000, 8000-8010, tcp/5432 or udp/5353, separated by spaces or commas"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch-port",
        help="add, remove or list watched ports (alerts when they are taken or freed)",
        description=f"Watched ports are {SYNTAX}.",
    )
    actions = p.add_subparsers(dest="watch_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="watch these ports")
    add.add_argument("ports", nargs="+", metavar="PORTS", help=SYNTAX)
    add.add_argument(
        "--owner", metavar="NAME", help="the expected process name or executable; others alert"
    )
    add.add_argument(
        "--allow",
        choices=("loopback", "lan", "public"),
        help="the widest exposure that is fine; wider binds alert",
    )
    add.add_argument("--no-occupied", action="store_true", help="no alert when taken")
    add.add_argument("--no-freed", action="store_true", help="no alert when freed")
    add.set_defaults(func=cmd_add)

    remove = actions.add_parser("remove", help="stop watching these ports")
    remove.add_argument("ports", nargs="+", metavar="PORTS", help="as shown by `list`")
    remove.set_defaults(func=cmd_remove)

    show = actions.add_parser("list", help="show the watched ports")
    show.add_argument("--json", action="store_true", help="a JSON array of objects")
    show.set_defaults(func=cmd_list)


def _bad_input(action: str, message: str) -> int:
    print(f"portwatch watch-port {action}: {message}", file=sys.stderr)
    return 2


def _file_error(action: str, exc: SettingsFileError, *, changed: bool = True) -> int:
    """One line, exit 1: the settings file could not be read or written."""
    tail = " — nothing was changed" if changed else ""
    print(f"portwatch watch-port {action}: {exc}{tail}", file=sys.stderr)
    return 1


def _tell(loaded: LoadResult) -> None:
    if loaded.message:
        print(f"note: {loaded.message}", file=sys.stderr)


def _parse(action: str, texts: list[str]) -> list[PortSpec] | int:
    try:
        return parse_port_list(texts)
    except PortSpecError as exc:
        return _bad_input(action, str(exc))


def _joined(specs: Iterable[PortSpec]) -> str:
    return " ".join(str(spec) for spec in specs)


def cmd_add(args: argparse.Namespace) -> int:
    specs = _parse("add", args.ports)
    if isinstance(specs, int):
        return specs
    owner = (args.owner or "").strip() or None
    try:
        allowed = check_allowed_exposure(args.allow)
    except SettingsError as exc:
        return _bad_input("add", str(exc))

    def add(settings: Settings) -> Settings:
        have = {watch.ports for watch in settings.watched_ports}
        new_entries = tuple(
            WatchedPort(
                spec,
                notify_occupied=not args.no_occupied,
                notify_freed=not args.no_freed,
                expected_owner=owner,
                allowed_exposure=allowed,
            )
            for spec in specs
            if spec not in have
        )
        return replace(settings, watched_ports=settings.watched_ports + new_entries)

    try:
        edit = edit_settings(add)
    except SettingsFileError as exc:
        return _file_error("add", exc)
    _tell(edit.loaded)
    had = {watch.ports for watch in edit.before.watched_ports}
    added = [spec for spec in specs if spec not in had]
    already = [spec for spec in specs if spec in had]
    if added:
        print(f"watching {_joined(added)}")
    if already:
        print(
            f"already watched: {_joined(already)} (remove and add again to change its options)",
            file=sys.stderr,
        )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    specs = _parse("remove", args.ports)
    if isinstance(specs, int):
        return specs
    try:
        edit = edit_settings(lambda settings: settings.with_watched_removed(specs)[0])
    except SettingsFileError as exc:
        return _file_error("remove", exc)
    _tell(edit.loaded)
    had = {watch.ports for watch in edit.before.watched_ports}
    removed = [spec for spec in specs if spec in had]
    missing = [spec for spec in specs if spec not in had]
    if removed:
        print(f"no longer watching {_joined(removed)}")
    if missing:
        print(
            f"portwatch watch-port remove: not watched: {_joined(missing)} "
            "(see `portwatch watch-port list`)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    loaded = load_settings()
    if loaded.error:
        print(f"portwatch watch-port list: {loaded.error}", file=sys.stderr)
        return 1
    _tell(loaded)
    watched = loaded.settings.watched_ports
    if args.json:
        print(json.dumps([watch.to_json() for watch in watched], indent=2))
        return 0
    if not watched:
        print("No watched ports. Add some: portwatch watch-port add 3000 5173")
        print(f"(settings file: {visible(str(paths.settings_file()))})", file=sys.stderr)
        return 0
    rows = [
        (
            str(watch.ports),
            "yes" if watch.notify_occupied else "no",
            "yes" if watch.notify_freed else "no",
            watch.expected_owner or "-",
            str(watch.allowed_exposure) if watch.allowed_exposure else "any",
        )
        for watch in watched
    ]
    print(format_table(("PORTS", "TAKEN", "FREED", "OWNER", "ALLOWED"), rows))
    return 0
