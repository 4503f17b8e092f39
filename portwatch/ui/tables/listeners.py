"""The listener table: every listening socket, keyed by (proto, family, address, port).

The Process column names the app as a person knows it (``core.naming``): the
user's own name for the port or app first, then what says more ("nginx
(3 processes)"). The Service column shows a port's usual service as a dimmed
hint when the holder is something else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject

from portwatch.core.model import Exposure, Listener, ListenerKey
from portwatch.core.naming import (
    NO_LABELS,
    Labels,
    app_and_project,
    process_text,
    search_words,
    service_words,
)
from portwatch.core.safetext import visible
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import Column, dim_text_brush, plain_tooltip
from portwatch.ui.tables.incremental import IncrementalTableModel
from portwatch.ui.tables.rows import RowState

# A tooltip lists this many PIDs at most (a pre-fork server may have hundreds).
TOOLTIP_PIDS = 20

LabelOf = Callable[[Listener], str | None]


def _count(value: int, proto: str) -> str:
    return str(value) if proto == "tcp" else ""


def pid_text(item: Listener) -> str:
    """'40', or '40 +2' when two more processes hold the socket."""
    if item.pid is None:
        return ""
    others = len(item.pids) - 1
    return f"{item.pid} +{others}" if others > 0 else str(item.pid)


def pids_text(item: Listener) -> str:
    """'PID 40' or 'PIDs 40, 41, 42' (at most TOOLTIP_PIDS, then how many more)."""
    pids = item.holder_pids
    if not pids:
        return ""
    if len(pids) == 1:
        return f"PID {pids[0]}"
    shown = ", ".join(map(str, pids[:TOOLTIP_PIDS]))
    more = len(pids) - TOOLTIP_PIDS
    return f"PIDs {shown}" + (f" and {more} more" if more > 0 else "")


def _service_sort(item: Listener) -> str:
    # By the service the cell names; a blank cell sorts first.
    return (item.service or "").lower() if service_words(item).text else ""


class ListenerColumn:
    PROTO, ADDRESS, PORT, SERVICE, EXPOSURE, PROCESS, PID, USER, CONNECTIONS, REMOTE = range(10)


def listener_columns(label_of: LabelOf) -> tuple[Column[Listener], ...]:
    """The table's columns; the Process column reads the user's label through ``label_of``."""

    def process(item: Listener) -> str:
        return process_text(item, label_of(item))

    return (
        Column("Proto", lambda x: x.proto.upper(), lambda x: f"{x.proto}{x.family}"),
        Column("Address", lambda x: x.address, lambda x: address_sort_key(x.address)),
        Column("Port", lambda x: str(x.port), lambda x: x.port, numeric=True),
        Column("Service", lambda x: service_words(x).text, _service_sort),
        Column(
            "Exposure",
            lambda x: EXPOSURE_WORDS[x.exposure],
            lambda x: x.exposure.rank,
            tooltip="How far the bind reaches: loopback (this machine), LAN, or public",
        ),
        # Process text is shown with control and bidi characters as visible escapes.
        Column("Process", lambda x: visible(process(x)), lambda x: process(x).lower()),
        Column("PID", pid_text, lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: visible(x.user or ""), lambda x: (x.user or "").lower()),
        Column(
            "Conns",
            lambda x: _count(x.connections, x.proto),
            lambda x: x.connections,
            numeric=True,
            tooltip="Established connections to this listener",
        ),
        Column(
            "Remote",
            lambda x: _count(x.remote_connections, x.proto),
            lambda x: x.remote_connections,
            numeric=True,
            tooltip="Established connections from other hosts",
        ),
    )


class ListenerTableModel(IncrementalTableModel[ListenerKey, Listener]):
    """Every listening socket, keyed by (proto, family, address, port)."""

    key_attribute = "key"
    columns = listener_columns(lambda _item: None)
    # The service hint is dimmed.
    styled_columns = frozenset({ListenerColumn.SERVICE})

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        highlight_seconds: float = 4.0,
        linger_seconds: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._labels = NO_LABELS
        super().__init__(
            parent, highlight_seconds=highlight_seconds, linger_seconds=linger_seconds, clock=clock
        )
        # The same columns, with the Process column reading this table's labels.
        self.columns = listener_columns(self.label_of)

    @property
    def labels(self) -> Labels:
        return self._labels

    def label_of(self, item: Listener) -> str | None:
        """The user's name for the listener's port or app (None: none given)."""
        return self._labels.for_listener(item) if self._labels else None

    def set_labels(self, labels: Labels) -> None:
        """Use the user's names; only rows whose name changed signal, in the Process column."""
        old = self._labels
        if labels == old:
            return
        self._labels = labels
        self.cells_changed(self._renamed(old, labels), ListenerColumn.PROCESS)

    def _renamed(self, old: Labels, new: Labels) -> Iterable[int]:
        for row in range(self.rowCount()):
            item = self.item_at(row)
            if old.for_listener(item) != new.for_listener(item):
                yield row

    def tie_of(self, key: ListenerKey) -> tuple[int, str, str]:
        # Rows equal on the sorted column go by port, protocol, then address
        # (numerically): by Address, 0.0.0.0:80 comes before 0.0.0.0:443.
        proto, _family, address, port = key
        return port, proto, address_sort_key(address)

    def same_item(self, old: Listener, new: Listener) -> bool:
        # The key fields are equal already; the rest, without building tuples.
        return (
            old.connections == new.connections
            and old.remote_connections == new.remote_connections
            and old.process == new.process
            and old.exe == new.exe
            and old.cmdline == new.cmdline
            and old.user == new.user
            and old.started == new.started
            and old.service == new.service
            and old.port_range == new.port_range
            and old.ephemeral == new.ephemeral
            and old.exposure == new.exposure
            and old.v6only == new.v6only
            and old.owner_unknown == new.owner_unknown
            and old.pid == new.pid
            and old.pids == new.pids
            and old.holders == new.holders
            and old.app == new.app
            and old.project == new.project
            and old.unit == new.unit
            and old.container == new.container
            and old.cwd == new.cwd
        )

    def haystack_of(self, item: Listener) -> str:
        # The search matches what the table and the details pane show (visible escapes).
        parts = [
            item.proto,
            item.address,
            item.endpoint,
            str(item.port),
            item.service or "",
            visible(item.owner_label),
            visible(process_text(item, self.label_of(item))),
            *(visible(word) for word in search_words(item, self.label_of(item))),
            str(item.pid or ""),
            visible(item.user or ""),
            str(item.exposure),
            visible(item.exe or ""),
            visible(" ".join(item.cmdline or ())),
        ]
        return "\n".join(parts).lower()

    def tooltip(self, item: Listener, column: int, state: RowState) -> str | None:
        if state is RowState.GONE:
            return "gone: no longer seen by the last scan"
        if column == ListenerColumn.ADDRESS and item.stack:
            return f"{item.endpoint} ({item.stack})"
        if column == ListenerColumn.PROCESS:
            return self._process_tooltip(item)
        if column == ListenerColumn.PID and len(item.pids) > 1:
            return pids_text(item)
        if column == ListenerColumn.SERVICE:
            words = service_words(item)
            if words.hint:
                holder = item.app or item.owner_label
                return plain_tooltip(
                    f"Port {item.port} is usually {item.service}; here {holder} holds it"
                )
            return None
        if column == ListenerColumn.EXPOSURE:
            return {
                Exposure.LOOPBACK: "Reachable only from this machine",
                Exposure.LAN: "Reachable from the local network",
                Exposure.PUBLIC: "Reachable on every interface, or on a routable address",
            }[item.exposure]
        return None

    def foreground(self, item: Listener, column: int) -> Any:
        if column == ListenerColumn.SERVICE and service_words(item).hint:
            return dim_text_brush()
        return None

    def _process_tooltip(self, item: Listener) -> str | None:
        """Who it is found to be (under the user's name), its PIDs, its command line."""
        lines = []
        if self.label_of(item):
            lines.append(f"Your name for it; found as {visible(app_and_project(item))}")
        if item.pid is not None:
            lines.append(pids_text(item))
        if item.cmdline:
            lines.append(visible(" ".join(item.cmdline)))
        return plain_tooltip("\n".join(lines), multiline=True) if lines else None
