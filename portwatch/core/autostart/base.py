"""What every start-at-login backend shares: the interface, the launch command, the file writes."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from portwatch.core.files import write_atomic
from portwatch.core.paths import APP_NAME


class AutostartError(Exception):
    """Start at login could not be read or changed; the message says why and where."""


class AutostartManager(Protocol):
    def is_enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def location(self) -> str:
        """Where the entry lives, for a person to read (a path or a registry key)."""
        ...


@dataclass(frozen=True, slots=True)
class LaunchCommand:
    """How the login session should start the tray app."""

    argv: tuple[str, ...]
    # Set only when portwatch runs from a source checkout that is not installed:
    # ``python -m portwatch`` then needs the checkout as its working folder.
    cwd: str | None = None


def launch_command() -> LaunchCommand:
    """The command that starts this very install of portwatch."""
    if getattr(sys, "frozen", False):
        # A PyInstaller bundle: the executable is the app.
        return LaunchCommand((str(Path(sys.executable).resolve()),))
    entry_point = shutil.which(APP_NAME)
    if entry_point:
        return LaunchCommand((str(Path(entry_point).absolute()),))
    # From a source checkout, ``python -m portwatch`` needs the checkout as its
    # working folder; an installed package is importable from anywhere.
    package_parent = Path(__file__).resolve().parents[3]
    checkout = (package_parent / "pyproject.toml").is_file()
    return LaunchCommand(
        (sys.executable, "-m", APP_NAME), str(package_parent) if checkout else None
    )


def write_entry(path: Path, data: bytes) -> None:
    """Write the entry atomically and durably (:func:`files.write_atomic`), mode 0600.

    0600 suits every system: the XDG session, launchd's per-user agents and
    the user's own tools read it as its owner, and launchd refuses a plist
    that others can write, which 0600 never is.
    """
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {exc.strerror or exc}") from exc


def remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise AutostartError(f"cannot remove {path}: {exc.strerror or exc}") from exc
