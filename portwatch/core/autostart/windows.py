"""Windows: a value under HKCU ``Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

The registry is reached through :class:`RunKey` so tests on any system can
use a fake. The installer's "start at login" task writes the same value.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import PureWindowsPath
from typing import Protocol

from portwatch.core.autostart.base import AutostartError, LaunchCommand

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "portwatch"


class RunKey(Protocol):
    """String values of one registry key; OSError on failure, like winreg."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None:
        """Remove ``name``; nothing happens if it is absent."""
        ...


if sys.platform == "win32":
    import winreg

    class WinregRunKey:
        """The real HKCU Run key."""

        def get(self, name: str) -> str | None:
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                    value, _kind = winreg.QueryValueEx(key, name)
            except FileNotFoundError:
                return None
            return str(value)

        def set(self, name: str, value: str) -> None:
            access = winreg.KEY_SET_VALUE
            with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:
                winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

        def delete(self, name: str) -> None:
            access = winreg.KEY_SET_VALUE
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:
                    winreg.DeleteValue(key, name)
            except FileNotFoundError:
                pass


def default_run_key() -> RunKey:
    if sys.platform == "win32":
        return WinregRunKey()
    raise AutostartError("the Windows registry exists only on Windows")


def run_value(command: LaunchCommand, exists: Callable[[str], bool] = os.path.isfile) -> str:
    """One command line, quoted the way Windows programs parse it.

    It names the windowed program, so that no console window opens at login:
    the bundle's portwatch.exe for portwatch-cli.exe, pip's portwatch-gui.exe for
    its console script portwatch.exe, pythonw.exe for python.exe.
    """
    # The Run key has no working folder; a checkout without install is out of reach here.
    argv = list(command.argv)
    program = PureWindowsPath(argv[0])
    for console, windowed in WINDOWED:
        sibling = str(program.with_name(windowed))
        if program.name.lower() == console and exists(sibling):
            argv[0] = sibling
            break
    return subprocess.list2cmdline(argv)


# (console program, its windowed sibling); the first whose sibling exists wins.
WINDOWED = (
    ("portwatch-cli.exe", "portwatch.exe"),
    ("portwatch.exe", "portwatch-gui.exe"),
    ("python.exe", "pythonw.exe"),
)


class RunKeyAutostart:
    def __init__(self, command: LaunchCommand, registry: RunKey | None = None) -> None:
        self.command = command
        self.registry: RunKey = registry or default_run_key()

    def is_enabled(self) -> bool:
        try:
            return self.registry.get(VALUE_NAME) is not None
        except OSError as exc:
            raise AutostartError(f"cannot read {self.location()}: {exc}") from exc

    def enable(self) -> None:
        try:
            self.registry.set(VALUE_NAME, run_value(self.command))
        except OSError as exc:
            raise AutostartError(f"cannot write {self.location()}: {exc}") from exc

    def disable(self) -> None:
        try:
            self.registry.delete(VALUE_NAME)
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.location()}: {exc}") from exc

    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{VALUE_NAME}"
