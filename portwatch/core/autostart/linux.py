"""Linux and other XDG desktops: a ``.desktop`` file in ``$XDG_CONFIG_HOME/autostart``.

See the XDG Autostart and Desktop Entry specifications.
"""

from __future__ import annotations

import os
from pathlib import Path

from portwatch.core.autostart.base import AutostartError, LaunchCommand, remove, write_entry
from portwatch.core.paths import APP_ID, installed_icons, resource_path

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four are escaped with a backslash.
_ESCAPED_IN_QUOTES = set('"`$\\')


def autostart_dir() -> Path:
    """``$XDG_CONFIG_HOME/autostart``; the spec says to ignore a relative value."""
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    base = (
        Path(config_home)
        if config_home and Path(config_home).is_absolute()
        else Path.home() / ".config"
    )
    return base / "autostart"


def exec_value(argv: tuple[str, ...]) -> str:
    """The Exec= value that runs ``argv`` exactly, escaped as the spec requires."""
    words = []
    for arg in argv:
        word = arg.replace("%", "%%")  # a literal % is written %%
        if any(ch in _RESERVED for ch in word) or not word:
            word = '"' + "".join("\\" + ch if ch in _ESCAPED_IN_QUOTES else ch for ch in word)
            word += '"'
        words.append(word)
    # The value itself is a "string": its backslashes are escaped once more.
    return " ".join(words).replace("\\", "\\\\")


def icon_value() -> str:
    """The Icon= value: the theme name where a package put the icon in the hicolor
    theme (the .deb, the .rpm), else the path of the icon shipped inside portwatch
    (a pip install puts none in any theme, and a name would show no icon)."""
    if installed_icons():
        return APP_ID
    try:
        icon = resource_path("portwatch.svg")
    except FileNotFoundError:
        return APP_ID
    # A "string" value: backslashes (and control characters) escaped.
    return str(icon).replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def desktop_entry(command: LaunchCommand) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=portwatch",
        "Comment=Tray port monitor, started at login",
        f"Exec={exec_value(command.argv)}",
        f"Icon={icon_value()}",
        "Terminal=false",
        "Categories=System;Network;Monitor;",
        "X-GNOME-Autostart-enabled=true",
    ]
    if command.cwd:
        lines.append(f"Path={command.cwd}")
    return "\n".join(lines) + "\n"


class XdgAutostart:
    def __init__(self, command: LaunchCommand, folder: Path | None = None) -> None:
        self.command = command
        self._folder = folder

    @property
    def path(self) -> Path:
        return (self._folder or autostart_dir()) / f"{APP_ID}.desktop"

    def is_enabled(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError) as exc:
            raise AutostartError(f"cannot read {self.path}: {exc}") from exc
        values = _entry_values(text)
        # Desktops switch an entry off without deleting it, each in its own way.
        return not (
            values.get("Hidden") == "true" or values.get("X-GNOME-Autostart-enabled") == "false"
        )

    def enable(self) -> None:
        write_entry(self.path, desktop_entry(self.command).encode("utf-8"))

    def disable(self) -> None:
        remove(self.path)

    def location(self) -> str:
        return str(self.path)


def _entry_values(text: str) -> dict[str, str]:
    """Keys of the [Desktop Entry] group (other groups such as actions are ignored)."""
    values: dict[str, str] = {}
    in_entry = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_entry = line == "[Desktop Entry]"
        elif in_entry and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
