"""The listener and connection models and the search/sort proxy (offscreen)."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import replace
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from portwatch.core.model import Connection, Exposure, Listener, OwnerUnknown, ProcessInfo
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import ITEM_ROLE, SORT_ROLE, AnyIndex
from portwatch.ui.tables.connections import ConnectionKey, ConnectionTableModel
from portwatch.ui.tables.filters import ConnectionProxy, ListenerProxy
from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel
from portwatch.ui.tables.rows import RowState
from tests.support.factories import connection, listener

BASE = [
    listener(5432, "127.0.0.1"),
    listener(80, "0.0.0.0"),
    listener(8080, "10.0.0.2"),
    listener(443, "::1"),
    listener(22, "10.0.0.10"),
    listener(53, "127.0.0.1", proto="udp"),
]


class Spy:
    """Records a model's structural signals."""

    def __init__(self, model: QAbstractItemModel) -> None:
        self.resets = 0
        self.inserted: list[tuple[int, int]] = []
        self.removed: list[tuple[int, int]] = []
        self.changed: list[tuple[int, int, int, int]] = []
        model.modelAboutToBeReset.connect(self._reset)
        model.modelReset.connect(self._reset)
        model.layoutChanged.connect(self._reset)
        model.rowsInserted.connect(lambda _p, a, b: self.inserted.append((a, b)))
        model.rowsRemoved.connect(lambda _p, a, b: self.removed.append((a, b)))
        model.dataChanged.connect(
            lambda tl, br, _roles=(): self.changed.append(
                (tl.row(), tl.column(), br.row(), br.column())
            )
        )

    def _reset(self, *_args: object) -> None:
        self.resets += 1


def proxy_for(model: ListenerTableModel) -> ListenerProxy:
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)
    return proxy


def column_values(proxy: ListenerProxy, column: int) -> list[str]:
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


def test_listener_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = ListenerTableModel(linger_seconds=0)
    model.apply(BASE)
    qtmodeltester.check(model, force_py=True)
    # and through updates: the tester watches every signal while we change rows
    model.apply([*BASE[1:], listener(6379, "127.0.0.1")])
    model.expire()
    assert model.rowCount() == len(BASE)


def test_proxy_and_connection_model_pass_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(BASE)
    qtmodeltester.check(proxy.sorter, force_py=True)
    qtmodeltester.check(proxy, force_py=True)

    connections = ConnectionTableModel()
    connections.apply(
        [
            connection("127.0.0.1", 5432, "127.0.0.1", 40000),
            connection("::1", 443, "::1", 50000, state="TIME_WAIT"),
        ]
    )
    qtmodeltester.check(connections, force_py=True)
    connection_proxy = ConnectionProxy()
    connection_proxy.setSourceModel(connections)
    # The sorter first: the tester keeps the last model alive, and the sorter is its child.
    qtmodeltester.check(connection_proxy.sorter, force_py=True)
    qtmodeltester.check(connection_proxy, force_py=True)


def test_update_is_incremental_and_keeps_the_selection(qtbot: QtBot) -> None:
    model = ListenerTableModel(highlight_seconds=0.2, linger_seconds=0.3)
    proxy = proxy_for(model)
    model.apply(BASE)
    spy = Spy(model)
    selection = QItemSelectionModel(proxy)
    # Select the 8080 row in the sorted view.
    row_8080 = column_values(proxy, ListenerColumn.PORT).index("8080")
    selection.select(
        proxy.index(row_8080, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )

    # One row changes (more connections), one vanishes, one appears.
    changed = replace(BASE[2], connections=3, remote_connections=1)
    new_rows = [changed if item.key == BASE[2].key else item for item in BASE if item.port != 22]
    new_rows.append(listener(6379, "127.0.0.1"))
    model.apply(new_rows)

    assert spy.resets == 0
    assert spy.inserted == [(len(BASE), len(BASE))]  # appended in one batch
    assert spy.removed == []  # the vanished row lingers first
    source_row = model.row_of(BASE[2].key)
    assert source_row is not None
    assert any(first <= source_row <= last for first, _c, last, _c2 in spy.changed)

    selected = selection.selectedRows()
    assert len(selected) == 1
    assert selected[0].data(ITEM_ROLE) == changed

    # Changed cells flash, the new row is NEW, the vanished row GONE.
    flash = model.index(source_row, ListenerColumn.CONNECTIONS).data(Qt.ItemDataRole.BackgroundRole)
    assert flash is not None
    assert model.index(source_row, ListenerColumn.PORT).data(Qt.ItemDataRole.BackgroundRole) is None
    gone_row = model.row_of(BASE[4].key)
    assert gone_row is not None
    assert model.state_at(gone_row) is RowState.GONE
    new_row = model.row_of(listener(6379, "127.0.0.1").key)
    assert new_row is not None
    assert model.state_at(new_row) is RowState.NEW

    # After the linger the gone row leaves through rowsRemoved, still no reset.
    with qtbot.waitSignal(model.rowsRemoved, timeout=3000):
        pass
    assert spy.resets == 0
    assert model.row_of(BASE[4].key) is None
    assert len(selection.selectedRows()) == 1
    assert selection.selectedRows()[0].data(ITEM_ROLE) == changed
    qtbot.waitUntil(
        lambda: all(model.state_at(r) is RowState.CURRENT for r in range(model.rowCount()))
    )
    assert (
        model.index(source_row, ListenerColumn.CONNECTIONS).data(Qt.ItemDataRole.BackgroundRole)
        is None
    )


def test_a_row_that_returns_before_its_linger_ends_is_revived() -> None:
    model = ListenerTableModel(linger_seconds=60)
    model.apply(BASE)
    model.apply(BASE[1:])
    row = model.row_of(BASE[0].key)
    assert row is not None
    assert model.state_at(row) is RowState.GONE
    model.apply(BASE)
    assert model.state_at(row) is RowState.CURRENT
    assert model.rowCount() == len(BASE)


def test_changes_that_are_not_news_highlight_nothing_and_remove_at_once() -> None:
    model = ListenerTableModel(linger_seconds=60, highlight_seconds=60)
    model.apply(BASE[1:])
    changed = replace(BASE[1], connections=BASE[1].connections + 5)
    model.apply([BASE[0], changed, *BASE[3:]], news=False)
    # BASE[0] came, BASE[2] went, BASE[1] changed: the table just shows it.
    assert sorted(model.items(), key=lambda x: x.port) == sorted(
        [BASE[0], changed, *BASE[3:]], key=lambda x: x.port
    )
    assert model.row_of(BASE[2].key) is None
    assert all(model.state_at(row) is RowState.CURRENT for row in range(model.rowCount()))
    row = model.row_of(changed.key)
    assert row is not None
    cell = model.index(row, ListenerColumn.CONNECTIONS)
    assert cell.data(Qt.ItemDataRole.BackgroundRole) is None
    # The same changes as news: highlighted, and the vanished row lingers.
    model.apply(BASE[1:])
    gone, new = model.row_of(BASE[0].key), model.row_of(BASE[2].key)
    assert gone is not None
    assert new is not None
    assert model.state_at(gone) is RowState.GONE
    assert model.state_at(new) is RowState.NEW


def test_first_fill_is_not_highlighted() -> None:
    model = ListenerTableModel()
    model.apply(BASE)
    assert all(model.state_at(row) is RowState.CURRENT for row in range(model.rowCount()))


def test_ports_pids_and_counts_sort_as_numbers() -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(
        [
            listener(8080, "127.0.0.1", pid=900, connections=10),
            listener(80, "127.0.0.1", pid=10000, connections=9),
            listener(443, "127.0.0.1", pid=20, connections=100),
            listener(5432, "127.0.0.1", pid=3000, connections=0),
        ]
    )
    assert column_values(proxy, ListenerColumn.PORT) == ["80", "443", "5432", "8080"]
    proxy.sort(ListenerColumn.PID, Qt.SortOrder.AscendingOrder)
    assert column_values(proxy, ListenerColumn.PID) == ["20", "900", "3000", "10000"]
    proxy.sort(ListenerColumn.CONNECTIONS, Qt.SortOrder.DescendingOrder)
    assert column_values(proxy, ListenerColumn.CONNECTIONS) == ["100", "10", "9", "0"]


def test_addresses_sort_in_numeric_order() -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(
        [
            listener(1, "127.0.0.1"),
            listener(2, "10.0.0.10"),
            listener(3, "::1"),
            listener(4, "10.0.0.2"),
            listener(5, "0.0.0.0"),
            listener(6, "::"),
            listener(7, "9.255.255.255"),
        ]
    )
    proxy.sort(ListenerColumn.ADDRESS, Qt.SortOrder.AscendingOrder)
    assert column_values(proxy, ListenerColumn.ADDRESS) == [
        "0.0.0.0",
        "9.255.255.255",
        "10.0.0.2",
        "10.0.0.10",
        "127.0.0.1",
        "::",
        "::1",
    ]
    assert address_sort_key("fe80::1%eth0") == address_sort_key("fe80::1")
    assert proxy.index(0, ListenerColumn.ADDRESS).data(SORT_ROLE) == address_sort_key("0.0.0.0")


@pytest.mark.parametrize(
    ("text", "ports"),
    [
        ("5432", [5432]),
        ("postgres", [5432]),  # service name → its port
        ("POSTGRES", [5432]),
        ("proc8080", [8080]),  # process name
        ("10.0.0.2", [8080]),  # address
        ("[::1]:443", [443]),  # endpoint as typed in a browser
        ("80", [80]),  # digits match a port exactly, not 8080
        ("udp", [53]),
        ("public", [80]),  # exposure word
        ("tcp 127.0.0.1", [5432]),  # every word must match
        ("nothing-like-this", []),
    ],
)
def test_search_matches_any_text(text: str, ports: list[int]) -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(BASE)
    proxy.set_search(text)
    assert sorted(int(p) for p in column_values(proxy, ListenerColumn.PORT)) == ports


def test_search_by_service_name_uses_the_services_table() -> None:
    # The row's own service text is empty (e.g. unknown to this proto table);
    # the name still finds its conventional port.
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply([listener(5432, "127.0.0.1", service=None), listener(6000, "127.0.0.1")])
    proxy.set_search("postgres")
    assert column_values(proxy, ListenerColumn.PORT) == ["5432"]


def test_same_search_text_does_not_refilter(qtbot: QtBot) -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(BASE)
    proxy.set_search("postgres")
    with qtbot.assertNotEmitted(proxy.layoutChanged), qtbot.assertNotEmitted(proxy.rowsRemoved):
        proxy.set_search("  Postgres ")


def test_toggles_filter_protocols_and_exposure() -> None:
    model = ListenerTableModel()
    proxy = proxy_for(model)
    model.apply(BASE)
    proxy.set_toggles(udp=False)
    assert "53" not in column_values(proxy, ListenerColumn.PORT)
    proxy.set_toggles(udp=True, tcp=False)
    assert column_values(proxy, ListenerColumn.PORT) == ["53"]
    proxy.set_toggles(tcp=True, hide_loopback=True)
    exposures = {proxy.index(r, 0).data(ITEM_ROLE).exposure for r in range(proxy.rowCount())}
    assert Exposure.LOOPBACK not in exposures
    assert exposures
    proxy.set_toggles(hide_loopback=False, only_public=True)
    assert column_values(proxy, ListenerColumn.PORT) == ["80"]


def _many(count: int, offset: int = 0) -> list[Listener]:
    rows = []
    for n in range(offset, offset + count):
        address = f"127.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        rows.append(listener(1024 + n % 60000, address, pid=2000 + n))
    return rows


def test_ten_thousand_rows_with_one_percent_churn_signal_only_the_churn() -> None:
    # How long this takes is benchmarks/bench_model.py's business; here: what it emits.
    model = ListenerTableModel()
    proxy = proxy_for(model)
    rows = _many(10_000)
    model.apply(rows)
    assert proxy.rowCount() == 10_000
    spy = Spy(model)
    # 1 %: 50 leave, 50 arrive, 50 change
    churned = rows[50:]
    churned[:50] = [replace(item, connections=item.connections + 1) for item in churned[:50]]
    churned.extend(_many(50, offset=20_000))
    model.apply(churned)
    assert proxy.rowCount() == 10_050  # 50 new + 50 still lingering
    assert spy.resets == 0
    assert spy.inserted == [(10_000, 10_049)]
    # The 50 changed counts: one block, their column only; the 50 gone rows: whole rows.
    assert sorted(spy.changed) == [
        (0, 0, 49, ListenerColumn.REMOTE),
        (50, ListenerColumn.CONNECTIONS, 99, ListenerColumn.CONNECTIONS),
    ]


def test_index_stays_consistent_through_scattered_removals(qtmodeltester: ModelTester) -> None:
    clock = [0.0]
    model = ListenerTableModel(highlight_seconds=1, linger_seconds=2, clock=lambda: clock[0])
    qtmodeltester.check(model, force_py=True)
    rows = _many(60)
    model.apply(rows)
    # Every third row vanishes, some change, a few arrive: then time passes.
    kept = [row for n, row in enumerate(rows) if n % 3]
    kept[:10] = [replace(row, connections=5) for row in kept[:10]]
    model.apply([*kept, *_many(7, offset=1000)])
    clock[0] = 1.5
    model.expire()  # highlights end, gone rows still linger
    assert model.rowCount() == 60 + 7
    clock[0] = 3.0
    model.expire()  # the lingering rows leave
    assert model.rowCount() == len(kept) + 7
    for position in range(model.rowCount()):
        item = model.item_at(position)
        assert model.row_of(item.key) == position
        assert model.state_at(position) is RowState.CURRENT
    # Nothing pending: the expiry timer stops (it has no public view).
    assert not model._timer.isActive()  # noqa: SLF001


class CountingTable(ListenerTableModel):
    """Counts the sort values a proxy reads (a sort reads one per row)."""

    sort_reads = 0

    def sort_key(self, row: int, column: int) -> object:
        self.sort_reads += 1
        return super().sort_key(row, column)

    def sort_values(self, column: int) -> list[object]:
        self.sort_reads += self.rowCount()
        return super().sort_values(column)


class CountingProxy(ListenerProxy):
    """Counts Qt's calls into the search filter."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_checks = 0

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        self.filter_checks += 1
        return super().filterAcceptsRow(source_row, source_parent)


def counting_proxy(model: ListenerTableModel, column: int, order: Qt.SortOrder) -> CountingProxy:
    proxy = CountingProxy()
    proxy.setSourceModel(model)
    proxy.sort(column, order)
    return proxy


def test_a_change_outside_the_sort_column_is_not_compared() -> None:
    model = CountingTable()
    counting_proxy(model, ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)
    rows = _many(200)
    model.apply(rows)
    spy = Spy(model)
    model.sort_reads = 0
    model.apply([replace(row, connections=7) if n % 10 == 0 else row for n, row in enumerate(rows)])
    assert model.sort_reads == 0
    assert {(left, right) for _top, left, _bottom, right in spy.changed} == {
        (ListenerColumn.CONNECTIONS, ListenerColumn.CONNECTIONS)
    }


def test_a_changed_sort_value_moves_the_row_even_when_its_text_stays() -> None:
    # A UDP listener shows no connection count, but the count is still its sort value.
    quiet = listener(53, "127.0.0.1", proto="udp")
    busy = listener(80, "127.0.0.1", connections=3)
    model = ListenerTableModel()
    proxy = counting_proxy(model, ListenerColumn.CONNECTIONS, Qt.SortOrder.DescendingOrder)
    model.apply([quiet, busy])
    assert column_values(proxy, ListenerColumn.PORT) == ["80", "53"]
    spy = Spy(model)
    model.apply([replace(quiet, connections=9), busy])
    assert column_values(proxy, ListenerColumn.PORT) == ["53", "80"]
    assert proxy.index(0, ListenerColumn.CONNECTIONS).data() == ""
    assert proxy.index(0, ListenerColumn.CONNECTIONS).data(SORT_ROLE) == 9
    # No text changed, so no cell flashes; the sort column was still signalled.
    row = model.row_of(quiet.key)
    assert row is not None
    assert model.index(row, ListenerColumn.CONNECTIONS).data(Qt.ItemDataRole.BackgroundRole) is None
    assert any(left <= ListenerColumn.CONNECTIONS <= right for _t, left, _b, right in spy.changed)


def test_sort_values_follow_the_item() -> None:
    model = ListenerTableModel()
    proxy = counting_proxy(model, ListenerColumn.CONNECTIONS, Qt.SortOrder.AscendingOrder)
    rows = [listener(port, "127.0.0.1", connections=port % 7) for port in range(8000, 8010)]
    model.apply(rows)
    changed = [replace(row, connections=100 - n) for n, row in enumerate(rows)]
    model.apply(changed)
    counts = [proxy.index(r, 0).data(ITEM_ROLE).connections for r in range(proxy.rowCount())]
    assert counts == sorted(counts) == list(range(91, 101))


def test_a_duplicate_key_in_one_snapshot_keeps_the_first() -> None:
    model = ListenerTableModel()
    first = listener(5432, "127.0.0.1", connections=1)
    model.apply([first, replace(first, connections=2)])
    assert model.rowCount() == 1
    assert model.item_at(0) == first
    fresh = listener(6379, "127.0.0.1", connections=1)
    model.apply([first, fresh, replace(fresh, connections=2), replace(first, connections=3)])
    assert model.rowCount() == 2
    assert model.item_at(0) == first
    assert model.item_at(1) == fresh


def test_filter_changes_compare_no_rows() -> None:
    # The sorter under the filter holds every row in order: rows that come
    # back are placed without a comparison, in sorted order all the same.
    model = CountingTable()
    proxy = counting_proxy(model, ListenerColumn.PORT, Qt.SortOrder.DescendingOrder)
    rows = _many(300)
    model.apply(rows)
    assert model.sort_reads > 0  # the sorter did sort them
    every_port = column_values(proxy, ListenerColumn.PORT)
    assert every_port == sorted(every_port, key=int, reverse=True)
    model.sort_reads = 0
    proxy.set_search("127.0.0.1")
    assert 0 < proxy.rowCount() < 300
    proxy.set_toggles(tcp=False)
    assert proxy.rowCount() == 0
    proxy.set_toggles(tcp=True)
    proxy.set_search("")
    assert model.sort_reads == 0
    assert column_values(proxy, ListenerColumn.PORT) == every_port


def test_a_header_click_sorts_through_the_filter(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QTableView

    model = ListenerTableModel()
    proxy = proxy_for(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    model.apply(
        [
            listener(8080, "127.0.0.1", pid=900),
            listener(80, "127.0.0.1", pid=10000),
            listener(443, "127.0.0.1", pid=20),
        ]
    )
    proxy.set_search("alice")  # every row's user
    view.sortByColumn(ListenerColumn.PID, Qt.SortOrder.DescendingOrder)
    assert (proxy.sortColumn(), proxy.sortOrder()) == (
        ListenerColumn.PID,
        Qt.SortOrder.DescendingOrder,
    )
    assert proxy.sorter.sortColumn() == ListenerColumn.PID
    assert column_values(proxy, ListenerColumn.PID) == ["10000", "900", "20"]
    assert proxy.listener_at(proxy.index(2, 0)).pid == 20


def test_a_row_that_changes_under_a_search_is_filtered_again() -> None:
    # Qt's dynamic filter is off in the search proxy: it re-checks changed rows itself.
    model = ListenerTableModel()
    proxy = proxy_for(model)
    rows = [replace(row, user="zelda") if row.pid == 2003 else row for row in _many(40)]
    model.apply(rows)
    proxy.set_search("zelda")
    assert column_values(proxy, ListenerColumn.PID) == ["2003"]
    renamed = [replace(row, user="zelda") if row.pid == 2010 else row for row in rows]
    renamed = [replace(row, user="bob") if row.pid == 2003 else row for row in renamed]
    model.apply(renamed)
    assert column_values(proxy, ListenerColumn.PID) == ["2010"]
    # A row that moves in the sort order under a search, and new rows, land in place.
    proxy.sort(ListenerColumn.CONNECTIONS, Qt.SortOrder.DescendingOrder)
    proxy.set_search("127.0.0")
    shown = set(column_values(proxy, ListenerColumn.PID))
    busy = []
    for row in renamed:
        assert row.pid is not None
        busy.append(replace(row, connections=row.pid - 2000))
    model.apply([*busy, *_many(3, offset=500)])
    pids = column_values(proxy, ListenerColumn.PID)
    assert set(pids) == shown
    assert pids == sorted(pids, key=int, reverse=True)


def test_a_keystroke_that_keeps_every_row_does_not_refilter(qtbot: QtBot) -> None:
    model = ListenerTableModel()
    proxy = counting_proxy(model, ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)
    model.apply(BASE)
    proxy.set_search("postg")
    assert column_values(proxy, ListenerColumn.PORT) == ["5432"]
    proxy.filter_checks = 0
    with (
        qtbot.assertNotEmitted(proxy.layoutChanged),
        qtbot.assertNotEmitted(proxy.rowsRemoved),
        qtbot.assertNotEmitted(proxy.rowsInserted),
    ):
        proxy.set_search("postgres")
        proxy.set_toggles(udp=False)  # the UDP row was hidden by the search anyway
    assert proxy.filter_checks == 0
    assert proxy.search == "postgres"
    assert column_values(proxy, ListenerColumn.PORT) == ["5432"]
    # The words took effect all the same: a new row is judged by them.
    model.apply([*BASE, listener(6000, "127.0.0.1")])
    assert column_values(proxy, ListenerColumn.PORT) == ["5432"]


@pytest.mark.parametrize(
    "steps",
    [
        ["p", "pr", "pro", "proc1", "proc10", "proc1", "", "1"],
        ["127", "127 tcp", "127 tcp 80", "127 tcp", "tcp", "udp", ""],
        ["postgres", "postgres 5432", "5432", "543", "54", ""],
        ["10.0", "10.0.", "1", "10", "100", "1000", "1001", "100"],
    ],
)
def test_search_steps_agree_with_a_fresh_filter(steps: list[str]) -> None:
    """Narrowing, widening and the rows changing between keystrokes give the
    rows a proxy filtering from scratch gives."""
    model = ListenerTableModel(linger_seconds=60)
    proxy = proxy_for(model)
    rows = [
        *BASE,
        *_many(120),
        listener(1000, "10.0.0.100", proto="udp"),
        listener(5433, "127.0.0.1", service="postgresql", pid=5432),
    ]
    model.apply(rows)
    for n, text in enumerate(steps):
        if n % 2:  # a poll between keystrokes: rows go, change and arrive
            rows = [
                replace(row, connections=n) if i % 5 == 0 else row for i, row in enumerate(rows)
            ]
            rows = [*rows[3:], *_many(4, offset=1000 + 10 * n)]
            model.apply(rows)
        if n == 3:
            proxy.set_toggles(hide_loopback=True)
        proxy.set_search(text)
        fresh = ListenerProxy()
        fresh.setSourceModel(model)
        fresh.set_toggles(hide_loopback=n >= 3)
        fresh.set_search(text)
        shown = {proxy.index(r, 0).data(ITEM_ROLE).key for r in range(proxy.rowCount())}
        expected = {fresh.index(r, 0).data(ITEM_ROLE).key for r in range(fresh.rowCount())}
        assert shown == expected, text


def _another(value: object) -> object:
    """A different value of the same kind, for the field-by-field check below."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, enum.Enum):
        return next(member for member in type(value) if member is not value)
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, "x")
    raise AssertionError(f"no other value for {value!r}")


def test_same_item_sees_every_field_outside_the_key() -> None:
    # ListenerTableModel compares listeners field by field (faster than ==):
    # a field added to Listener and not compared there fails this test.
    model = ListenerTableModel()
    base = listener(
        8080,
        "::",
        v6only=False,
        owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES,
        service="http-alt",
        holders=(ProcessInfo(pid=1080, name="proc8080"),),
        project="shop",
        unit="shop.service",
        container="shop_web_1",
        cwd="/srv/shop",
    )
    assert model.same_item(base, replace(base))
    compared = []
    for name in (f.name for f in dataclasses.fields(Listener) if f.init):
        value = getattr(base, name)
        assert value is not None, name  # a None has no obvious other value: set one above
        # The field is named at run time, so its type is too.
        another: dict[str, Any] = {name: _another(value)}
        changed = replace(base, **another)
        if changed.key != base.key:
            continue  # a key field: a different row, never compared
        assert not model.same_item(base, changed), name
        compared.append(name)
    assert "connections" in compared
    assert "cmdline" in compared


def test_new_equal_objects_signal_nothing() -> None:
    # A rebuilt snapshot: every object new, every value the same.
    model = ListenerTableModel()
    model.apply(BASE)
    spy = Spy(model)
    model.apply([replace(item) for item in BASE])
    assert (spy.changed, spy.inserted, spy.removed, spy.resets) == ([], [], [], 0)
    assert all(model.state_at(row) is RowState.CURRENT for row in range(model.rowCount()))


def test_a_changed_field_among_new_objects_signals_only_its_cell() -> None:
    model = ListenerTableModel()
    model.apply(BASE)
    spy = Spy(model)
    rebuilt = [replace(item) for item in BASE]
    # The process and the app it is known as (the Process column shows the app).
    rebuilt[3] = replace(rebuilt[3], process="renamed", app="renamed")
    model.apply(rebuilt)
    row = model.row_of(BASE[3].key)
    assert row is not None
    assert spy.changed == [(row, ListenerColumn.PROCESS, row, ListenerColumn.PROCESS)]
    assert model.item_at(row).process == "renamed"


def test_a_gone_row_back_as_a_new_equal_object_is_revived() -> None:
    model = ListenerTableModel(linger_seconds=60)
    model.apply(BASE)
    model.apply(BASE[:-1])
    row = model.row_of(BASE[-1].key)
    assert row is not None
    assert model.state_at(row) is RowState.GONE
    spy = Spy(model)
    model.apply([*BASE[:-1], replace(BASE[-1])])
    assert model.state_at(row) is RowState.CURRENT
    assert spy.changed == [(row, 0, row, ListenerColumn.REMOTE)]  # the whole row restyles
    assert spy.inserted == []


class CountingConnectionModel(ConnectionTableModel):
    """Counts the keys apply() works out: one per item it compares."""

    keys_made = 0

    def key_of(self, item: Connection) -> ConnectionKey:
        self.keys_made += 1
        return super().key_of(item)


def test_the_same_tuple_again_is_not_compared() -> None:
    # The scanner hands back its very tuple when a poll found nothing new.
    model = CountingConnectionModel(linger_seconds=60)
    first = (connection("127.0.0.1", 5432, "127.0.0.1", 40000),)
    both = (*first, connection("::1", 443, "::1", 50000))
    model.apply(both)
    model.apply(first)
    spy = Spy(model)
    model.keys_made = 0
    model.apply(first)
    assert model.keys_made == 0
    assert (spy.changed, spy.inserted) == ([], [])
    assert model.state_at(1) is RowState.GONE  # still lingering
    # A list may have changed in place since: it is compared again.
    items = list(first)
    model.apply(items)
    items.append(connection("127.0.0.1", 6379, "127.0.0.1", 41000))
    model.apply(items)
    assert model.keys_made == 3
    assert spy.inserted == [(2, 2)]


def test_the_generation_applied_last_is_not_compared() -> None:
    # A caller that numbers its snapshots says "nothing changed" outright:
    # even a fresh list of fresh objects is then not looked at.
    model = CountingConnectionModel(linger_seconds=60)
    first = [connection("127.0.0.1", 5432, "127.0.0.1", 40000)]
    model.apply(first, generation=1)
    assert model.generation == 1
    spy = Spy(model)
    model.keys_made = 0
    model.apply([replace(item) for item in first], generation=1)
    assert model.keys_made == 0
    assert (spy.changed, spy.inserted, spy.removed, spy.resets) == ([], [], [], 0)
    assert model.revision == 1
    # A new generation is compared as before.
    second = [*first, connection("::1", 443, "::1", 50000)]
    model.apply(second, generation=2)
    assert model.keys_made == 2
    assert spy.inserted == [(1, 1)]
    assert model.generation == 2
    # Without a generation, the items are compared every time.
    model.apply(second)
    model.apply(second)
    assert model.keys_made == 6
    assert model.generation is None
    # Generation 2 again after one without: compared, since the rows may differ.
    model.apply(first, generation=2)
    assert model.keys_made == 7
    assert model.state_at(1) is RowState.GONE


def test_a_quiet_poll_by_generation_costs_the_proxies_nothing() -> None:
    model = CountingTable()
    proxy = counting_proxy(model, ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)
    proxy.set_search("127.0.0.1")
    rows = _many(100)
    model.apply(rows, generation=7)
    shown = proxy.rowCount()
    spies = [Spy(model), Spy(proxy.sorter), Spy(proxy)]
    model.sort_reads = proxy.filter_checks = 0
    model.apply([replace(row) for row in rows], generation=7)
    assert (model.sort_reads, proxy.filter_checks) == (0, 0)
    for spy in spies:
        assert (spy.changed, spy.inserted, spy.removed, spy.resets) == ([], [], [], 0)
    assert proxy.rowCount() == shown
