"""A person's mouse and keyboard on a test's X server (the XTEST extension), and its windows.

XTEST makes input the server treats as coming from a device: the window under
the pointer gets a real ButtonPress, as from a click. libXtst comes with
x11-utils (xwininfo, xprop), which the desktop session needs anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass

from tests.support.desktop import Desktop

XK_ESCAPE = 0xFF1B
RIGHT_BUTTON = 3


class XInputUnavailableError(RuntimeError):
    """libX11 or libXtst is missing, or the display does not open."""


def _library(name: str) -> ctypes.CDLL:
    path = ctypes.util.find_library(name)
    if path is None:
        raise XInputUnavailableError(f"lib{name} not found")
    return ctypes.CDLL(path)


class XInput:
    """One connection to ``display`` that clicks and presses keys; close it after use."""

    def __init__(self, display: str) -> None:
        self._x11 = _library("X11")
        self._xtst = _library("Xtst")
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._xtst.XTestFakeMotionEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeButtonEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeKeyEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        handle = self._x11.XOpenDisplay(display.encode())
        if not handle:
            raise XInputUnavailableError(f"cannot open display {display}")
        self._display: int = handle

    def click(self, x: int, y: int, button: int = RIGHT_BUTTON) -> None:
        """Move the pointer to (x, y) on screen 0 and press and release ``button`` there."""
        self._xtst.XTestFakeMotionEvent(self._display, 0, x, y, 0)
        self._xtst.XTestFakeButtonEvent(self._display, button, 1, 0)
        self._xtst.XTestFakeButtonEvent(self._display, button, 0, 0)
        self._x11.XSync(self._display, 0)

    def press(self, keysym: int) -> None:
        code = self._x11.XKeysymToKeycode(self._display, keysym)
        self._xtst.XTestFakeKeyEvent(self._display, code, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, code, 0, 0)
        self._x11.XSync(self._display, 0)

    def close(self) -> None:
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = 0


@dataclass(frozen=True)
class Window:
    """A window's id and where it is on screen."""

    id: str
    x: int
    y: int
    width: int
    height: int

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


# '0x200007 "portwatch": ("__main__.py" "portwatch")  22x24+0+0  +1257+775'
_TREE_LINE = re.compile(
    r"^\s*(?P<id>0x[0-9a-f]+) .*?\s(?P<w>\d+)x(?P<h>\d+)[+-]-?\d+[+-]-?\d+\s+"
    r"\+(?P<x>-?\d+)\+(?P<y>-?\d+)\s*$"
)


def windows(session: Desktop, *, tree: bool = True) -> list[tuple[str, Window]]:
    """Every window under the root (``tree``) or the root's own children: (its line, it)."""
    out = session.run(["xwininfo", "-root", "-tree" if tree else "-children"]).stdout
    found = []
    for line in out.splitlines():
        match = _TREE_LINE.match(line)
        if match:
            found.append(
                (
                    line,
                    Window(
                        match["id"],
                        int(match["x"]),
                        int(match["y"]),
                        int(match["w"]),
                        int(match["h"]),
                    ),
                )
            )
    return found


def is_viewable(session: Desktop, window: Window) -> bool:
    out = session.run(["xwininfo", "-id", window.id]).stdout
    return "Map State: IsViewable" in out


def window_type(session: Desktop, window: Window) -> str:
    """Its _NET_WM_WINDOW_TYPE, e.g. '_NET_WM_WINDOW_TYPE_POPUP_MENU' ('' if none)."""
    out = session.run(["xprop", "-id", window.id, "_NET_WM_WINDOW_TYPE"]).stdout
    return out.split("=", 1)[1].strip().split(",")[0] if "=" in out else ""


def docked_icon(session: Desktop, app_class: str = "portwatch") -> Window | None:
    """The icon an XEmbed tray (trayer's "panel") holds for the app of WM_CLASS ``app_class``."""
    found = windows(session)
    panel = next((w for line, w in found if '("panel" "trayer")' in line), None)
    if panel is None:
        return None
    for line, window in found:
        inside = (
            panel.x <= window.x < panel.x + panel.width
            and panel.y <= window.y < panel.y + panel.height
        )
        # '0x200007 "portwatch": ("__main__.py" "portwatch")  22x24+0+0  +1257+775'
        if inside and f' "{app_class}")' in line:
            return window
    return None


def shown_popup_menus(session: Desktop) -> list[Window]:
    """The menus on screen now (popups are the root's children)."""
    return [
        window
        for _line, window in windows(session, tree=False)
        if window_type(session, window) == "_NET_WM_WINDOW_TYPE_POPUP_MENU"
        and is_viewable(session, window)
    ]
