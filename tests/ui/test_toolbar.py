"""The main window's toolbar, on a real offscreen window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from portwatch.ui.app import PortwatchApp
from portwatch.ui.main_window import MainWindow
from tests.support.factories import listener, snapshot


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def _laid_out() -> None:
    # A button's new text asks its toolbar for a new layout, in a posted event.
    QApplication.processEvents()


def _pause_and_settings(window: MainWindow) -> tuple[QWidget, QWidget]:
    pause = window.toolbar.widgetForAction(window.pause_action)
    settings = window.toolbar.widgetForAction(window.settings_action)
    assert isinstance(pause, QWidget)
    assert isinstance(settings, QWidget)
    return pause, settings


def _toggle_and_check_width(window: MainWindow) -> int:
    """Pause, resume, pause: the button's width and the next button's place stay."""
    pause, settings = _pause_and_settings(window)
    _laid_out()
    width, settings_at = pause.width(), settings.x()
    for paused, text in ((True, "Resume"), (False, "Pause"), (True, "Resume"), (False, "Pause")):
        window.set_paused(paused)
        _laid_out()
        assert window.pause_action.text() == text
        assert pause.width() == width
        assert settings.x() == settings_at
    return width


def test_pause_is_as_wide_as_resume_so_no_button_moves(window: MainWindow) -> None:
    _toggle_and_check_width(window)


def test_a_larger_font_measures_the_pause_button_again(window: MainWindow) -> None:
    width = _toggle_and_check_width(window)
    font = window.toolbar.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    window.toolbar.setFont(font)
    assert _toggle_and_check_width(window) > width


# --- each control on the tabs it works on ---------------------------------------------


@pytest.fixture
def app(qtbot: QtBot) -> Iterator[PortwatchApp]:
    """The whole window as the app builds it, every tab in it (not scanning)."""
    built = PortwatchApp(interval=5)
    qtbot.addWidget(built.window)
    yield built
    built.shutdown()


def _listener_controls(app: PortwatchApp) -> dict[str, QAction]:
    window, actions = app.window, app.listener_actions
    return {
        "TCP": window.tcp_action,
        "UDP": window.udp_action,
        "Hide loopback-only": window.hide_loopback_action,
        "Only public": window.only_public_action,
        "Group by app": window.group_action,
        "Free port…": actions.free_action,
        "Open in browser": actions.open_action,
        "Export…": actions.export_action,
    }


def _show_tab(app: PortwatchApp, title: str) -> None:
    tabs = app.window.tabs
    (index,) = [i for i in range(tabs.count()) if tabs.tabText(i) == title]
    tabs.setCurrentIndex(index)


def test_each_control_works_on_the_tab_shown_or_is_greyed_naming_its_tab(
    app: PortwatchApp,
) -> None:
    window = app.window
    tabs = window.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles == ["Listeners", "Connections", "Is port free?", "Alerts", "History"]
    window.apply_snapshot(snapshot([listener(8080, "0.0.0.0"), listener(5432, "127.0.0.1")]))
    app.listener_actions.set_selection([listener(8080, "0.0.0.0")])  # Free and Open apply
    controls = _listener_controls(app)
    assert all(action.isEnabled() for action in controls.values())
    tooltips = {name: action.toolTip() for name, action in controls.items()}

    for title in titles[1:]:
        _show_tab(app, title)
        for name, action in controls.items():
            assert not action.isEnabled(), (title, name)
            assert action.toolTip() == f"{tooltips[name]} (works only on the Listeners tab)"
        # The search box searches the connections too; nothing else.
        searches = title == "Connections"
        assert window.search.isEnabled() is searches, title
        if not searches:
            assert window.search.toolTip() == "Works only on the Listeners and Connections tabs"
        # Pause and Settings work wherever the window is.
        assert window.pause_action.isEnabled()
        assert window.settings_action.isEnabled()

    _show_tab(app, "Listeners")
    assert all(action.isEnabled() for action in controls.values())
    assert {name: action.toolTip() for name, action in controls.items()} == tooltips
    assert window.search.isEnabled()
    assert window.search.toolTip() == ""


def test_a_greyed_toggle_filters_nothing_and_the_search_works_on_connections(
    app: PortwatchApp,
) -> None:
    window = app.window
    window.apply_snapshot(snapshot([listener(8080, "0.0.0.0"), listener(5432, "127.0.0.1")]))
    _show_tab(app, "Connections")
    window.only_public_action.trigger()  # greyed: nothing happens
    assert not window.only_public_action.isChecked()
    assert window.listener_proxy.rowCount() == 2
    window.toolbar.set_search_now("5432")
    assert window.connection_proxy.search == "5432"

    _show_tab(app, "Listeners")
    window.toolbar.set_search_now("")
    window.only_public_action.trigger()
    assert window.only_public_action.isChecked()
    assert window.listener_proxy.rowCount() == 1  # only 0.0.0.0:8080 is public
    _show_tab(app, "Alerts")
    assert window.only_public_action.isChecked()  # greyed, its filter kept
    assert window.listener_proxy.rowCount() == 1


def test_a_selection_on_another_tab_leaves_the_listener_actions_greyed(
    app: PortwatchApp,
) -> None:
    actions = app.listener_actions
    _show_tab(app, "History")
    actions.set_selection([listener(8080, "0.0.0.0")])
    assert not actions.free_action.isEnabled()
    _show_tab(app, "Listeners")
    assert actions.free_action.isEnabled()  # the selection's own answer, kept
    actions.set_selection([])
    _show_tab(app, "Connections")
    _show_tab(app, "Listeners")
    assert not actions.free_action.isEnabled()  # nothing selected: still greyed
