"""The "Group by app" view in the main window: the toggle, its memory, selection and menus."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QTimer
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from portwatch.core.model import Listener
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.app_tree_cells import AppTreeColumn
from tests.support.factories import listener, snapshot

nginx = partial(listener, process="nginx", pid=40, pids=(40, 41))
ROWS = [
    nginx(80, "0.0.0.0"),
    nginx(443, "0.0.0.0"),
    listener(3000, "127.0.0.1", process="node", pid=300, project="shop-frontend"),
]


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def group_index(window: MainWindow, name: str) -> QModelIndex:
    proxy = window.listener_tree.tree_proxy
    for row in range(proxy.rowCount()):
        index = proxy.index(row, 0)
        if index.data() == name:
            return index
    raise AssertionError(f"no group {name}")


def select_child(window: MainWindow, group: str, port: int) -> None:
    proxy = window.listener_tree.tree_proxy
    parent = group_index(window, group)
    for row in range(proxy.rowCount(parent)):
        index = proxy.index(row, 0, parent)
        if index.data() == str(port):
            window.listener_tree.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            return
    raise AssertionError(f"no port {port} under {group}")


def test_the_toggle_swaps_the_table_for_the_tree(window: MainWindow) -> None:
    window.apply_snapshot(snapshot(ROWS))
    assert window.listeners_stack.currentWidget() is window.listener_view
    # Hidden, the tree does no work per scan.
    assert window.listener_tree.tree_model.rowCount() == 0
    window.group_action.setChecked(True)
    assert window.listeners_stack.currentWidget() is window.listener_tree
    assert window.listener_tree.tree_model.group_names() == ["nginx", "shop-frontend"]
    nginx_group = group_index(window, "nginx")
    assert window.listener_tree.isExpanded(nginx_group)
    summary = nginx_group.siblingAtColumn(AppTreeColumn.SUMMARY).data()
    assert summary == "2 ports · widest: every network"
    window.group_action.setChecked(False)
    assert window.listeners_stack.currentWidget() is window.listener_view


def test_selecting_a_port_fills_the_details_pane(qtbot: QtBot, window: MainWindow) -> None:
    window.group_action.setChecked(True)
    window.apply_snapshot(snapshot(ROWS))
    with qtbot.waitSignal(window.selection_changed) as picked:
        select_child(window, "nginx", 443)
    assert [row.port for row in picked.args[0]] == [443]
    assert window.details.listener is not None
    assert window.details.listener.port == 443
    assert [row.port for row in window.selected_listeners()] == [443]
    assert window.open_details()
    # A group row is not a port: nothing to detail.
    window.listener_tree.selectionModel().setCurrentIndex(
        group_index(window, "shop-frontend"),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert window.details.listener is None
    assert window.selected_listeners() == []


def test_search_and_toggles_filter_the_tree(window: MainWindow) -> None:
    window.group_action.setChecked(True)
    window.apply_snapshot(snapshot(ROWS))
    window.toolbar.set_search_now("shop")
    proxy = window.listener_tree.tree_proxy
    assert [proxy.index(row, 0).data() for row in range(proxy.rowCount())] == ["shop-frontend"]
    window.toolbar.set_search_now("")
    window.only_public_action.setChecked(True)
    assert [proxy.index(row, 0).data() for row in range(proxy.rowCount())] == ["nginx"]


def test_a_right_click_on_a_group_acts_on_its_ports(window: MainWindow) -> None:
    window.group_action.setChecked(True)
    window.apply_snapshot(snapshot(ROWS))
    seen: list[list[Listener]] = []

    def look(menu: QMenu, listeners: list[Listener]) -> None:
        seen.append(listeners)
        QTimer.singleShot(0, menu.close)

    window.context_menu_requested.connect(look)
    tree = window.listener_tree
    tree.customContextMenuRequested.emit(tree.visualRect(group_index(window, "nginx")).center())
    assert [[row.port for row in rows] for rows in seen] == [[80, 443]]


def test_grouping_is_remembered_by_a_new_window(qtbot: QtBot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.group_action.setChecked(True)
    first.listener_tree.setColumnWidth(AppTreeColumn.ADDRESS, 211)
    first.hide_on_close = False
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.group_action.isChecked()
    assert second.grouped
    assert second.listeners_stack.currentWidget() is second.listener_tree
    assert second.listener_tree.header().sectionSize(AppTreeColumn.ADDRESS) == 211
    second.apply_snapshot(snapshot(ROWS))
    assert second.listener_tree.tree_model.group_names() == ["nginx", "shop-frontend"]
    second.group_action.setChecked(False)
    second.save_state()

    third = MainWindow()
    qtbot.addWidget(third)
    assert not third.grouped
