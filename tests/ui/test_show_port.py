"""Show means show: a port shown from the tray, a notification or the port check is selected.

A real offscreen main window is fed snapshots; the app-level test wires a real
child's socket through the composed app and every "Show" that reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from portwatch.core.model import Listener
from portwatch.core.scanner import Scanner
from portwatch.ui.app import PortwatchApp
from portwatch.ui.listener_actions import install_actions
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.listeners import ListenerColumn
from tests.support.factories import listener, snapshot
from tests.support.procs import ListenerProcess
from tests.ui.composed import built_apps, feed

# Port 3000 on this machine only, on every network and on the local network;
# port 8080 is held by PID 3000, which a search for "3000" also finds.
LOOPBACK = listener(3000, "127.0.0.1", pid=31, process="node")
WILDCARD = listener(3000, "0.0.0.0", pid=32, process="node")
LAN = listener(3000, "192.168.1.20", pid=33, process="node")
PID_3000 = listener(8080, "0.0.0.0", pid=3000, process="nginx")
ROWS = [LOOPBACK, LAN, WILDCARD, PID_3000, listener(5432, "127.0.0.1")]


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def shown_in_view(window: MainWindow, index: QModelIndex) -> bool:
    view = window.listeners_view
    return view.viewport().rect().intersects(view.visualRect(index))


def test_show_port_selects_the_widest_row_and_fills_the_details(window: MainWindow) -> None:
    actions, _check = install_actions(window)
    window.apply_snapshot(snapshot(ROWS))
    window.tabs.setCurrentIndex(1)
    window.hide()
    assert not actions.free_action.isEnabled()
    window.show_port(3000)
    assert window.isVisible()
    assert window.tabs.currentIndex() == 0
    assert window.search.text() == "3000"
    # Filtered as before (the PID 3000 row matches the search too)...
    shown = {
        window.listener_proxy.listener_at(window.listener_proxy.index(r, 0)).key for r in range(4)
    }
    assert window.listener_proxy.rowCount() == 4
    assert shown == {r.key for r in (LOOPBACK, LAN, WILDCARD, PID_3000)}
    # ...and the socket on port 3000 reachable from every network is the one selected.
    assert window.selected_listeners() == [WILDCARD]
    assert window.details.listener == WILDCARD
    assert window.details.field_text("Endpoint").startswith("TCP 0.0.0.0:3000 · public")
    assert actions.selection == [WILDCARD]
    assert actions.free_action.isEnabled()

    # Without the wildcard socket, the local network's comes before this machine's.
    window.apply_snapshot(snapshot([LOOPBACK, LAN, PID_3000]))
    window.listener_view.clearSelection()
    window.show_port(3000)
    assert window.selected_listeners() == [LAN]


def test_show_port_scrolls_to_the_row(window: MainWindow) -> None:
    window.resize(900, 400)
    many = [listener(3000, f"127.0.0.{n}", pid=100 + n) for n in range(2, 90)]
    window.apply_snapshot(snapshot([*many, LAN]))
    window.listener_view.sortByColumn(ListenerColumn.ADDRESS, Qt.SortOrder.AscendingOrder)
    window.show_port(3000)
    assert window.selected_listeners() == [LAN]
    current = window.listener_view.selectionModel().currentIndex()
    assert current.row() == window.listener_proxy.rowCount() - 1  # last by address
    assert shown_in_view(window, current)
    assert window.listener_view.verticalScrollBar().value() > 0


def test_show_port_in_the_tree_opens_the_group_and_selects_the_port(window: MainWindow) -> None:
    window.group_action.setChecked(True)
    window.apply_snapshot(snapshot(ROWS))
    tree = window.listener_tree
    proxy = tree.tree_proxy
    window.show_port(3000)
    node = next(
        proxy.index(row, 0)
        for row in range(proxy.rowCount())
        if proxy.index(row, 0).data() == "node"
    )
    # The user closes the group and picks nothing; a second Show opens it again.
    tree.collapse(node)
    tree.clearSelection()
    assert not tree.isExpanded(node)
    window.show_port(3000)
    assert window.selected_listeners() == [WILDCARD]
    assert window.details.listener == WILDCARD
    current = tree.selectionModel().currentIndex()
    node = current.parent()
    assert node.data() == "node"
    assert tree.isExpanded(node)
    assert shown_in_view(window, current)


def test_a_port_no_longer_listening_is_said_in_the_status_bar(window: MainWindow) -> None:
    window.apply_snapshot(snapshot(ROWS))
    window.show_port(3000)
    # The sockets closed: their rows fade out for a while, and are not shown as alive.
    window.apply_snapshot(snapshot([PID_3000]))
    window.listener_view.clearSelection()
    window.show_port(3000)
    assert window.selected_listeners() == []
    assert window.statusBar().currentMessage() == "Nothing listens on port 3000 any more"
    window.group_action.setChecked(True)
    window.statusBar().clearMessage()
    window.show_port(4000)
    assert window.statusBar().currentMessage() == "Nothing listens on port 4000 any more"


def test_a_port_the_toolbar_hides_is_said_so(window: MainWindow) -> None:
    udp = listener(5353, "127.0.0.1", proto="udp")
    window.apply_snapshot(snapshot([LOOPBACK, udp]))
    window.only_public_action.setChecked(True)
    window.show_port(3000)
    assert window.selected_listeners() == []
    assert window.statusBar().currentMessage() == (
        "Port 3000 is in use, but the toolbar hides it (“Only public” is on)"
    )
    window.udp_action.setChecked(False)
    window.show_port(5353)
    assert window.statusBar().currentMessage() == (
        "Port 5353 is in use, but the toolbar hides it (“UDP” is off and “Only public” is on)"
    )
    window.only_public_action.setChecked(False)
    window.udp_action.setChecked(True)
    window.show_port(3000)
    assert window.selected_listeners() == [LOOPBACK]


# --- every "Show" of the composed app ---------------------------------------------------


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[..., PortwatchApp]]:
    with built_apps(qtbot, notifier_factory=None) as make:
        yield make


# Offscreen has no tray; showing one anyway makes Qt warn about its missing screen hook.
@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_every_show_selects_a_real_socket(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        scanner = Scanner(connection_owners=False)
        try:
            scanned = scanner.scan()
        finally:
            scanner.close()
        # The child's socket alone, so the tray menu lists its app whatever else runs here.
        scan = replace(scanned, listeners=tuple(scanned.on_port(port)))
        app = make_app(interval=3600, tray_available=True)
        feed(qtbot, app, scan)
        window = app.window
        [mine] = [r for r in scan.on_port(port) if r.pid == child.pid]

        def selected_the_child() -> bool:
            rows: list[Listener] = window.selected_listeners()
            return (
                window.isVisible()
                and window.tabs.currentIndex() == 0
                and [(r.port, r.pid) for r in rows] == [(port, child.pid)]
                and window.details.listener == rows[0]
                and app.listener_actions.free_action.isEnabled()
            )

        def reset() -> None:
            window.listener_view.clearSelection()
            window.listener_tree.clearSelection()
            window.toolbar.set_search_now("")
            window.tabs.setCurrentIndex(1)
            window.hide()
            assert not selected_the_child()

        # The tray menu's "Show in portwatch" for the child's app.
        assert app.tray is not None
        reset()
        submenus = [a.menu() for a in app.tray.menu.actions() if isinstance(a.menu(), QMenu)]
        show = next(
            a
            for menu in submenus
            if isinstance(menu, QMenu) and menu.title().endswith(f"— {port}")
            for a in menu.actions()
            if a.text() == "Show in portwatch"
        )
        show.trigger()
        assert selected_the_child()

        # A notification's Show action arrives as a request to show the port.
        reset()
        app.alerts.show_port_requested.emit(port)
        assert selected_the_child()

        # "Show in table" in the Is port free? tab, in the Group by app view this time.
        reset()
        window.group_action.setChecked(True)
        check = app.port_check
        check.port_edit.setText(str(port))
        with qtbot.waitSignal(check.answered, timeout=10_000):
            check.check()
        assert not check.show_button.isHidden()
        check.show_button.click()
        assert selected_the_child()
        assert window.listeners_view is window.listener_tree
        assert mine.key == window.details.listener.key  # type: ignore[union-attr]
