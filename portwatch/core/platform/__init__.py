"""Platform socket sources: one module per OS, chosen once by ``select_source``."""

from __future__ import annotations

import sys

from portwatch.core.platform.base import RawSocket, RawTable, SocketSource


def select_source(platform: str = sys.platform) -> SocketSource:
    """The best socket source for this OS."""
    if platform.startswith("linux"):
        from portwatch.core.platform.linux import LinuxPsutilSource

        return LinuxPsutilSource()
    if platform == "darwin":
        from portwatch.core.platform.macos import MacSource

        return MacSource()
    if platform == "win32":
        from portwatch.core.platform.windows import WindowsSource

        return WindowsSource()
    # Other Unixes (the BSDs): psutil's portable table, as on Linux.
    from portwatch.core.platform.linux import LinuxPsutilSource

    return LinuxPsutilSource()


__all__ = ["RawSocket", "RawTable", "SocketSource", "select_source"]
