"""Start portwatch at login: one module per system behind one interface.

The operating system's own record (an XDG autostart file, a LaunchAgent, a
registry value) is the only state: ``is_enabled()`` reads it back, so a user
who removes the entry by hand is never contradicted.
"""

from __future__ import annotations

import sys

from portwatch.core.autostart.base import (
    AutostartError,
    AutostartManager,
    LaunchCommand,
    launch_command,
)

__all__ = [
    "AutostartError",
    "AutostartManager",
    "LaunchCommand",
    "autostart_manager",
    "launch_command",
]


def autostart_manager(platform: str = sys.platform) -> AutostartManager:
    """The manager for ``platform`` (a ``sys.platform`` value); each backend loads only here."""
    command = launch_command()
    if platform == "win32":
        from portwatch.core.autostart.windows import RunKeyAutostart

        return RunKeyAutostart(command)
    if platform == "darwin":
        from portwatch.core.autostart.macos import LaunchAgentAutostart

        return LaunchAgentAutostart(command)
    # Linux and the BSDs follow the XDG autostart specification.
    from portwatch.core.autostart.linux import XdgAutostart

    return XdgAutostart(command)
