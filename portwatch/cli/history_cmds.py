"""`history`: who held which port, when, for how long, with which command."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

from portwatch.cli.common import format_table, format_time
from portwatch.core import paths
from portwatch.core.arguments import argument_type, port_number
from portwatch.core.formats import format_duration
from portwatch.core.history import (
    HistoryError,
    HistoryEvent,
    HistoryReader,
    Holding,
    holdings_to_csv,
    parse_since,
)
from portwatch.core.safetext import csv_cell, visible

MAX_LIMIT = 1_000_000


# argparse type: 2h, 30m, 1d, 2w or an ISO date/time.
since_time = argument_type(parse_since, ValueError)


def row_limit(text: str) -> int:
    """argparse type: a number of rows, 1 to 1,000,000 (ASCII digits only)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(
            f"'{visible(text[:40])}' is not a number of rows: use 1 to {MAX_LIMIT:,} rows"
        )
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(MAX_LIMIT)) or not 1 <= int(significant) <= MAX_LIMIT:
        shown = significant if len(significant) <= 20 else significant[:20] + "…"
        raise argparse.ArgumentTypeError(f"{shown} is out of range: use 1 to {MAX_LIMIT:,} rows")
    return int(significant)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "history",
        help="who held which port, when and for how long (recorded by the tray app)",
    )
    p.add_argument("--port", type=port_number, metavar="N", help="only this port")
    p.add_argument(
        "--since",
        type=since_time,
        metavar="WHEN",
        help="only since then: 30m, 2h, 1d, 2w, or a date/time like 2026-11-21T14:00",
    )
    p.add_argument("--process", metavar="NAME", help="process name or command line contains NAME")
    p.add_argument(
        "--events", action="store_true", help="the raw events instead of holding intervals"
    )
    p.add_argument("--limit", type=row_limit, default=500, metavar="N", help="at most N rows (500)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array of objects")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.set_defaults(func=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    """Read the history the tray app records; never changes the file (read-only)."""
    db = paths.history_db()
    if not db.exists():
        if args.json:
            print("[]")
        elif not args.csv:
            print("No history yet: the tray app records it while it runs.")
        return 0
    try:
        with HistoryReader(db) as history:
            notice = history.notice
            if notice:
                print(f"portwatch history: note: {notice}", file=sys.stderr)
            return _print(history, args)
    except HistoryError as exc:
        print(f"portwatch history: {exc}", file=sys.stderr)
        return 1


def _print(history: HistoryReader, args: argparse.Namespace) -> int:
    filters = {"port": args.port, "process": args.process, "since": args.since}
    if args.events:
        events = history.events(**filters, limit=args.limit)
        _print_events(events, args)
        if len(events) >= args.limit:
            _say_truncated(len(events), history.count_events(**filters))
        return 0
    holdings = history.holdings(**filters, limit=args.limit)
    _print_holdings(holdings, args)
    if len(holdings) >= args.limit:
        _say_truncated(len(holdings), history.count_holdings(**filters))
    return 0


def _say_truncated(shown: int, matching: int) -> None:
    """On stderr, so the rows on stdout stay whole for a pipe or a JSON reader."""
    if matching > shown:
        print(f"{shown:,} of {matching:,} shown: use --limit N to see more", file=sys.stderr)


def _print_events(events: list[HistoryEvent], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps([e.to_json() for e in events], indent=2))
        return
    rows = [
        (
            format_time(e.at),
            e.kind,
            e.proto or "-",
            visible(e.address or "-"),
            str(e.port) if e.port is not None else "-",
            str(e.pid) if e.pid is not None else "-",
            e.process or "-",
        )
        for e in events
    ]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("time", "event", "proto", "address", "port", "pid", "process"))
        writer.writerows((*row[:-1], csv_cell(row[-1])) for row in rows)
    elif rows:
        shown = [(*row[:-1], visible(row[-1])) for row in rows]
        print(format_table(("TIME", "EVENT", "PROTO", "ADDRESS", "PORT", "PID", "PROCESS"), shown))
    else:
        print("No matching events.")


def _print_holdings(holdings: list[Holding], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps([h.to_json() for h in holdings], indent=2))
        return
    if args.csv:
        holdings_to_csv(holdings, sys.stdout)
        return
    if not holdings:
        print("Nothing matches: no port was held in that time by that process.")
        return
    now = time.time()
    table: list[tuple[str, ...]] = []
    for hold in holdings:
        until = format_time(hold.end) if hold.end is not None else "still held"
        if hold.end is not None and not hold.end_known:
            until = f"before {until}"
        duration = format_duration(hold.duration if hold.start is not None else None) or "-"
        if hold.end is None and hold.start is not None:
            duration = format_duration(now - hold.start) + "+"
        table.append(
            (
                str(hold.port),
                hold.proto,
                visible(hold.process or "-"),
                str(hold.pid) if hold.pid is not None else "-",
                format_time(hold.start) if hold.start is not None else "(before history)",
                until,
                duration,
                _short(hold.cmdline),
            )
        )
    print(
        format_table(("PORT", "PROTO", "PROCESS", "PID", "FROM", "UNTIL", "HELD", "COMMAND"), table)
    )


def _short(command: str | None, width: int = 60) -> str:
    if not command:
        return "-"
    shown = visible(command)
    return shown if len(shown) <= width else shown[: width - 1] + "…"
