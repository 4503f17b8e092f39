"""Platform socket sources: one module per OS, chosen once by ``select_source``."""

from __future__ import annotations

import logging
import os
import sys

from portwatch.core.platform.base import RawSocket, RawTable, SocketSource, TableReadError

log = logging.getLogger(__name__)

#: Environment variable that picks the Linux backend: "netlink" (default) or
#: "psutil" (the portable path), for comparisons and tests.
BACKEND_ENV = "PORTWATCH_BACKEND"


def select_source(platform: str = sys.platform, *, quick_start: bool = False) -> SocketSource:
    """The best socket source for this OS.

    ``quick_start``: the first scan returns at once with the owners found so
    far and the rest fill in over the next scans (a window showing a table);
    without it the first scan finds every owner (a command's one answer).
    """
    if platform.startswith("linux"):
        return _linux_source(os.environ.get(BACKEND_ENV, "").strip().lower(), quick_start)
    if platform == "darwin":
        from portwatch.core.platform.macos import MacSource

        return MacSource()
    if platform == "win32":
        from portwatch.core.platform.windows import WindowsSource

        return WindowsSource()
    # Other Unixes (the BSDs): psutil's portable table, as on Linux.
    from portwatch.core.platform.linux import LinuxPsutilSource

    return LinuxPsutilSource()


def _linux_source(choice: str, quick_start: bool) -> SocketSource:
    from portwatch.core.platform.linux import LinuxPsutilSource

    if choice == "psutil":
        return LinuxPsutilSource()
    if choice not in ("", "netlink"):
        log.warning("%s=%r is not netlink or psutil; using netlink", BACKEND_ENV, choice)
    from portwatch.core.platform.netlink.source import WALK_BUDGET, LinuxNetlinkSource
    from portwatch.core.platform.netlink.wire import NetlinkRefusedError

    try:
        if quick_start:
            return LinuxNetlinkSource(require_netlink=True, cold_walk_budget=WALK_BUDGET)
        return LinuxNetlinkSource(require_netlink=True)
    except NetlinkRefusedError as exc:
        # Not even a netlink socket: psutil's walk is the better fallback then.
        log.info("netlink sock_diag unavailable (%s); using psutil", exc)
        return LinuxPsutilSource()


__all__ = [
    "BACKEND_ENV",
    "RawSocket",
    "RawTable",
    "SocketSource",
    "TableReadError",
    "select_source",
]
