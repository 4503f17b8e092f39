"""Showing a port: its row selected in the view on screen, or why there is none.

``MainWindow.show_port`` searches for the port, then selects the row these
helpers pick among the rows shown on that port: the one reachable widest
(every network, then the local network, then this machine only), the first
in the view's order among equals. A search for a number also finds a PID,
so only rows *on* the port count, and not a row fading out (gone). When
there is none, ``missing_text`` says why in plain words: nothing listens
there any more, or a toolbar filter hides it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, QModelIndex
from PySide6.QtWidgets import QAbstractItemView

from portwatch.core.model import Listener, Snapshot
from portwatch.ui.tables.app_tree_filter import AppTreeProxy
from portwatch.ui.tables.filters import ListenerProxy, ListenerToggles
from portwatch.ui.tables.rows import RowState

PortRow = tuple[QModelIndex, Listener]
SHOW_ALL = ListenerToggles()


def table_rows_on(proxy: ListenerProxy, port: int) -> Iterator[PortRow]:
    """The flat table's shown rows on ``port``, in the view's order (not those just gone)."""
    table = proxy.source_table()
    for row in range(proxy.rowCount()):
        index = proxy.index(row, 0)
        number = proxy.table_row(index)
        item = table.item_at(number)
        if item.port == port and table.state_at(number) is not RowState.GONE:
            yield index, item


def tree_rows_on(proxy: AppTreeProxy, port: int) -> Iterator[PortRow]:
    """The tree's shown port rows on ``port``, group by group in the view's order."""
    for group in range(proxy.rowCount()):
        parent = proxy.index(group, 0)
        for row in range(proxy.rowCount(parent)):
            index = proxy.index(row, 0, parent)
            item = proxy.listener_at(index)
            if item is not None and item.port == port:
                yield index, item


def select_port(
    view: QAbstractItemView,
    proxy: ListenerProxy | AppTreeProxy,
    port: int,
    snapshot: Snapshot | None,
    toggles: ListenerToggles,
) -> str | None:
    """Select the row to show for ``port`` in ``view`` (over ``proxy``); else why there is none.

    None when a row was selected, or when there is nothing to say (no scan yet).
    """
    rows = (
        tree_rows_on(proxy, port) if isinstance(proxy, AppTreeProxy) else table_rows_on(proxy, port)
    )
    if select_widest(view, rows) is not None or snapshot is None:
        return None
    return missing_text(port, snapshot.on_port(port), toggles)


def select_widest(view: QAbstractItemView, rows: Iterable[PortRow]) -> Listener | None:
    """Select, scroll to and focus the widest reaching of ``rows``; None when there are none."""
    best: PortRow | None = None
    for index, item in rows:
        if best is None or item.exposure.rank > best[1].exposure.rank:
            best = index, item
    if best is None:
        return None
    index, item = best
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    view.selectionModel().setCurrentIndex(index, flags)
    view.scrollTo(index)  # a tree opens the group it is in
    view.setFocus()
    return item


def missing_text(port: int, on_port: Sequence[Listener], toggles: ListenerToggles) -> str | None:
    """Why no row on ``port`` is shown (``on_port``: the last scan's sockets on it).

    None when the toolbar's filters do not explain it either.
    """
    if not on_port:
        return f"Nothing listens on port {port} any more"
    # Each toggle on its own, as set now: those that hide one of the sockets are named.
    alone = (
        ("“TCP” is off", replace(SHOW_ALL, tcp=toggles.tcp)),
        ("“UDP” is off", replace(SHOW_ALL, udp=toggles.udp)),
        ("“Hide loopback-only” is on", replace(SHOW_ALL, hide_loopback=toggles.hide_loopback)),
        ("“Only public” is on", replace(SHOW_ALL, only_public=toggles.only_public)),
    )
    hiding = [words for words, one in alone if not all(one.accepts(item) for item in on_port)]
    if not hiding:
        return None
    return f"Port {port} is in use, but the toolbar hides it ({' and '.join(hiding)})"


__all__ = ["missing_text", "select_port", "select_widest", "table_rows_on", "tree_rows_on"]
