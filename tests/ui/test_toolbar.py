"""The main window's toolbar, on a real offscreen window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from portwatch.ui.main_window import MainWindow


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
