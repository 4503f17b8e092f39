"""Where portwatch keeps its files: one place, built on platformdirs.

Every path is computed when asked (not at import), so tests that point the
XDG variables at a temporary folder are honoured.

Every folder handed out here is private (0700, :func:`files.private_dir`).
The first time in a run that a folder is asked for, what an older portwatch
left in it is tightened too (folders 0700, files 0600): the log, the window
state, the history, the settings and their backups.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

from platformdirs import PlatformDirs

from portwatch.core.files import DIR_MODE, owned_private_dir, private_dir, tighten_tree

APP_NAME = "portwatch"
APP_AUTHOR = "portwatch"
# Reverse-DNS id: macOS bundle id, Windows AppUserModelID, Linux desktop file and D-Bus name.
APP_ID = "io.github.portwatch.Portwatch"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, APP_AUTHOR, ensure_exists=False)


# Folders whose contents this run has already tightened (once per run and path).
_secured: set[Path] = set()
# sun_path holds 104 (macOS) to 108 (Linux) bytes including the NUL; stay below both.
MAX_SOCKET_PATH = 100
SOCKET_NAME = "instance.sock"


def _ensure(path: Path) -> Path:
    private_dir(path)
    if path not in _secured:
        tighten_tree(path)
        _secured.add(path)
    return path


def secure_existing() -> None:
    """Make every portwatch folder private and tighten what is in it (start of a run).

    Also the folders this run may not use (history switched off): an older
    version's files in them are tightened all the same. Never raises: a folder
    that cannot be made is reported by whoever needs it.
    """
    for folder in (config_dir, data_dir, state_dir, log_dir):
        with contextlib.suppress(OSError):
            folder()


def config_dir() -> Path:
    return _ensure(Path(_dirs().user_config_dir))


def data_dir() -> Path:
    return _ensure(Path(_dirs().user_data_dir))


def state_dir() -> Path:
    return _ensure(Path(_dirs().user_state_dir))


def cache_dir() -> Path:
    """Files portwatch can make again (the notification icon as a PNG)."""
    return _ensure(Path(_dirs().user_cache_dir))


def log_dir() -> Path:
    return _ensure(Path(_dirs().user_log_dir))


def runtime_dir() -> Path:
    """The private folder of this user's single-instance socket (POSIX).

    ``$XDG_RUNTIME_DIR/portwatch`` when XDG_RUNTIME_DIR is a folder of ours
    that only we can enter (what a login session provides), else
    ``<temp folder>/portwatch-<uid>`` (sudo, cron, macOS). Either is verified
    (:func:`files.owned_private_dir`): a path another user made first, or a
    symbolic link, raises :class:`files.UnsafeFolderError` instead of being
    used; another OSError when it cannot be made. On Windows the instance
    uses a named pipe, not a folder.
    """
    if sys.platform == "win32":
        return _ensure(Path(_dirs().user_runtime_dir))
    candidates = _runtime_candidates()
    fallback = candidates[-1]
    for candidate in candidates:
        if len(os.fsencode(candidate / SOCKET_NAME)) < MAX_SOCKET_PATH:
            _remove_stale_socket(candidate)
            return owned_private_dir(candidate)
    raise OSError(errno.ENAMETOOLONG, "its path is too long for a local socket", str(fallback))


def _runtime_candidates() -> list[Path]:
    if sys.platform == "win32":
        return []
    fallback = Path(tempfile.gettempdir()) / f"portwatch-{os.geteuid()}"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute():
        try:
            info = os.lstat(runtime)
        except OSError:
            return [fallback]
        ours = info.st_uid == os.geteuid() and stat.S_ISDIR(info.st_mode)
        if ours and stat.S_IMODE(info.st_mode) & ~DIR_MODE == 0:
            return [Path(runtime) / APP_NAME, fallback]
    return [fallback]


def _remove_stale_socket(path: Path) -> None:
    """Older portwatch versions put a socket file of ours where the folder goes now."""
    if sys.platform == "win32":
        return
    try:
        info = path.lstat()
    except OSError:
        return
    if stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid():
        path.unlink(missing_ok=True)


def settings_file() -> Path:
    return config_dir() / "settings.json"


def history_db() -> Path:
    return data_dir() / "history.sqlite3"


RESOURCES_PACKAGE = "portwatch._resources"


def resources_dir() -> Path:
    """The folder holding icons and desktop files, wherever portwatch runs from.

    The repository's ``resources/`` is the package ``portwatch._resources`` in
    every install (venv, ``--user``, system, editable, the PyInstaller bundles),
    found through ``importlib.resources``. Only a checkout run without any
    install (``python -m portwatch`` in the repository) reads the folder itself.
    """
    import importlib.resources

    try:
        found = importlib.resources.files(RESOURCES_PACKAGE)
    except ModuleNotFoundError:
        found = None
    candidates = [
        Path(str(found)) if found is not None else None,
        Path(__file__).resolve().parent.parent.parent / "resources",
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "portwatch.svg").is_file():
            return candidate
    raise FileNotFoundError("portwatch's resources folder is missing from this install")


def resource_path(name: str) -> Path:
    return resources_dir() / name


def xdg_data_dirs() -> list[Path]:
    """``$XDG_DATA_HOME`` and ``$XDG_DATA_DIRS`` with their defaults (Base Directory spec)."""
    home = os.environ.get("XDG_DATA_HOME", "")
    dirs = os.environ.get("XDG_DATA_DIRS", "") or "/usr/local/share:/usr/share"
    found = [Path(home) if home else Path.home() / ".local" / "share"]
    found += (Path(d) for d in dirs.split(":") if d)
    return [d for d in found if d.is_absolute()]


def installed_icons() -> list[Path]:
    """The app's icon files in the hicolor theme of the data folders, as the .deb
    and the .rpm install them (``hicolor/48x48/apps/<APP_ID>.png``, …; the
    PNGs are rendered at packaging time). A pip install puts none there."""
    return [
        icon
        for data in xdg_data_dirs()
        for icon in sorted((data / "icons" / "hicolor").glob(f"*/apps/{APP_ID}.*"))
    ]
