"""Where portwatch keeps its files: one place, built on platformdirs.

Every path is computed when asked (not at import), so tests that point the
XDG variables at a temporary folder are honoured.
"""

from __future__ import annotations

import sys
from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "portwatch"
APP_AUTHOR = "portwatch"
# Reverse-DNS id: macOS bundle id, Windows AppUserModelID, Linux desktop file and D-Bus name.
APP_ID = "io.github.portwatch.Portwatch"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, APP_AUTHOR, ensure_exists=False)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _ensure(Path(_dirs().user_config_dir))


def data_dir() -> Path:
    return _ensure(Path(_dirs().user_data_dir))


def state_dir() -> Path:
    return _ensure(Path(_dirs().user_state_dir))


def log_dir() -> Path:
    return _ensure(Path(_dirs().user_log_dir))


def settings_file() -> Path:
    return config_dir() / "settings.json"


def history_db() -> Path:
    return data_dir() / "history.sqlite3"


def resources_dir() -> Path:
    """The folder holding icons and desktop files, wherever portwatch runs from.

    A PyInstaller bundle unpacks them beside its own files; a source checkout
    or editable install has them at the top of the repository; a wheel
    install puts them under ``<prefix>/share/portwatch``.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [
        Path(bundle) / "resources" if bundle else None,
        Path(__file__).resolve().parent.parent.parent / "resources",
        Path(sys.prefix) / "share" / APP_NAME / "resources",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_dir():
            return candidate
    raise FileNotFoundError("portwatch's resources folder is missing from this install")


def resource_path(name: str) -> Path:
    return resources_dir() / name
