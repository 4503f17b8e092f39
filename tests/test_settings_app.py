"""The tray app and its settings file: unreadable, newer, and edited while the dialog is open.

A real PortwatchApp (offscreen) with its settings store, a real file and a
real `portwatch watch-port add` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from portwatch.core import paths
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import Settings, WatchedPort, load_settings, save_settings
from portwatch.ui.app import PortwatchApp
from tests.ui.composed import built_apps, settle

ROOT = Path(__file__).resolve().parent.parent

# The offscreen platform warns that it cannot raise windows: the platform, not our code.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[[], PortwatchApp]]:
    """The app, built when the test has put the settings file in place (it reads it then)."""
    with built_apps(qtbot, interval=5, notifier_factory=None) as make:
        yield make


def notices(app: PortwatchApp) -> list[tuple[str, str]]:
    settle(app)
    return [(a.title, a.body) for a in app.alerts_view.model.alerts()]


def test_an_unreadable_file_gives_defaults_and_a_notice_and_is_never_written(
    make_app: Callable[[], PortwatchApp],
) -> None:
    path = paths.settings_file()
    path.mkdir()
    (path / "keep").write_text("mine")
    app = make_app()
    assert app.settings.settings == Settings()
    told = dict(notices(app))
    assert told["Settings could not be read"] == (
        f"Cannot read the settings file {path}: it is a folder, not a file. "
        "portwatch uses its default settings for now and leaves the file as it is."
    )
    app.pipeline.save_settings(Settings(scan_interval=9.0))
    told = dict(notices(app))
    assert told["Settings could not be saved"].startswith(
        f"cannot read the settings file {path}: it is a folder"
    )
    assert told["Settings could not be saved"].endswith("Nothing was changed.")
    assert sorted(p.name for p in path.iterdir()) == ["keep"]
    assert (path / "keep").read_text() == "mine"


def test_a_newer_file_is_told_once_and_kept(make_app: Callable[[], PortwatchApp]) -> None:
    path = paths.settings_file()
    path.write_text(json.dumps({"schema_version": 3, "later": [1, 2], "watched_ports": ["80"]}))
    app = make_app()
    titles = [title for title, _ in notices(app)]
    assert titles.count("Settings from a newer portwatch") == 1
    app.pipeline.save_settings(Settings(scan_interval=9.0, watched_ports=()))
    settle(app)
    data = json.loads(path.read_text())
    assert (data["schema_version"], data["later"], data["scan_interval"]) == (3, [1, 2], 9.0)
    app.pipeline.check_settings()
    settle(app)
    mtime = path.stat().st_mtime_ns
    path.write_text(path.read_text().replace('"scan_interval": 9.0', '"scan_interval": 8.0'))
    # File times are coarse: make the edit visible as a change whatever the clock did.
    os.utime(path, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    app.pipeline.check_settings()
    settle(app)
    assert app.settings.settings.scan_interval == 8.0
    titles = [title for title, _ in notices(app)]
    assert titles.count("Settings from a newer portwatch") == 1


def test_the_dialog_save_keeps_a_command_line_add_made_while_it_was_open(
    qtbot: QtBot, make_app: Callable[[], PortwatchApp]
) -> None:
    save_settings(Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),)))
    app = make_app()
    dialog = app.settings_window.open()
    added = subprocess.run(
        [sys.executable, "-m", "portwatch", "watch-port", "add", "4000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert (added.returncode, added.stdout) == (0, "watching 4000\n")
    dialog.interval.setValue(4)
    with qtbot.waitSignal(app.settings.changed):
        dialog.accept()
    saved = load_settings().settings
    assert [str(w.ports) for w in saved.watched_ports] == ["3000", "4000"]
    assert saved.scan_interval == 4.0
    assert app.settings.settings == saved


def test_a_file_that_becomes_unreadable_keeps_the_settings_in_use(
    make_app: Callable[[], PortwatchApp],
) -> None:
    path = paths.settings_file()
    watching = Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),))
    save_settings(watching, path)
    app = make_app()
    assert app.settings.settings.watched_ports == watching.watched_ports
    path.unlink()
    path.mkdir()  # now a folder: it cannot be read
    app.pipeline.check_settings()
    settle(app)
    assert app.settings.settings.watched_ports == watching.watched_ports
    assert "Settings could not be read" in dict(notices(app))
    assert path.is_dir()
    assert not any(path.iterdir())  # never written
