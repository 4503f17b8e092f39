"""The tray menu is complete before it opens and is kept up to date in place (issue 15);
what an action started from it says reaches the user with the window closed.

A StatusNotifierItem host draws the layout it fetched over D-Bus before the
click (tests/e2e/test_e2e_tray.py reads it there): opening must change nothing,
and a scan changes only the entries of the apps that changed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot

from portwatch.core.alerts.alert import AlertKind
from portwatch.core.model import Snapshot
from portwatch.core.naming import Labels
from portwatch.core.scanner import Scanner
from portwatch.ui.app import PortwatchApp, action_notice
from portwatch.ui.listener_actions import ListenerActions
from portwatch.ui.tray import MENU_APPS, TrayIcon
from tests.support.factories import listener, snapshot
from tests.support.procs import ListenerProcess, wait_until
from tests.ui.composed import built_apps, feed

FIXED = ["Open portwatch", "Pause monitoring", "Settings…", "Quit portwatch"]
# Made once: a listener is the same row in the next scan (the factory stamps each
# with the time it was made as its process's start).
POSTGRES = listener(5432)
NODE = listener(3000)
PUBLIC_80 = listener(80, "0.0.0.0")
PUBLIC_8080 = listener(8080, "0.0.0.0")


def items(tray: TrayIcon) -> list[str]:
    """Every item, separators as '-'."""
    return ["-" if a.isSeparator() else a.text() for a in tray.menu.actions()]


def entry(tray: TrayIcon, start: str) -> QAction:
    return next(a for a in tray.menu.actions() if a.text().startswith(start))


@pytest.mark.usefixtures("qtbot")
def test_a_new_tray_has_its_whole_menu_before_it_is_shown() -> None:
    tray = TrayIcon()
    assert tray.icon.contextMenu() is tray.menu
    assert items(tray) == ["portwatch: starting…", "-", *FIXED[:3], "-", FIXED[3]]
    assert tray.menu_texts() == ["portwatch: starting…", *FIXED]


@pytest.mark.usefixtures("qtbot")
def test_a_scan_fills_the_same_menu_and_opening_it_changes_nothing() -> None:
    tray = TrayIcon()
    menu = tray.menu
    tray.update_snapshot(snapshot([POSTGRES, PUBLIC_80]))
    assert tray.menu is menu
    assert items(tray) == [
        "2 ports in use · 1 public",
        "-",
        "⚠ proc80 — 80",
        "proc5432 — 5432",
        "-",
        *FIXED[:3],
        "-",
        FIXED[3],
    ]
    before = list(menu.actions())
    changes = tray.menu_changes
    # What a host's AboutToShow does (Qt emits the QMenu's aboutToShow): nothing moves.
    menu.aboutToShow.emit()
    menu.aboutToHide.emit()
    assert menu.actions() == before
    assert tray.menu_changes == changes


@pytest.mark.usefixtures("qtbot")
def test_a_quiet_poll_leaves_the_menu_alone() -> None:
    tray = TrayIcon()
    first = snapshot([POSTGRES, NODE])
    tray.update_snapshot(first)
    actions = list(tray.menu.actions())
    changes = tray.menu_changes
    # The next scan found the same rows: the scanner hands over the same tuple.
    tray.update_snapshot(replace(first, taken_at=first.taken_at + 2))
    assert tray.menu.actions() == actions
    assert tray.menu_changes == changes


def test_only_the_apps_that_changed_are_replaced(qtbot: QtBot) -> None:
    tray = TrayIcon()
    tray.update_snapshot(snapshot([POSTGRES, NODE, PUBLIC_80]))
    postgres = entry(tray, "proc5432")
    public = entry(tray, "⚠ proc80")
    changes = tray.menu_changes

    # 3000 went, 8000 came, and 80 became local: 5432's entry is the same item.
    tray.update_snapshot(snapshot([POSTGRES, listener(8000), listener(80)]))
    assert tray.menu_changes > changes
    assert entry(tray, "proc5432") is postgres
    assert entry(tray, "proc80") is not public
    assert tray.menu_texts()[1:4] == ["proc80 — 80", "proc5432 — 5432", "proc8000 — 8000"]
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 8000):
        entry(tray, "proc8000").trigger()

    # Every app gone: the separator before them goes too.
    tray.update_snapshot(snapshot([]))
    assert items(tray) == ["0 ports in use", "-", *FIXED[:3], "-", FIXED[3]]


def test_the_more_entry_comes_and_goes_in_place(qtbot: QtBot) -> None:
    tray = TrayIcon()
    rows = [listener(4000 + n, pid=200 + n, process=f"app{n:02}") for n in range(MENU_APPS + 2)]
    tray.update_snapshot(snapshot(rows))
    texts = tray.menu_texts()
    assert texts[MENU_APPS + 1] == "2 more apps…"
    assert texts[MENU_APPS + 2 :] == FIXED
    more = entry(tray, "2 more apps…")
    tray.update_snapshot(snapshot(rows[:-1]))
    assert entry(tray, "1 more app…") is more  # the same item, its text changed
    with qtbot.waitSignal(tray.open_requested):
        more.trigger()
    tray.update_snapshot(snapshot(rows[:MENU_APPS]))
    assert not any(text.endswith(("more apps…", "more app…")) for text in items(tray))
    assert tray.menu_texts()[-4:] == FIXED


def test_pause_labels_and_counts_change_text_in_place(qtbot: QtBot) -> None:
    tray = TrayIcon()
    tray.update_snapshot(snapshot([listener(3000, pid=50, process="node")]))
    pause = entry(tray, "Pause monitoring")
    tray.set_paused(True)
    assert entry(tray, "Resume monitoring") is pause
    with qtbot.waitSignal(tray.pause_toggled, check_params_cb=lambda p: p is False):
        pause.trigger()
    tray.set_watched_busy(1)
    assert tray.menu_texts()[0] == "1 port in use · 1 watched port busy · paused"
    tray.set_labels(Labels(ports={3000: "Shop frontend"}))
    assert tray.menu_texts()[1] == "Shop frontend — 3000"


def test_the_listener_actions_fill_each_apps_submenu_before_it_opens(qtbot: QtBot) -> None:
    parent = QWidget()
    actions = ListenerActions(parent, rows_provider=list)
    tray = TrayIcon()
    tray.update_snapshot(snapshot([POSTGRES, PUBLIC_80]))
    plain = entry(tray, "proc5432")
    assert plain.menu() is None
    tray.listener_menu_hook = actions.populate_menu
    # Installing the actions makes each entry a submenu, filled now.
    postgres = entry(tray, "proc5432")
    sub = postgres.menu()
    assert isinstance(sub, QMenu)
    texts = [a.text() for a in sub.actions() if not a.isSeparator()]
    assert texts[0] == "Show in portwatch"
    assert any(t.startswith("Free port") for t in texts)
    assert "Copy" in texts
    # A scan that changes another app keeps this submenu and its items.
    inside = list(sub.actions())
    tray.update_snapshot(snapshot([POSTGRES, PUBLIC_8080]))
    assert entry(tray, "proc5432").menu() is sub
    assert sub.actions() == inside
    # Its own rows changing (a new holder) gives it a new submenu bound to them.
    tray.update_snapshot(snapshot([replace(POSTGRES, pid=77), PUBLIC_8080]))
    fresh = entry(tray, "proc5432").menu()
    assert isinstance(fresh, QMenu)
    assert fresh is not sub
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 5432):
        fresh.actions()[0].trigger()


# --- what an action started from the tray menu says ---


def _scan_of(child: ListenerProcess) -> Snapshot:
    """A real scan, narrowed to the child's sockets once their owner is known."""
    scanner = Scanner(connection_owners=False)
    found: list[Snapshot] = []

    def owned() -> bool:
        snap = scanner.scan()
        rows = tuple(r for r in snap.listeners if r.pid == child.pid)
        found[:] = [replace(snap, listeners=rows)]
        return bool(rows)

    try:
        assert wait_until(owned, timeout=10)
    finally:
        scanner.close()
    return found[0]


def _tray_copy_endpoint(app: PortwatchApp, port: int) -> QAction:
    """The tray menu's Copy → address:port for the app holding ``port``."""
    assert app.tray is not None
    entry_action = next(a for a in app.tray.menu.actions() if a.text().endswith(f" — {port}"))
    sub = entry_action.menu()
    assert isinstance(sub, QMenu)
    copy = next(a for a in sub.actions() if a.text() == "Copy").menu()
    assert isinstance(copy, QMenu)
    return next(a for a in copy.actions() if a.text() == "address:port")


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_a_tray_actions_result_is_a_notification_while_the_window_is_hidden(
    qtbot: QtBot,
) -> None:
    with (
        ListenerProcess(["tcp:127.0.0.1:0"]) as child,
        built_apps(qtbot, interval=60, notifier_factory=None) as make,
    ):
        port = child.ports[0]
        app = make(tray_available=True)
        feed(qtbot, app, _scan_of(child))
        status = app.window.statusBar()
        assert not app.window.isVisible()  # in the tray; the window is not open

        # Hidden: the result comes as a notice (an alert delivered as the settings say).
        with qtbot.waitSignal(
            app.alerts.alert_raised,
            check_params_cb=lambda alert, _how: alert.kind is AlertKind.NOTICE,
        ) as raised:
            _tray_copy_endpoint(app, port).trigger()
        alert = raised.args[0]
        assert (alert.title, alert.body) == ("Copied address:port.", "")
        assert QGuiApplication.clipboard().text() == f"127.0.0.1:{port}"
        assert status.currentMessage() == ""

        # Minimized is as unseen as hidden.
        app.window.showMinimized()
        with qtbot.waitSignal(app.alerts.alert_raised) as raised:
            _tray_copy_endpoint(app, port).trigger()
        assert raised.args[0].kind is AlertKind.NOTICE
        assert raised.args[0].title == "Copied address:port."
        assert status.currentMessage() == ""

        # On screen: the status bar says it, and no notice is raised.
        app.window.showNormal()
        app.show_window()
        assert app.window.isVisible()
        with qtbot.assertNotEmitted(app.alerts.alert_raised):
            _tray_copy_endpoint(app, port).trigger()
            QCoreApplication.processEvents()
        assert status.currentMessage() == "Copied address:port."


def test_an_action_notice_is_its_first_sentence_then_the_rest() -> None:
    assert action_notice("Copied PID.") == ("Copied PID.", "")
    assert action_notice("PID 41 ended. The table shows the result on the next scan.") == (
        "PID 41 ended.",
        "The table shows the result on the next scan.",
    )
    assert action_notice("PID 41 ended.\nPort 3000 is free now.") == (
        "PID 41 ended.",
        "Port 3000 is free now.",
    )
    assert action_notice("Could not open a browser for http://127.0.0.1:3000") == (
        "Could not open a browser for http://127.0.0.1:3000",
        "",
    )
