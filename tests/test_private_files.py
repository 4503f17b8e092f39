"""Private files: every folder portwatch makes is 0700, every file it writes 0600.

Real files and real processes: the app is started as a child with the test's
private XDG folders, the log handler rotates for real, the window state is
written by Qt's own QSettings, and a child running as ``nobody`` tries to read
what root's portwatch wrote.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from platformdirs import PlatformDirs
from PySide6.QtWidgets import QApplication

from portwatch.core import paths
from portwatch.core.export import export_listeners
from portwatch.core.files import private_file, tighten_tree
from portwatch.ui.runtime import PrivateRotatingFileHandler
from tests.support.factories import listener
from tests.support.procs import is_root
from tests.ui.app_process import ROOT, AppProcess, portwatch_command

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def can_drop_to_nobody() -> bool:
    return is_root() and shutil.which("setpriv") is not None


def run_as_nobody(
    *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``argv`` as uid/gid 65534 with no supplementary groups; output captured."""
    return subprocess.run(
        [*NOBODY, *argv],
        capture_output=True,
        text=True,
        env=env if env is not None else {"PATH": "/usr/bin:/bin"},
        cwd="/",
        timeout=60,
        check=False,
    )


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """The usual 022, so a file made without an explicit mode would be 0644."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def portwatch_roots() -> list[Path]:
    """portwatch's own folders, computed without the functions that tighten them."""
    dirs = PlatformDirs("portwatch", "portwatch", ensure_exists=False)
    roots = {
        Path(dirs.user_config_dir),
        Path(dirs.user_data_dir),
        Path(dirs.user_state_dir),
        Path(dirs.user_log_dir),
        Path(os.environ["XDG_RUNTIME_DIR"]) / "portwatch",
    }
    return sorted(root for root in roots if root.exists())


def too_open(roots: list[Path]) -> list[str]:
    """Every folder under ``roots`` that is not 0700 and every file that is not 0600."""
    bad = []
    for root in roots:
        for top, dirs, names in os.walk(root):
            folder = Path(top)
            if mode(folder) != 0o700:
                bad.append(f"{folder} {oct(mode(folder))}")
            for name in names:
                path = folder / name
                info = path.lstat()
                if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) != 0o600:
                    bad.append(f"{path} {oct(stat.S_IMODE(info.st_mode))}")
                elif stat.S_IMODE(info.st_mode) & 0o077 and not stat.S_ISLNK(info.st_mode):
                    bad.append(f"{path} {oct(stat.S_IMODE(info.st_mode))} (not a file)")
            del dirs  # os.walk descends into all of them
    return bad


def plant_old_version_files() -> list[Path]:
    """What an older portwatch left: 0755 folders and 0644 files (not settings.json)."""
    dirs = PlatformDirs("portwatch", "portwatch", ensure_exists=False)
    planted = []
    for folder, name in (
        (Path(dirs.user_log_dir), "portwatch.log"),
        (Path(dirs.user_log_dir), "portwatch.log.1"),
        (Path(dirs.user_state_dir), "window.ini"),
        (Path(dirs.user_data_dir) / "old-exports", "listeners.csv"),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        path = folder / name
        path.write_text("" if name == "window.ini" else "from an older portwatch\n")
        path.chmod(0o644)
        planted.append(path)
    Path(dirs.user_data_dir).chmod(0o755)
    Path(dirs.user_config_dir).mkdir(parents=True, exist_ok=True)
    Path(dirs.user_config_dir).chmod(0o755)
    return planted


# --- the start-up path, end to end --------------------------------------------------


@pytest.mark.usefixtures("wide_umask")
def test_after_the_app_ran_every_folder_is_0700_and_every_file_0600(tmp_path: Path) -> None:
    planted = plant_old_version_files()
    # The command line writes the settings; the app writes the log, the window state,
    # its socket and (through the alerts) the history.
    added = subprocess.run(
        portwatch_command("watch-port", "add", "4242"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    app = AppProcess("--interval=0.5", logs=tmp_path / "logs")
    try:
        app.wait_status(lambda s: s["scans"])
        assert app.signal(signal.SIGTERM) == 0
    finally:
        app.stop()
    roots = portwatch_roots()
    written = {path.name for root in roots for path in root.rglob("*") if path.is_file()}
    # Not the list that is checked (every file is), but proof the walk saw real work.
    assert {"settings.json", "window.ini", "portwatch.log"} <= written, written
    assert Path(os.environ["XDG_RUNTIME_DIR"]) / "portwatch" in roots
    assert too_open(roots) == []
    # The older files were tightened, not replaced: their contents are still there.
    assert "from an older portwatch" in planted[1].read_text()
    assert "[General]" in planted[2].read_text() or "geometry" in planted[2].read_text()


def test_folders_are_made_private_and_old_contents_tightened_when_first_asked_for(
    tmp_path: Path,
) -> None:
    planted = plant_old_version_files()
    outside = tmp_path / "someone-elses.txt"
    outside.write_text("not portwatch's")
    outside.chmod(0o644)
    link = Path(PlatformDirs("portwatch", "portwatch").user_state_dir) / "link"
    link.symlink_to(outside)

    paths.secure_existing()  # what the app and the commands reach through the folder functions

    assert too_open(portwatch_roots()) == []
    assert all(mode(path) == 0o600 for path in planted)
    # A symbolic link is not followed: its target is not portwatch's to change.
    assert mode(outside) == 0o644
    # Asked for again in the same run: made again if it vanished, still private.
    shutil.rmtree(paths.config_dir())
    assert mode(paths.config_dir()) == 0o700


def test_a_folder_of_another_user_is_left_alone(tmp_path: Path) -> None:
    """tighten_tree changes only what is ours (as root: a file chowned to nobody)."""
    if not is_root():
        pytest.skip("needs root to make a file another user owns")
    folder = tmp_path / "mixed"
    folder.mkdir()
    theirs = folder / "theirs.txt"
    theirs.write_text("x")
    theirs.chmod(0o644)
    os.chown(theirs, 65534, 65534)
    ours = folder / "ours.txt"
    ours.write_text("y")
    ours.chmod(0o644)
    tighten_tree(folder)
    assert mode(theirs) == 0o644
    assert mode(ours) == 0o600


# --- each writer --------------------------------------------------------------------


@pytest.mark.usefixtures("wide_umask")
def test_log_is_created_0600_and_rotated_files_are_tightened(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log_file = logs / "portwatch.log"
    handler = PrivateRotatingFileHandler(log_file, maxBytes=300, backupCount=3, encoding="utf-8")
    logger = logging.getLogger("test.private.log")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("first line")
        handler.flush()
        assert mode(log_file) == 0o600
        # An older version's rotated file, 0644, waiting to be shifted to .3.
        older = logs / "portwatch.log.2"
        older.write_text("old rotated log\n")
        older.chmod(0o644)
        for number in range(60):
            logger.warning("line %03d %s", number, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(logs.iterdir())
    assert [f.name for f in files] == [
        "portwatch.log",
        "portwatch.log.1",
        "portwatch.log.2",
        "portwatch.log.3",
    ]
    assert {f.name: mode(f) for f in files} == dict.fromkeys((f.name for f in files), 0o600)
    assert "line 059" in log_file.read_text()


@pytest.mark.usefixtures("wide_umask")
def test_an_existing_0644_log_is_tightened_when_opened(tmp_path: Path) -> None:
    log_file = tmp_path / "portwatch.log"
    log_file.write_text("from before\n")
    log_file.chmod(0o644)
    handler = PrivateRotatingFileHandler(log_file, maxBytes=10_000, backupCount=1)
    handler.close()
    assert mode(log_file) == 0o600
    assert log_file.read_text() == "from before\n"


@pytest.mark.usefixtures("wide_umask")
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_window_state_written_by_qsettings_is_0600(qapp: QApplication) -> None:
    from portwatch.ui.main_window import MainWindow, window_settings

    del qapp  # the window needs the application; nothing else
    ini = paths.state_dir() / "window.ini"
    window = MainWindow()
    try:
        window.save_state()
    finally:
        window.deleteLater()
    assert mode(ini) == 0o600
    assert window_settings().value("tab") is not None  # Qt really wrote it
    # An older 0644 file keeps its contents and is 0600 once Qt has been handed it.
    ini.chmod(0o644)
    settings = window_settings()
    settings.setValue("probe", "kept")
    settings.sync()
    assert mode(ini) == 0o600
    assert "probe=kept" in ini.read_text()


@pytest.mark.usefixtures("wide_umask")
def test_private_file_never_widens_and_follows_no_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("elsewhere")
    target.chmod(0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    private_file(link)
    assert mode(target) == 0o644
    fresh = private_file(tmp_path / "fresh.ini")
    assert mode(fresh) == 0o600
    assert fresh.read_bytes() == b""


@pytest.mark.usefixtures("wide_umask")
def test_export_and_its_temporary_are_0600_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    target = folder / "ports.csv"
    target.write_text("an older export\n")
    target.chmod(0o644)
    result = export_listeners([listener(3000, "127.0.0.1")], target)
    assert result.error is None, result.message()
    assert mode(target) == 0o600
    assert "127.0.0.1" in target.read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["ports.csv"]


# --- what another local user can read --------------------------------------------------


@pytest.fixture
def open_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG folders under a 0755 folder in /tmp, so only portwatch's own modes stop nobody."""
    base = Path(tempfile.mkdtemp(prefix="portwatch-private-"))
    try:
        base.chmod(0o755)
        for name, sub in (
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_CACHE_HOME", "cache"),
        ):
            (base / sub).mkdir(mode=0o755)
            (base / sub).chmod(0o755)
            monkeypatch.setenv(name, str(base / sub))
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.privileged
@pytest.mark.skipif(not can_drop_to_nobody(), reason="needs root and setpriv")
@pytest.mark.usefixtures("wide_umask")
def test_nobody_cannot_read_the_log_the_window_state_or_an_export(
    open_base: Path, tmp_path: Path
) -> None:
    app = AppProcess("--interval=0.5", logs=tmp_path / "logs")
    try:
        app.wait_status(lambda s: s["scans"])
        assert app.signal(signal.SIGTERM) == 0
    finally:
        app.stop()
    exports = open_base / "exports"
    exports.mkdir(mode=0o755)
    export = exports / "ports.csv"
    assert export_listeners([listener(3000, "127.0.0.1")], export).error is None
    secrets = [paths.log_dir() / "portwatch.log", paths.state_dir() / "window.ini", export]
    # The control: nobody reaches these folders and reads a 0644 file there, so a
    # refusal below comes from portwatch's modes, not from the test's own setup.
    control = exports / "readable.txt"
    control.write_text("anyone may read this\n")
    control.chmod(0o644)
    assert run_as_nobody("cat", str(control)).stdout == "anyone may read this\n"

    for secret in secrets:
        assert secret.stat().st_size > 0
        result = run_as_nobody("cat", str(secret))
        assert result.returncode != 0, secret
        assert result.stdout == "", secret
        assert "Permission denied" in result.stderr, result.stderr
    # Each file is 0600 on its own too: with every folder opened up, still refused.
    for folder in (paths.state_dir(), paths.log_dir()):
        folder.chmod(0o755)
    for secret in secrets:
        result = run_as_nobody("cat", str(secret))
        assert result.returncode != 0, secret
        assert "Permission denied" in result.stderr, secret
