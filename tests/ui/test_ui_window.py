"""The main window, details pane, tray icon and no-tray fallback (offscreen)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from portwatch.core.model import Exposure, Listener, OwnerUnknown
from portwatch.core.paths import state_dir
from portwatch.core.scanner import Scanner
from portwatch.ui.app import PortwatchApp
from portwatch.ui.details import UNREADABLE, connections_of
from portwatch.ui.icons import EXPOSURE_COLOURS, PAUSED_COLOUR, tray_icon
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.cells import ITEM_ROLE
from portwatch.ui.tables.listeners import ListenerColumn
from portwatch.ui.tables.rows import RowState
from portwatch.ui.tray import TrayIcon, menu_apps, menu_label, tooltip_text
from tests.support.factories import listener, snapshot
from tests.support.procs import ListenerProcess, connect_clients

SPECS = ["tcp:127.0.0.1:0", "tcp:0.0.0.0:0", "tcp:::1:0", "udp:127.0.0.1:0"]


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def select_port(window: MainWindow, port: int) -> Listener:
    proxy = window.listener_proxy
    for row in range(proxy.rowCount()):
        index = proxy.index(row, ListenerColumn.PORT)
        if index.data() == str(port):
            window.listener_view.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            item: Listener = index.data(ITEM_ROLE)
            return item
    raise AssertionError(f"port {port} is not in the table")


def test_details_pane_shows_a_real_process_and_its_connections(
    qtbot: QtBot, window: MainWindow
) -> None:
    with ListenerProcess(SPECS) as child:
        port = child.ports[0]
        clients = connect_clients("127.0.0.1", port, 3)
        try:
            scanner = Scanner(connection_owners=True)
            snap = scanner.scan()
            window.apply_snapshot(snap)
            chosen = select_port(window, port)
            assert chosen.pid == child.pid
            details = window.details
            assert details.listener == chosen
            assert "listener_child.py" in details.field_text("Command line")
            assert details.field_text("Executable").endswith(Path(chosen.exe or "python").name)
            assert details.field_text("Working directory") == str(Path.cwd())
            assert details.field_text("User") == chosen.user
            assert "ago" in details.field_text("Started")
            rows = details.connection_rows()
            assert len(rows) == 3
            client_ports = sorted(str(c.getsockname()[1]) for c in clients)
            assert sorted(port_text for _a, port_text, _s in rows) == client_ports
            assert {state for _a, _p, state in rows} == {"ESTABLISHED"}
            assert "3 established" in details.field_text("Connections")
        finally:
            for client in clients:
                client.close()
        # The next scan shows the connections closed, keeping the selection.
        qtbot.waitUntil(
            lambda: not connections_of(chosen, scanner.scan().connections), timeout=5000
        )
        window.apply_snapshot(scanner.scan())
        assert window.details.listener is not None
        assert window.details.listener.key == chosen.key
        assert window.details.connection_rows() == []
    # Nothing selected: a hint instead of fields.
    window.listener_view.clearSelection()
    assert window.details.listener is None
    assert window.details.placeholder.isVisibleTo(window)


def test_owners_filling_in_at_start_are_not_shown_as_gone_and_new_rows(
    window: MainWindow,
) -> None:
    model = window.listener_model
    pending = listener(
        5432, "127.0.0.1", pid=None, process=None, owner_unknown=OwnerUnknown.PENDING
    )
    ssh = listener(22, "0.0.0.0", pid=7)
    window.apply_snapshot(replace(snapshot([pending, ssh]), pending_owners=1, warming_up=True))
    assert model.rowCount() == 2
    # The scan that completes the owners: the pending row is replaced, quietly.
    owned = listener(5432, "127.0.0.1", pid=900, process="postgres")
    window.apply_snapshot(snapshot([owned, ssh]))
    assert sorted(item.key for item in model.items()) == sorted([owned.key, ssh.key])
    assert {model.state_at(row) for row in range(model.rowCount())} == {RowState.CURRENT}
    # From then on a change is news again.
    window.apply_snapshot(snapshot([owned]))
    gone = model.row_of(ssh.key)
    assert gone is not None
    assert model.state_at(gone) is RowState.GONE


def test_details_of_an_unreadable_owner(window: MainWindow) -> None:
    hidden = listener(25, "0.0.0.0", pid=None, process=None, cmdline=None, exe=None, user=None)
    window.apply_snapshot(snapshot([hidden]))
    select_port(window, 25)
    assert window.details.field_text("Process").startswith("owner unknown")
    assert window.details.field_text("Working directory") == "unknown"
    mine = listener(26, "127.0.0.1", pid=1, cmdline=None, exe=None)
    window.apply_snapshot(snapshot([hidden, mine]))
    select_port(window, 26)
    assert window.details.field_text("Command line") == UNREADABLE


def test_search_box_is_debounced_and_show_port_applies_at_once(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.apply_snapshot(snapshot([listener(5432, "127.0.0.1"), listener(8080, "127.0.0.1")]))
    qtbot.keyClicks(window.search, "postgres")
    # Typing alone does not filter yet...
    assert window.listener_proxy.rowCount() == 2
    # ...the debounce timer does, once.
    qtbot.waitUntil(lambda: window.listener_proxy.rowCount() == 1, timeout=2000)
    assert window.listener_proxy.index(0, ListenerColumn.PORT).data() == "5432"
    window.hide()
    window.show_port(8080)
    assert window.isVisible()
    assert window.search.text() == "8080"
    assert window.listener_proxy.rowCount() == 1
    assert window.listener_proxy.index(0, ListenerColumn.PORT).data() == "8080"


def test_status_bar_counts_and_privilege_hint(window: MainWindow) -> None:
    snap = snapshot([listener(80, "0.0.0.0"), listener(5432, "127.0.0.1")])
    from dataclasses import replace

    snap = replace(snap, hint="3 owners hidden: run as root to see them", hidden_owners=3)
    window.apply_snapshot(snap)
    assert window.counts_label.text() == "2 ports in use · 1 public"
    assert "3 owners hidden" in window.hint_label.text()
    assert window.scan_label.text().startswith("Last scan ")


@pytest.mark.usefixtures("qtbot")
def test_context_menu_extension_point(window: MainWindow) -> None:
    window.apply_snapshot(snapshot([listener(5432, "127.0.0.1")]))
    select_port(window, 5432)
    seen: list[tuple[list[str], list[Listener]]] = []

    def extend(menu: QMenu, listeners: list[Listener]) -> None:
        menu.addAction("Free this port")
        seen.append(([a.text() for a in menu.actions()], listeners))
        QTimer.singleShot(0, menu.close)

    window.context_menu_requested.connect(extend)
    rect = window.listener_view.visualRect(window.listener_proxy.index(0, 0))
    window.listener_view.customContextMenuRequested.emit(rect.center())  # a right click
    assert seen
    texts, listeners = seen[0]
    assert texts == ["Free this port"]
    assert [x.port for x in listeners] == [5432]
    assert [x.port for x in window.selected_listeners()] == [5432]


def test_add_tab_extension_point(window: MainWindow) -> None:
    from PySide6.QtWidgets import QLabel

    index = window.add_tab(QLabel("alerts"), "Alerts")
    assert window.tabs.tabText(index) == "Alerts"


def test_window_state_is_remembered(qtbot: QtBot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 450)
    first.listener_view.setColumnWidth(ListenerColumn.SERVICE, 233)
    first.listener_view.sortByColumn(ListenerColumn.PID, Qt.SortOrder.DescendingOrder)
    first.only_public_action.setChecked(True)
    first.hide_on_close = False
    first.close()
    assert (state_dir() / "window.ini").is_file()

    second = MainWindow()
    qtbot.addWidget(second)
    header = second.listener_view.horizontalHeader()
    assert header.sectionSize(ListenerColumn.SERVICE) == 233
    assert header.sortIndicatorSection() == ListenerColumn.PID
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert second.listener_proxy.sortColumn() == ListenerColumn.PID
    assert second.only_public_action.isChecked()
    assert second.listener_proxy.only_public
    assert (second.width(), second.height()) == (700, 450)


def test_closing_hides_when_a_tray_exists(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.assertNotEmitted(window.closed):
        window.close()
    assert not window.isVisible()


def test_no_tray_fallback_opens_the_window_with_a_dismissable_bar(qtbot: QtBot) -> None:
    # offscreen has no system tray: the app must notice on its own
    app = PortwatchApp(interval=5)
    qtbot.addWidget(app.window)
    try:
        assert app.tray is None
        assert app.window.isVisible()
        assert app.window.notice.isVisible()
        assert "No system tray" in app.window.notice.label.text()
        assert "AppIndicator" in app.window.notice.label.text()
        assert not app.window.hide_on_close
        app.window.notice.close_button.click()
        assert not app.window.notice.isVisible()
        assert app.window.isVisible()  # still fully usable
        with qtbot.waitSignal(app.snapshot_ready, timeout=10_000):
            app.start()
        assert app.latest is not None
        assert app.window.listener_model.rowCount() == len(app.latest.listeners)
    finally:
        app.shutdown()


# Offscreen has no tray; showing one anyway makes Qt warn about its missing screen hook.
@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_settings_requests_reach_a_connected_handler(qtbot: QtBot) -> None:
    app = PortwatchApp(interval=5, tray_available=True)
    qtbot.addWidget(app.window)
    try:
        assert app.tray is not None
        with qtbot.waitSignal(app.settings_requested, timeout=1000):
            app.tray.settings_requested.emit()
        with qtbot.waitSignal(app.settings_requested, timeout=1000):
            app.window.settings_action.trigger()
        app.tray.port_requested.emit(5432)
        assert app.window.isVisible()
        assert app.window.search.text() == "5432"
        app.set_paused(True)
        assert app.tray.paused
        assert app.window.pause_action.isChecked()
        assert app.service.paused
    finally:
        app.shutdown()


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_settings_from_the_tray_opens_the_settings_dialog(qtbot: QtBot) -> None:
    app = PortwatchApp(interval=5, tray_available=True)
    qtbot.addWidget(app.window)
    try:
        assert app.tray is not None
        app.tray.settings_requested.emit()
        dialog = app.settings_window.dialog
        assert dialog is not None
        assert dialog.isVisible()
    finally:
        app.shutdown()


def test_tray_tooltip_icon_and_menu(qtbot: QtBot) -> None:
    tray = TrayIcon()
    rows = [
        listener(5432, "127.0.0.1"),
        listener(80, "0.0.0.0"),
        listener(8080, "0.0.0.0"),
        listener(22, "192.168.1.10"),
    ]
    tray.update_snapshot(snapshot(rows))
    assert tray.state == (Exposure.PUBLIC, False)
    assert tray.tooltip() == "4 ports in use · 2 public · 1 LAN"
    tray.set_watched_busy(1)
    assert tray.icon.toolTip() == "4 ports in use · 2 public · 1 LAN · 1 watched port busy"
    tray.set_paused(True)
    assert tray.state == (Exposure.PUBLIC, True)
    assert tray.icon.toolTip().endswith("· paused")

    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    # Apps with their ports, the public ones first.
    assert texts[1:5] == [
        "⚠ proc80 — 80",
        "⚠ proc8080 — 8080",
        "proc22 — 22",
        "proc5432 — 5432",
    ]
    assert "Open portwatch" in texts
    assert "Resume monitoring" in texts
    assert "Settings…" in texts
    assert "Quit portwatch" in texts
    # an app entry opens the window on its port
    entry = next(a for a in tray.menu.actions() if a.text().startswith("proc5432"))
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 5432):
        entry.trigger()
    pause = next(a for a in tray.menu.actions() if a.text() == "Resume monitoring")
    with qtbot.waitSignal(tray.pause_toggled, check_params_cb=lambda p: p is False):
        pause.trigger()


def test_tray_listener_submenus_carry_the_actions(qtbot: QtBot) -> None:
    from portwatch.ui.listener_actions import ListenerActions

    tray = TrayIcon()
    tray.update_snapshot(snapshot([listener(5432, "127.0.0.1"), listener(80, "0.0.0.0")]))
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    actions = ListenerActions(parent, rows_provider=list)
    tray.listener_menu_hook = actions.populate_menu
    entry = next(a for a in tray.menu.actions() if a.text().startswith("proc5432"))
    sub = entry.menu()
    assert isinstance(sub, QMenu)  # not None; the stubs say QObject
    texts = [a.text() for a in sub.actions() if not a.isSeparator()]
    assert texts[0] == "Show in portwatch"
    assert any(t.startswith("Free port") for t in texts)
    assert any(t.startswith("Open in browser") for t in texts)
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 5432):
        sub.actions()[0].trigger()


def test_tooltip_and_labels() -> None:
    assert tooltip_text(None, paused=False, watched_busy=0) == "portwatch: starting…"
    rows = [listener(5000 + n, "127.0.0.1") for n in range(14)]
    assert tooltip_text(snapshot(rows), paused=False, watched_busy=2) == (
        "14 ports in use · 2 watched ports busy"
    )
    (app,), _more = menu_apps(snapshot([listener(53, "::", proto="udp")]))
    assert menu_label(app) == "⚠ proc53 — 53 (udp)"


def _centre_colour(exposure: Exposure | None, paused: bool) -> QColor:
    image = tray_icon(exposure, paused, False).pixmap(64, 64).toImage()
    return image.pixelColor(4, 32)  # on the badge, off the socket glyph


@pytest.mark.parametrize("exposure", list(Exposure))
def test_tray_icon_colour_follows_exposure(exposure: Exposure) -> None:
    colour = _centre_colour(exposure, False)
    expected = QColor(EXPOSURE_COLOURS[exposure])
    assert abs(colour.red() - expected.red()) < 12
    assert abs(colour.green() - expected.green()) < 12


def test_paused_icon_is_grey_with_a_mark_and_template_is_a_mask() -> None:
    colour = _centre_colour(Exposure.PUBLIC, True)
    assert abs(colour.red() - QColor(PAUSED_COLOUR).red()) < 12
    running = tray_icon(Exposure.PUBLIC, False, False).pixmap(64, 64).toImage()
    paused = tray_icon(Exposure.PUBLIC, True, False).pixmap(64, 64).toImage()
    assert running.pixelColor(48, 48) != paused.pixelColor(48, 48)
    mask = tray_icon(Exposure.PUBLIC, False, True).pixmap(64, 64).toImage()
    opaque = [mask.pixelColor(x, 32) for x in range(64) if mask.pixelColor(x, 32).alpha() > 200]
    assert opaque
    assert all(c.red() == c.green() == c.blue() == 0 for c in opaque)
    # the white socket is a cut-out, so the glyph survives as a mask
    assert mask.pixelColor(32, 44).alpha() < 40
    assert mask.pixelColor(4, 32).alpha() > 200


def test_window_settings_file_location() -> None:
    from portwatch.ui.main_window import window_settings

    assert Path(window_settings().fileName()) == state_dir() / "window.ini"


def test_enter_opens_the_details_and_escape_comes_back(qtbot: QtBot, window: MainWindow) -> None:
    server = listener(5173, "127.0.0.1", cmdline=("node", "vite", "--port", "5173"))
    window.apply_snapshot(snapshot([listener(22, "127.0.0.1"), server]))
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    table = window.listener_view
    # Nothing selected: Enter does nothing.
    table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is table, timeout=2000)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is table
    # The details pane was dragged nearly shut; Enter opens it again.
    total = sum(window.splitter.sizes())
    window.splitter.setSizes([total - 20, 20])
    select_port(window, 5173)
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Return)
    command_line = window.details.fields["Command line"]
    assert QApplication.focusWidget() is command_line
    assert command_line.selectedText() == "node vite --port 5173"
    assert window.splitter.sizes()[1] >= total // 3
    qtbot.keyClick(command_line, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is table
    # A double click opens the same details.
    table.setFocus()
    index = window.listener_proxy.index(table.currentIndex().row(), 0)
    table.doubleClicked.emit(index)
    assert QApplication.focusWidget() is command_line
