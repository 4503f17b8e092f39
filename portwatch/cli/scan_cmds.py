"""`list`, `who` and `watch`: the engine in a terminal."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from portwatch.cli.common import (
    format_listeners,
    format_time,
    listener_row,
    load_labels,
    to_csv,
    to_json,
)
from portwatch.cli.who_text import who_lines
from portwatch.core.arguments import interval_seconds, port_number
from portwatch.core.diff import PendingOwnerGate, diff
from portwatch.core.model import Listener, Snapshot
from portwatch.core.person_ports import count_ports
from portwatch.core.portcheck import answer_port
from portwatch.core.safetext import visible
from portwatch.core.scanner import Scanner


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="show every listening socket and its owner")
    proto = p.add_mutually_exclusive_group()
    proto.add_argument("--tcp", action="store_true", help="TCP listeners only")
    proto.add_argument("--udp", action="store_true", help="UDP sockets only")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array of objects")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("who", help="who holds PORT (TCP and UDP, every address)")
    p.add_argument("port", type=port_number, metavar="PORT")
    p.add_argument("--json", action="store_true", help="a JSON array of objects")
    p.set_defaults(func=cmd_who)

    p = sub.add_parser("watch", help="print a line for every bind, free or change")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--interval",
        type=interval_seconds,
        default=1.0,
        metavar="S",
        help="seconds between scans (default 1)",
    )
    p.set_defaults(func=cmd_watch)


def _filtered(snapshot: Snapshot, args: argparse.Namespace) -> list[Listener]:
    rows = list(snapshot.listeners)
    if getattr(args, "tcp", False):
        rows = [r for r in rows if r.proto == "tcp"]
    if getattr(args, "udp", False):
        rows = [r for r in rows if r.proto == "udp"]
    return rows


def _footer(snapshot: Snapshot) -> None:
    """Notes for a person go to stderr, so stdout stays clean for pipes."""
    if snapshot.hint:
        print(f"note: {visible(snapshot.hint)}", file=sys.stderr)
    for warning in snapshot.warnings:
        print(f"warning: {visible(warning)}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    labels = load_labels()
    scanner = Scanner(connection_owners=False)
    snapshot = scanner.scan()
    rows = _filtered(snapshot, args)
    if args.json:
        print(to_json(rows, labels))
    elif args.csv:
        sys.stdout.write(to_csv(rows, labels))
    else:
        print(format_listeners(rows, labels) if rows else "No listening sockets.")
    _footer(snapshot)
    return 0


def cmd_who(args: argparse.Namespace) -> int:
    labels = load_labels()
    scanner = Scanner(connection_owners=False)
    snapshot = scanner.scan()
    rows = snapshot.on_port(args.port)
    if args.json:
        print(to_json(rows, labels))
        return 0
    if not rows:
        # Nothing listens, but closed connections or a hidden socket may still refuse a bind.
        print(visible(answer_port(args.port, snapshot=snapshot).message(labels)))
    else:
        print("\n".join(who_lines(rows, labels)))
    # What failed elsewhere in the scan does not bear on this port's answer.
    if not rows or any(row.pid is None for row in rows):
        _footer(snapshot)
    return 0


class _Stop:
    """Set by SIGTERM/SIGINT so the watch loop ends between scans."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.event.set()


def _stale_said(snapshot: Snapshot, *, failing: bool) -> bool:
    """Whether the table could not be read; said on stderr once per run of failures."""
    if snapshot.stale is not None:
        if not failing:
            print(
                f"could not read the port list: {visible(snapshot.stale)}; "
                "nothing is reported until it can be read again",
                file=sys.stderr,
                flush=True,
            )
        return True
    if failing:
        print("the port list can be read again", file=sys.stderr, flush=True)
    return False


def cmd_watch(args: argparse.Namespace) -> int:
    labels = load_labels()
    stop = _Stop()
    previous_handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    scanner = Scanner(connection_owners=False)
    # A new socket is printed once its owner is known (or after a few scans without).
    gate = PendingOwnerGate()
    try:
        first = gate.settle(None, scanner.scan())
        # A read that failed is no picture to compare with: events start from a good one.
        old = first if first.stale is None else None
        if not args.json:
            count = count_ports(first.listeners)
            print(
                f"watching {count} port{'s' if count != 1 else ''} every {args.interval:g} s "
                "(Ctrl-C to stop)",
                file=sys.stderr,
            )
            _footer(first)
        failing = _stale_said(first, failing=False)
        while not stop.event.wait(args.interval):
            scanned = scanner.scan()
            failing = _stale_said(scanned, failing=failing)
            if failing:
                continue  # the last picture, kept: no news
            if old is None:
                old = gate.settle(None, scanned)  # the first good picture: no events yet
                continue
            new = gate.settle(old, scanned)
            for event in diff(old, new):
                if args.json:
                    label = labels.for_listener(event.listener)
                    print(json.dumps(event.to_json(label)), flush=True)
                else:
                    line = visible(event.describe(labels))
                    print(f"{format_time(event.at)}  {line}", flush=True)
            old = new
    except BrokenPipeError:
        # `portwatch watch | head`: the reader left; that is a normal end.
        sys.stderr.close()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        scanner.close()
    return 0


__all__ = ["listener_row", "register"]
