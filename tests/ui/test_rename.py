"""'Rename…': the dialog, its checks, and the name saved in the settings file and shown.

A real PortwatchApp (offscreen) with its settings store and pipeline
thread; the settings file is the real one in the test's own config folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from portwatch.core import paths
from portwatch.core.naming import MAX_LABEL, Labels
from portwatch.core.settings import Settings, save_settings
from portwatch.ui.app import PortwatchApp
from portwatch.ui.listener_actions import ListenerActions
from portwatch.ui.rename_dialog import RenameDialog, RenameTarget, rename_targets
from portwatch.ui.tables.app_tree_cells import AppTreeColumn
from tests.support.factories import listener, snapshot
from tests.ui.composed import built_apps, feed, settle

nginx = partial(listener, process="nginx", pid=40, pids=(40, 41))
ROWS = [
    nginx(80, "0.0.0.0"),
    nginx(443, "0.0.0.0"),
    listener(3000, "127.0.0.1", process="node", pid=300, project="shop-frontend"),
]


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[[], PortwatchApp]]:
    with built_apps(qtbot, interval=5, notifier_factory=None, tray_available=False) as make:
        yield make


def grouped(qtbot: QtBot, app: PortwatchApp) -> None:
    app.window.group_action.setChecked(True)
    feed(qtbot, app, snapshot(ROWS))


def saved() -> dict[str, object]:
    data: dict[str, object] = json.loads(paths.settings_file().read_text())
    return data


def save(qtbot: QtBot, app: PortwatchApp, dialog: RenameDialog) -> None:
    with qtbot.waitSignal(app.settings.changed, timeout=10_000):
        dialog.save_button.click()
    settle(app)


def child_summary(app: PortwatchApp, group: str, port: int) -> str:
    model = app.window.listener_tree.tree_model
    row = model.group_row(group)
    assert row is not None
    parent = model.index(row, 0)
    for n in range(model.rowCount(parent)):
        if model.index(n, 0, parent).data() == str(port):
            return str(model.index(n, AppTreeColumn.SUMMARY, parent).data())
    raise AssertionError(f"no port {port} under {group}")


def test_renaming_a_port_writes_the_file_and_shows_in_the_tree(
    qtbot: QtBot, make_app: Callable[[], PortwatchApp]
) -> None:
    app = make_app()
    grouped(qtbot, app)
    dialog = app.renamer.open(RenameTarget(port=3000, detected="node — shop-frontend"))
    assert dialog.prompt.text() == "Name for port 3000"
    assert dialog.edit.text() == ""
    assert dialog.edit.placeholderText() == "node — shop-frontend"
    assert dialog.remove_button is None  # nothing to remove yet
    assert not dialog.save_button.isEnabled()
    assert dialog.error.isHidden()  # not a mistake before the user types
    qtbot.keyClicks(dialog.edit, "Shop  frontend ")
    assert dialog.error.isHidden()
    save(qtbot, app, dialog)
    assert saved()["port_labels"] == {"3000": "Shop frontend"}
    assert app.settings.settings.labels == Labels(ports={3000: "Shop frontend"})
    assert child_summary(app, "shop-frontend", 3000) == "Shop frontend"


def test_renaming_an_app_renames_its_group_in_place(
    qtbot: QtBot, make_app: Callable[[], PortwatchApp]
) -> None:
    app = make_app()
    grouped(qtbot, app)
    model = app.window.listener_tree.tree_model
    row = model.group_row("nginx")
    names: list[str] = []  # what group rows changed to

    def changed(top: QModelIndex, _bottom: QModelIndex, _roles: object = ()) -> None:
        if not top.parent().isValid():
            names.append(str(top.data()))

    model.dataChanged.connect(changed)
    with qtbot.assertNotEmitted(model.rowsRemoved), qtbot.assertNotEmitted(model.modelReset):
        dialog = app.renamer.open(RenameTarget(app="nginx", detected="nginx"))
        assert dialog.prompt.text() == "Name for nginx"
        dialog.edit.setText("Web server")
        save(qtbot, app, dialog)
    assert saved()["app_labels"] == {"nginx": "Web server"}
    assert model.group_row("Web server") == row
    assert names == ["Web server"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("   ", "A name needs at least one letter or digit."),
        ("x" * (MAX_LABEL + 1), f"A name may be {MAX_LABEL} characters long at most."),
        ("a\x07b", "A name may not hold control characters."),
    ],
)
def test_an_invalid_name_is_told_inline_and_not_saved(
    qtbot: QtBot, make_app: Callable[[], PortwatchApp], typed: str, message: str
) -> None:
    app = make_app()
    dialog = app.renamer.open(RenameTarget(port=3000))
    qtbot.keyClicks(dialog.edit, "ok")
    dialog.edit.selectAll()
    dialog.edit.insert(typed)  # an edit by the user (a paste): textEdited, unlike setText
    assert not dialog.error.isHidden()
    assert dialog.error.text() == message
    assert not dialog.save_button.isEnabled()
    with qtbot.assertNotEmitted(app.settings.changed, wait=200):
        dialog.accept()  # Enter in the box: refused as well
    assert dialog.isVisible()
    assert not paths.settings_file().exists()


def test_remove_name_drops_the_label(qtbot: QtBot, make_app: Callable[[], PortwatchApp]) -> None:
    save_settings(Settings(port_labels=((3000, "Shop frontend"), (80, "Web"))))
    app = make_app()
    grouped(qtbot, app)
    assert child_summary(app, "shop-frontend", 3000) == "Shop frontend"
    dialog = app.renamer.open(RenameTarget(port=3000))
    assert dialog.edit.text() == "Shop frontend"  # the current name, to edit
    assert dialog.remove_button is not None
    with qtbot.waitSignal(app.settings.changed, timeout=10_000):
        dialog.remove_button.click()
    settle(app)
    assert saved()["port_labels"] == {"80": "Web"}
    assert child_summary(app, "shop-frontend", 3000) == "node — shop-frontend"


def test_the_context_menu_offers_rename_for_the_port_and_the_app(
    make_app: Callable[[], PortwatchApp],
) -> None:
    app = make_app()
    menu = QMenu(app.window)
    app.listener_actions.populate_menu(menu, [ROWS[2]])
    by_text = {a.text(): a for a in menu.actions()}
    assert "Rename port 3000…" in by_text
    assert "Rename node…" in by_text
    by_text["Rename node…"].trigger()
    dialog = app.renamer.dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.prompt.text() == "Name for node"
    dialog.reject()
    # Without a renamer (the tests' bare actions) there is no "Rename…".
    bare = ListenerActions(app.window)
    plain = QMenu(app.window)
    bare.populate_menu(plain, [ROWS[2]])
    assert not [a for a in plain.actions() if a.text().startswith("Rename")]


def test_rename_targets_follow_what_the_rows_share() -> None:
    assert [t.what for t in rename_targets(ROWS[:1])] == ["port 80", "nginx"]
    assert [t.what for t in rename_targets(ROWS[:2])] == ["nginx"]  # two ports, one app
    assert [t.what for t in rename_targets(ROWS)] == []
    hidden = listener(5432, pid=None, user="postgres", unit="postgresql.service")
    assert [t.what for t in rename_targets([hidden])] == ["port 5432"]
    odd = listener(7000, process="a&b", pid=70)
    assert rename_targets([odd])[1].menu_text() == "Rename a&&b…"
