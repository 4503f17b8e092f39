"""macOS: a LaunchAgent in ``~/Library/LaunchAgents`` with RunAtLoad.

launchd reads it at the next login. It is not loaded now (``launchctl``), which
would start a second copy of the running app.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from portwatch.core.autostart.base import AutostartError, LaunchCommand, remove, write_entry
from portwatch.core.paths import APP_ID


def agents_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def agent_plist(command: LaunchCommand) -> dict[str, Any]:
    plist: dict[str, Any] = {
        "Label": APP_ID,
        "ProgramArguments": list(command.argv),
        "RunAtLoad": True,
        # Started once per login; a user who quits it means it.
        "KeepAlive": False,
        # Tells launchd this is a UI app, not a background daemon to throttle.
        "ProcessType": "Interactive",
    }
    if command.cwd:
        plist["WorkingDirectory"] = command.cwd
    return plist


class LaunchAgentAutostart:
    def __init__(self, command: LaunchCommand, folder: Path | None = None) -> None:
        self.command = command
        self._folder = folder

    @property
    def path(self) -> Path:
        return (self._folder or agents_dir()) / f"{APP_ID}.plist"

    def is_enabled(self) -> bool:
        try:
            with self.path.open("rb") as handle:
                plist = plistlib.load(handle)
        except FileNotFoundError:
            return False
        except (OSError, plistlib.InvalidFileException, ExpatError, ValueError) as exc:
            raise AutostartError(f"cannot read {self.path}: {exc}") from exc
        return (
            isinstance(plist, dict)
            and plist.get("RunAtLoad") is True
            and plist.get("Disabled") is not True
        )

    def enable(self) -> None:
        write_entry(self.path, plistlib.dumps(agent_plist(self.command)))

    def disable(self) -> None:
        remove(self.path)

    def location(self) -> str:
        return str(self.path)
