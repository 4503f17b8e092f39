"""`portwatch --self-test`: prove an install can start, without a display or a tray.

It loads what the tray app loads (Qt's modules, a QApplication, the icon from
the resources folder, the UI package) and runs one scan, then prints one line
and exits: 0 when all worked, 1 with the reason when something did not.
"""

from __future__ import annotations

import os
import sys
import time

from portwatch import __version__


class SelfTestError(Exception):
    """One step of the self-test failed; the message names the step."""


def run_self_test() -> int:
    started = time.perf_counter()
    try:
        summary = _checks()
    except SelfTestError as exc:
        print(f"portwatch {__version__} self-test FAILED: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    total_ms = (time.perf_counter() - started) * 1000
    print(f"portwatch {__version__} self-test ok: {summary}, {total_ms:.0f} ms total")  # noqa: T201
    return 0


def _checks() -> str:
    if _needs_offscreen():
        # Without a display Qt's xcb plugin aborts the process; a smoke test must not.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        from PySide6 import QtNetwork, QtSvg  # noqa: F401  (the app needs them: fail here, not later)
        from PySide6.QtCore import qVersion
        from PySide6.QtGui import QIcon
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise SelfTestError(f"Qt cannot load: {exc}") from exc

    app = QApplication.instance() or QApplication([sys.argv[0] or "portwatch"])
    platform = QApplication.platformName()

    from portwatch.core.paths import resource_path

    try:
        svg = resource_path("portwatch.svg")
    except FileNotFoundError as exc:
        raise SelfTestError(str(exc)) from exc
    if not svg.is_file():
        raise SelfTestError(f"the app icon {svg} is missing")
    if not QtSvg.QSvgRenderer(str(svg)).isValid():
        raise SelfTestError(f"the app icon {svg} is not a readable SVG")
    if QIcon(str(svg)).pixmap(32, 32).isNull():
        raise SelfTestError(f"the app icon {svg} renders empty")

    try:
        import portwatch.ui.app  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError as exc:
        raise SelfTestError(f"the tray app cannot load: {exc}") from exc

    from portwatch.core.model import Exposure
    from portwatch.core.scanner import Scanner

    try:
        snapshot = Scanner(connection_owners=False).scan()
    except Exception as exc:  # any failure of the scan is the result to report
        raise SelfTestError(f"the scan failed: {type(exc).__name__}: {exc}") from exc
    del app
    return (
        f"{len(snapshot.listeners)} listener{'' if len(snapshot.listeners) == 1 else 's'}, "
        f"{snapshot.count(Exposure.PUBLIC)} public, "
        f"scan {snapshot.duration * 1000:.0f} ms, Qt {qVersion()} ({platform}), resources ok"
    )


def _needs_offscreen() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
