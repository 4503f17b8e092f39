"""Listener rows as JSON, CSV and aligned text, and durations: one definition for the CLI,
exports, copies and the History tab."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from portwatch.core.model import Listener
from portwatch.core.naming import NO_LABELS, Labels, process_text
from portwatch.core.safetext import csv_cell, visible

# The keys `list --json` promises, in the order CSV columns use. Every one is on
# every object: null where it is not known. The identity keys came last, so a
# script reading CSV columns by position keeps working.
LISTENER_KEYS = (
    "proto",
    "family",
    "address",
    "port",
    "pid",
    "process",
    "user",
    "exe",
    "cmdline",
    "service",
    "exposure",
    "connections",
    "remote_connections",
    "v6only",
    "owner_unknown",
    "port_range",
    "ephemeral",
    "started",
    "pids",
    "app",
    "project",
    "unit",
    "container",
    "cwd",
    "label",
)


def iso_local_time(epoch: float) -> str:
    """'2026-12-04T16:50:11+01:00': ISO 8601 local time with its UTC offset, to the second."""
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def listener_row(
    listener: Listener, label: str | None = None, *, iso_times: bool = False
) -> dict[str, Any]:
    """The promised keys of one listener, ``label`` being the user's name for it (or None).

    ``started`` is epoch seconds, as `list --json` promises scripts; with
    ``iso_times`` (a file for a person: the window's export) :func:`iso_local_time`.
    """
    data = listener.to_json(label)
    row = {key: data.get(key) for key in LISTENER_KEYS}
    if iso_times and listener.started is not None:
        row["started"] = iso_local_time(listener.started)
    return row


def to_json(
    listeners: Iterable[Listener], labels: Labels = NO_LABELS, *, iso_times: bool = False
) -> str:
    """A JSON array; the text is exactly what was read (escaped by JSON), and valid UTF-8.

    ``iso_times``: times as ISO 8601 text (:func:`listener_row`).
    """
    rows = [listener_row(row, labels.for_listener(row), iso_times=iso_times) for row in listeners]
    return json.dumps(rows, indent=2)


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell(value)
    return value


def to_csv(
    listeners: Iterable[Listener], labels: Labels = NO_LABELS, *, iso_times: bool = False
) -> str:
    """A header row, then one line per listener: text cells shown visibly, never as formulas.

    Lists become one cell: the command line and the PIDs joined by spaces.
    ``iso_times``: times as ISO 8601 text (:func:`listener_row`).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LISTENER_KEYS)
    for row in listeners:
        data = listener_row(row, labels.for_listener(row), iso_times=iso_times)
        if data["cmdline"] is not None:
            data["cmdline"] = " ".join(data["cmdline"])
        data["pids"] = " ".join(str(pid) for pid in data["pids"])
        writer.writerow(_csv_value(data[k]) for k in LISTENER_KEYS)
    return out.getvalue()


TABLE_HEADERS = (
    "PROTO",
    "ADDRESS",
    "PORT",
    "SERVICE",
    "EXPOSURE",
    "PID",
    "PROCESS",
    "USER",
    "CONNS",
    "REMOTE",
)


def table_cells(listener: Listener, label: str | None = None) -> tuple[str, ...]:
    """The cells of one row, each one line with every control character shown as an escape.

    The Process cell names the owner as a person does (:func:`naming.process_text`):
    the user's ``label``, else the app and its project.
    """
    proto = f"{listener.proto}{listener.family}"
    exposure = str(listener.exposure)
    if listener.stack:
        exposure += f" ({listener.stack})"
    return (
        proto,
        listener.address,
        str(listener.port),
        listener.service or "-",
        exposure,
        str(listener.pid) if listener.pid is not None else "-",
        visible(process_text(listener, label)),
        visible(listener.user) if listener.user else "-",
        str(listener.connections) if listener.proto == "tcp" else "-",
        str(listener.remote_connections) if listener.proto == "tcp" else "-",
    )


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, numbers right-aligned, two spaces apart.

    Every cell goes through :func:`safetext.visible`: one row is one line, and
    nothing in a cell can drive the terminal.
    """
    headers = [visible(h) for h in headers]
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [
        any(row[i].isdigit() for row in rows)
        and all(row[i].isdigit() or row[i] == "-" for row in rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if is_num else cell.ljust(width)
            for cell, width, is_num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def format_listeners(listeners: Sequence[Listener], labels: Labels = NO_LABELS) -> str:
    rows = [table_cells(row, labels.for_listener(row)) for row in listeners]
    return format_table(TABLE_HEADERS, rows)


def format_duration(seconds: float | None, *, words: bool = False) -> str:
    """'3d 4h', '2h 05m', '7m 09s', '12s' for columns of text; with ``words``, as a person
    says it: '3 days 4 h', '2 h 5 min', '7 min 9 s', '12 s' (a zero second unit left out:
    '2 h', '1 day'). Empty for an unknown duration."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if words:
        units = (
            (days, " day" if days == 1 else " days"),
            (hours, " h"),
            (minutes, " min"),
            (secs, " s"),
        )
        # The largest unit there is and the one after it, as the short form shows.
        first = next((i for i, (value, _) in enumerate(units) if value), len(units) - 1)
        shown = [f"{value}{unit}" for value, unit in units[first : first + 2] if value]
        return " ".join(shown) or "0 s"
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
