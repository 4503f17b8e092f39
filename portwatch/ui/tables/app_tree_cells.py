"""What the "Group by app" tree's cells show: group names, summaries, texts and sort values.

A group is named by the label the user gave the app, else the project the
app runs in, else the app as :func:`naming.app_and_project` reads. Its row
sums up its ports ("3 ports · widest: every network"); a port's row shows
the port, who holds it (label first), proto, address, exposure, connections.
Sort values are ints and strings, which Qt's sorting proxy compares itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portwatch.core.model import Exposure, Listener
from portwatch.core.naming import Labels, app_and_project, process_text
from portwatch.core.person_ports import count_ports
from portwatch.core.safetext import visible
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.tables.addresses import address_sort_key


class AppTreeColumn:
    NAME, SUMMARY, PROTO, ADDRESS, EXPOSURE, CONNECTIONS = range(6)


HEADERS = ("App / port", "Summary", "Proto", "Address", "Exposure", "Conns")
NUMERIC = frozenset({AppTreeColumn.CONNECTIONS})
LAST_COLUMN = len(HEADERS) - 1

# How far the most exposed of a group's ports reaches, for its summary.
WIDEST_WORDS = {
    Exposure.LOOPBACK: "this machine only",
    Exposure.LAN: "the local network",
    Exposure.PUBLIC: "every network",
}


def group_name(listener: Listener, labels: Labels) -> str:
    """The app's label, else its project, else the app (or the owner's words)."""
    if listener.app is not None:
        label = labels.apps.get(listener.app)
        if label:
            return label
    if listener.project:
        return listener.project
    return app_and_project(listener)


def widest(listeners: Sequence[Listener]) -> Exposure | None:
    if not listeners:
        return None
    return max((row.exposure for row in listeners), key=lambda exposure: exposure.rank)


def summary_text(listeners: Sequence[Listener]) -> str:
    """'3 ports · widest: every network' (ports as a person counts them)."""
    exposure = widest(listeners)
    if exposure is None:
        return ""
    ports = count_ports(listeners)
    return f"{ports} port{'' if ports == 1 else 's'} · widest: {WIDEST_WORDS[exposure]}"


def group_text(name: str, children: Sequence[Listener], col: int) -> str:
    if col == AppTreeColumn.NAME:
        return visible(name)
    if col == AppTreeColumn.SUMMARY:
        return summary_text(children)
    if col == AppTreeColumn.EXPOSURE:
        exposure = widest(children)
        return EXPOSURE_WORDS[exposure] if exposure is not None else ""
    if col == AppTreeColumn.CONNECTIONS:
        tcp = [row.connections for row in children if row.proto == "tcp"]
        return str(sum(tcp)) if tcp else ""
    return ""


def group_texts(name: str, children: Sequence[Listener]) -> tuple[str, ...]:
    return tuple(group_text(name, children, col) for col in range(len(HEADERS)))


def group_sort(name: str, children: Sequence[Listener], col: int) -> Any:
    if col == AppTreeColumn.SUMMARY:
        return count_ports(children)
    if col == AppTreeColumn.EXPOSURE:
        return max((row.exposure.rank for row in children), default=-1)
    if col == AppTreeColumn.CONNECTIONS:
        return sum(row.connections for row in children)
    return name.lower()


def child_text(item: Listener, labels: Labels, col: int) -> str:
    if col == AppTreeColumn.NAME:
        return str(item.port)
    if col == AppTreeColumn.SUMMARY:
        return visible(process_text(item, labels.for_listener(item)))
    if col == AppTreeColumn.PROTO:
        return item.proto.upper()
    if col == AppTreeColumn.ADDRESS:
        return item.address
    if col == AppTreeColumn.EXPOSURE:
        return EXPOSURE_WORDS[item.exposure]
    return str(item.connections) if item.proto == "tcp" else ""


def child_sort(item: Listener, labels: Labels, col: int) -> Any:
    if col == AppTreeColumn.NAME:
        return item.port
    if col == AppTreeColumn.PROTO:
        return f"{item.proto}{item.family}"
    if col == AppTreeColumn.ADDRESS:
        return address_sort_key(item.address)
    if col == AppTreeColumn.EXPOSURE:
        return item.exposure.rank
    if col == AppTreeColumn.CONNECTIONS:
        return item.connections
    return child_text(item, labels, col).lower()


def changed_columns(
    old: Listener, old_labels: Labels, new: Listener, new_labels: Labels
) -> tuple[int, int] | None:
    """The span of a port row's columns whose text changed (None: none did)."""
    cols = [
        col
        for col in range(len(HEADERS))
        if child_text(old, old_labels, col) != child_text(new, new_labels, col)
    ]
    return (min(cols), max(cols)) if cols else None


__all__ = [
    "HEADERS",
    "LAST_COLUMN",
    "NUMERIC",
    "WIDEST_WORDS",
    "AppTreeColumn",
    "changed_columns",
    "child_sort",
    "child_text",
    "group_name",
    "group_sort",
    "group_text",
    "group_texts",
    "summary_text",
]
