"""The sorting proxy under the search filter: its order against Python's sorted()."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from PySide6.QtCore import QItemSelectionModel, QPersistentModelIndex, Qt
from pytestqt.modeltest import ModelTester

from portwatch.core.model import Listener
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import ITEM_ROLE
from portwatch.ui.tables.filters import ListenerProxy
from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel
from portwatch.ui.tables.sort_proxy import SortProxy
from tests.support.factories import listener

ASCENDING, DESCENDING = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


# 127.0.0.10 sorts after 127.0.0.9 by number, before it as text.
ADDRESSES = ("127.0.0.10", "127.0.0.9", "::1")


def _listeners(rng: random.Random, count: int, first_pid: int) -> list[Listener]:
    # Few distinct addresses and counts, and each port bound by six rows (TCP
    # and UDP on three addresses): plenty of ties for the tie order to matter.
    # One row per bind: every (port, protocol, address) once, so every row is its own.
    return [
        listener(
            address=ADDRESSES[n // 2 % 3],
            proto="udp" if n % 2 else "tcp",
            port=first_pid + n // 6,
            pid=first_pid + n,
            connections=rng.randrange(3),
        )
        for n in range(count)
    ]


def expected_rows(model: ListenerTableModel, column: int, order: Qt.SortOrder) -> list[int]:
    """The table's rows sorted by Python: by the column, ties by port, protocol,
    then address (numerically); a descending sort reverses all of it."""

    def order_of(row: int) -> tuple[object, ...]:
        item = model.item_at(row)
        value = model.sort_key(row, column)
        return value, item.port, item.proto, address_sort_key(item.address)

    return sorted(range(model.rowCount()), key=order_of, reverse=order == DESCENDING)


def churn(rng: random.Random, rows: list[Listener], next_pid: int) -> list[Listener]:
    """Some rows leave, some change their count (a sort value), some arrive."""
    kept = [row for row in rows if rng.random() > 0.1]
    changed = [
        replace(row, connections=rng.randrange(5)) if rng.random() < 0.2 else row for row in kept
    ]
    return changed + _listeners(rng, rng.randrange(0, 12), next_pid)


@pytest.mark.parametrize("order", [ASCENDING, DESCENDING])
@pytest.mark.parametrize(
    "column", [ListenerColumn.ADDRESS, ListenerColumn.PORT, ListenerColumn.CONNECTIONS]
)
def test_order_matches_sorted_through_random_churn(column: int, order: Qt.SortOrder) -> None:
    rng = random.Random(column * 10 + int(order == DESCENDING))
    clock = [0.0]
    model = ListenerTableModel(highlight_seconds=1, linger_seconds=2, clock=lambda: clock[0])
    sorter = SortProxy()
    sorter.setSourceModel(model)
    sorter.sort(column, order)
    rows = _listeners(rng, 60, 1000)
    next_pid = 2000
    for step in range(40):
        rows = churn(rng, rows, next_pid)
        next_pid += 100
        model.apply(rows)
        clock[0] += 1.0
        model.expire()  # rows that lingered long enough leave, in scattered runs
        assert sorter.source_rows() == expected_rows(model, column, order), step
        if step % 10 == 9:  # a click on another header, then back
            sorter.sort(ListenerColumn.PID, DESCENDING)
            assert sorter.source_rows() == expected_rows(model, ListenerColumn.PID, DESCENDING)
            sorter.sort(column, order)
    for position in range(sorter.rowCount()):
        table_index = sorter.mapToSource(sorter.index(position, 1))
        assert sorter.mapFromSource(table_index).row() == position
        assert sorter.index(position, 1).data() == table_index.data()


def test_sorter_passes_qtmodeltester_through_churn_and_resorts(
    qtmodeltester: ModelTester,
) -> None:
    rng = random.Random(7)
    clock = [0.0]
    model = ListenerTableModel(highlight_seconds=1, linger_seconds=1, clock=lambda: clock[0])
    sorter = SortProxy()
    sorter.setSourceModel(model)
    sorter.sort(ListenerColumn.CONNECTIONS, DESCENDING)
    rows = _listeners(rng, 30, 1000)
    model.apply(rows)
    qtmodeltester.check(sorter, force_py=True)
    # The tester watches every signal while rows arrive, change, move and leave.
    for step in range(8):
        rows = churn(rng, rows, 2000 + 100 * step)
        model.apply(rows)
        clock[0] += 2.0
        model.expire()
        sorter.sort(step % 4, ASCENDING if step % 2 else DESCENDING)
    assert sorter.rowCount() == model.rowCount() == len(rows)


def _binds(proxy: ListenerProxy) -> list[str]:
    """Each row of the view as 'proto address:port'."""
    rows = (proxy.listener_at(proxy.index(row, 0)) for row in range(proxy.rowCount()))
    return [f"{row.proto} {row.endpoint}" for row in rows]


def test_equal_addresses_go_by_port_then_protocol_in_both_orders() -> None:
    model = ListenerTableModel()
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.ADDRESS, ASCENDING)
    # Arriving out of order: the table's own row order would not give the answer.
    model.apply(
        [
            listener(443, "0.0.0.0"),
            listener(22, "127.0.0.1"),
            listener(80, "0.0.0.0", proto="udp"),
            listener(80, "0.0.0.0"),
        ]
    )
    assert _binds(proxy) == [
        "tcp 0.0.0.0:80",
        "udp 0.0.0.0:80",
        "tcp 0.0.0.0:443",
        "tcp 127.0.0.1:22",
    ]
    # A row that arrives later is placed among its ties by port too.
    model.apply([*model.items(), listener(8080, "0.0.0.0"), listener(53, "0.0.0.0")])
    assert _binds(proxy) == [
        "tcp 0.0.0.0:53",
        "tcp 0.0.0.0:80",
        "udp 0.0.0.0:80",
        "tcp 0.0.0.0:443",
        "tcp 0.0.0.0:8080",
        "tcp 127.0.0.1:22",
    ]
    # Descending is the ascending order reversed, ties included: equal
    # addresses go by port from the highest, UDP before TCP on one port.
    proxy.sort(ListenerColumn.ADDRESS, DESCENDING)
    assert _binds(proxy) == [
        "tcp 127.0.0.1:22",
        "tcp 0.0.0.0:8080",
        "tcp 0.0.0.0:443",
        "udp 0.0.0.0:80",
        "tcp 0.0.0.0:80",
        "tcp 0.0.0.0:53",
    ]


def test_a_resort_keeps_persistent_indexes_on_their_rows() -> None:
    model = ListenerTableModel()
    sorter = SortProxy()
    sorter.setSourceModel(model)
    sorter.sort(ListenerColumn.PORT, ASCENDING)
    model.apply([listener(port, "127.0.0.1", pid=9000 - port) for port in range(8000, 8020)])
    held = QPersistentModelIndex(sorter.index(3, ListenerColumn.PROCESS))
    item = held.data(ITEM_ROLE)
    sorter.sort(ListenerColumn.PID, ASCENDING)
    assert held.row() != 3
    assert held.column() == ListenerColumn.PROCESS
    assert held.data(ITEM_ROLE) == item
    # A sort value that moves the row keeps it too.
    model.apply(
        [replace(row, connections=50) if row.key == item.key else row for row in model.items()]
    )
    sorter.sort(ListenerColumn.CONNECTIONS, DESCENDING)
    assert held.row() == 0
    assert held.data(ITEM_ROLE).key == item.key


@pytest.mark.usefixtures("qtbot")
def test_a_selection_in_the_view_survives_a_header_click() -> None:
    from PySide6.QtWidgets import QTableView

    model = ListenerTableModel()
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(ListenerColumn.PORT, ASCENDING)
    model.apply([listener(port, "127.0.0.1", pid=9000 - port) for port in range(8000, 8030)])
    selection = view.selectionModel()
    selection.select(
        proxy.index(5, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    chosen = proxy.listener_at(proxy.index(5, 0))
    view.sortByColumn(ListenerColumn.PID, DESCENDING)
    assert view.horizontalHeader().sortIndicatorSection() == ListenerColumn.PID
    assert [proxy.listener_at(index) for index in selection.selectedRows()] == [chosen]
    assert proxy.listener_at(proxy.index(0, 0)).pid == max(row.pid or 0 for row in model.items())
    view.deleteLater()


def test_headers_come_from_the_table_even_with_no_rows() -> None:
    sorter = SortProxy()
    sorter.setSourceModel(ListenerTableModel())
    assert sorter.rowCount() == 0
    assert sorter.headerData(ListenerColumn.PORT, Qt.Orientation.Horizontal) == "Port"


def test_only_a_table_can_be_sorted() -> None:
    from PySide6.QtCore import QStringListModel

    with pytest.raises(TypeError):
        SortProxy().setSourceModel(QStringListModel(["a"]))
