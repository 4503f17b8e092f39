"""End to end: the app on a real X server with a session bus and a real tray host."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portwatch.ui.tray import MENU_APPS
from tests.support.dbusmenu import MenuNode, MenuReader
from tests.support.desktop import Desktop, desktop, desktop_no_tray, desktop_xembed, unavailable
from tests.support.procs import ListenerProcess, wait_until
from tests.support.xinput import (
    Window,
    XInput,
    XInputUnavailableError,
    docked_icon,
    shown_popup_menus,
)
from tests.ui.app_process import ROOT, AppProcess, portwatch_command

__all__ = ["desktop", "desktop_no_tray", "desktop_xembed"]  # fixtures used below

pytestmark = pytest.mark.desktop
INTERVAL = 0.5
# The items every tray menu ends with.
FIXED = ["Open portwatch", "Pause monitoring", "Settings…", "Quit portwatch"]
# Opens tried until two in a row saw no change of the menu by a scan: other
# programs on this shared machine open and close ports whenever they like.
OPENS = 8


def _tray_children(session: Desktop) -> int:
    """How many windows trayer's panel holds (each docked XEmbed icon adds one)."""
    tree = session.run(["xwininfo", "-root", "-tree"]).stdout.splitlines()
    for number, line in enumerate(tree):
        if '"panel"' in line and number + 1 < len(tree):
            following = tree[number + 1].strip()
            if following.endswith(("child:", "children:")):
                return int(following.split()[0])
    return 0


def test_app_on_an_sni_tray(desktop: Desktop, tmp_path: Path) -> None:
    app = AppProcess("--debug", f"--interval={INTERVAL}", env=desktop.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["tray_visible"])
        assert status["tray"] is True
        assert status["window_visible"] is False  # the tray is the app; no window yet
        assert not status["no_tray_notice"]

        # Its StatusNotifierItem registers with the watcher.
        assert wait_until(lambda: bool(desktop.registered_status_notifier_items()), timeout=10)
        items = desktop.registered_status_notifier_items()
        print("registered SNI items:", items)
        assert app.pid in [desktop.connection_pid(item) for item in items]

        # A listener opened now reaches the table within two intervals.
        with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
            port = child.ports[0]
            opened = time.monotonic()
            app.wait_status(lambda s: port in s["table_ports"], timeout=2 * INTERVAL + 1.5)
            print(f"port {port} in the table after {time.monotonic() - opened:.2f} s")

        # A second launch brings the window up and exits 0.
        second = subprocess.run(
            portwatch_command(),
            cwd=ROOT,
            env=desktop.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        app.wait_status(lambda s: s["window_visible"], timeout=5)

        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
        # Quitting unregisters the item (its bus connection is gone).
        assert wait_until(lambda: not desktop.registered_status_notifier_items(), timeout=10)
    finally:
        app.stop()


def test_app_docks_into_an_xembed_tray(desktop_xembed: Desktop, tmp_path: Path) -> None:
    before = _tray_children(desktop_xembed)
    app = AppProcess(f"--interval={INTERVAL}", "--show", env=desktop_xembed.env, logs=tmp_path)
    try:
        # --show opens the window at start even though a tray exists
        app.wait_status(lambda s: s["scans"] and s["tray_visible"] and s["window_visible"])
        assert wait_until(lambda: _tray_children(desktop_xembed) > before, timeout=10)
        assert app.signal(signal.SIGINT) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def test_without_a_tray_the_window_opens_with_the_notice(
    desktop_no_tray: Desktop, tmp_path: Path
) -> None:
    app = AppProcess(f"--interval={INTERVAL}", env=desktop_no_tray.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["window_visible"])
        assert status["tray"] is False
        assert status["no_tray_notice"] is True
        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
    finally:
        app.stop()


def test_a_tray_that_comes_up_later_takes_the_app_in(
    desktop_no_tray: Desktop, tmp_path: Path
) -> None:
    """At login the panel may start after portwatch: the app moves into it when it comes."""
    app = AppProcess("--debug", f"--interval={INTERVAL}", env=desktop_no_tray.env, logs=tmp_path)
    try:
        status = app.wait_status(lambda s: s["scans"] and s["window_visible"])
        assert status["tray"] is False
        assert status["no_tray_notice"] is True
        started = time.monotonic()
        desktop_no_tray.start_sni_host()
        status = app.wait_status(lambda s: s["tray_visible"], timeout=15)
        print(f"in the tray {time.monotonic() - started:.1f} s after the host came up")
        assert status["no_tray_notice"] is False
        assert status["window_visible"] is True  # still open: the user was looking at it
        assert wait_until(
            lambda: (
                app.pid
                in [
                    desktop_no_tray.connection_pid(i)
                    for i in desktop_no_tray.registered_status_notifier_items()
                ]
            ),
            timeout=10,
        )
        assert app.signal(signal.SIGTERM) == 0
        assert "Traceback" not in app.stderr
        assert "a system tray appeared" in app.stderr
    finally:
        app.stop()


# --- the tray menu on the first open (issue 15) ---


def _status(app: AppProcess) -> dict[str, Any]:
    status = app.status()
    assert status is not None
    assert status["pid"] == app.pid, status
    return status


MORE_APPS = re.compile(r"\d+ more apps?…")


def _named_ports(apps: list[str]) -> tuple[set[int], bool]:
    """The ports the app entries name ('nginx — 80, 443 (udp)'), and whether one of them
    names only some ('… — 1, 2, 3, 4, 5, 6, +2 more')."""
    ports: set[int] = set()
    cut = False
    for text in apps:
        for word in text.rsplit(" — ", 1)[-1].split(", "):
            if word.startswith("+"):
                cut = True
            else:
                ports.add(int(word.split()[0]))
    return ports, cut


def _check_whole_menu(items: list[str], status: dict[str, Any], port: int) -> None:
    """``items`` (the top level, as a person sees it) is the full menu for ``status``'s scan."""
    assert items == status["tray_menu"], "the menu shown is not the app's menu"
    assert re.match(r"\d+ ports? in use", items[0]), items
    assert items[-4:] == FIXED, items
    entries = items[1:-4]
    more = bool(entries) and MORE_APPS.fullmatch(entries[-1]) is not None
    apps = entries[:-1] if more else entries
    named, cut = _named_ports(apps)
    table = set(status["table_ports"])
    if more:
        assert len(apps) == MENU_APPS, entries
    assert named <= table, (entries, sorted(table))
    if not (more or cut):
        # Every listener the window lists has its app's entry.
        assert named == table, (entries, sorted(table))
        assert port in named


@dataclass
class Opened:
    """One opening of the menu, between two looks at the app's status."""

    status: dict[str, Any]  # the app's, just before
    changes_after: int  # the app's count of menu changes, just after

    @property
    def undisturbed(self) -> bool:
        """No scan changed the menu meanwhile."""
        return bool(self.status["tray_menu_changes"] == self.changes_after)


def _in_a_row(earlier: Opened, later: Opened) -> bool:
    """Two opens with no change of the menu during or between them."""
    return (
        earlier.undisturbed
        and later.undisturbed
        and earlier.changes_after == later.status["tray_menu_changes"]
    )


@dataclass
class HostOpen(Opened):
    """A right click as an SNI host makes it: the layout it holds, AboutToShow, what it draws."""

    fetched: MenuNode  # GetLayout before the menu opens
    drawn: MenuNode  # what the host draws: the layout fetched, or refetched if told to
    after: MenuNode  # GetLayout once it is open


def _open_on_sni_host(app: AppProcess, reader: MenuReader) -> HostOpen:
    status = _status(app)
    fetched = reader.layout()
    update_needed = reader.about_to_show(0)
    after = reader.layout()
    drawn = after if update_needed else fetched
    return HostOpen(status, _status(app)["tray_menu_changes"], fetched, drawn, after)


def test_the_first_right_click_on_an_sni_host_shows_the_whole_menu(
    desktop: Desktop, tmp_path: Path
) -> None:
    """Issue 15: the first right click after a start showed a 3-row scrolling stub.

    An SNI host draws the layout it fetched before the click; Qt answers its
    AboutToShow with "no update needed", so the menu must be whole before it
    opens and opening must not change it. Read here as the host reads it
    (com.canonical.dbusmenu GetLayout on the item's Menu path, AboutToShow),
    the first time and the times after, against the app's own status.
    """
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        app = AppProcess(f"--interval={INTERVAL}", env=desktop.env, logs=tmp_path)
        reader: MenuReader | None = None
        try:
            app.wait_status(lambda s: s["scans"] and s["tray_visible"] and port in s["table_ports"])
            assert wait_until(
                lambda: (
                    app.pid
                    in [
                        desktop.connection_pid(i)
                        for i in desktop.registered_status_notifier_items()
                    ]
                ),
                timeout=10,
            )
            item = next(
                i
                for i in desktop.registered_status_notifier_items()
                if desktop.connection_pid(i) == app.pid
            )
            reader = MenuReader(desktop.bus_address, item)
            opens: list[HostOpen] = []
            while len(opens) < OPENS:
                opened = _open_on_sni_host(app, reader)
                opens.append(opened)
                if opened.undisturbed:
                    # What the host drew is the whole menu, and opening changed nothing.
                    assert opened.drawn.structure() == opened.after.structure()
                    _check_whole_menu(opened.drawn.labels(), opened.status, port)
                if len(opens) >= 2 and _in_a_row(opens[-2], opened):
                    break
            first, second = opens[-2:]
            assert _in_a_row(first, second), [o.status["tray_menu_changes"] for o in opens]
            print(f"{len(opens)} opens; the last two drew {second.drawn.labels()}")
            assert len(first.drawn.shown()) == len(second.drawn.shown())
            assert first.drawn.structure() == second.drawn.structure()

            # A listener's submenu is filled before it opens, and opening it changes nothing.
            # (Ours, unless a busy machine has more apps than the menu lists.)
            submenus = [node for node in second.drawn.shown() if node.children]
            own = next((n for n in submenus if n.label.endswith(f" — {port}")), submenus[0])
            texts = own.labels()
            assert texts[0] == "Show in portwatch", texts
            assert any(text.startswith("Free port") for text in texts), texts
            assert any(text.startswith("Open in browser") for text in texts), texts
            reader.about_to_show(own.id)
            assert reader.layout(own.id).labels() == texts
        finally:
            if reader is not None:
                reader.close()
            app.stop()


@dataclass
class PopupOpen(Opened):
    """A right click on the docked icon, and the popup window Qt showed for it."""

    popup: Window


def _open_xembed_menu(
    session: Desktop, app: AppProcess, pointer: XInput, icon: Window
) -> PopupOpen:
    status = _status(app)
    pointer.click(*icon.centre)
    assert wait_until(lambda: bool(shown_popup_menus(session)), timeout=10), "no menu opened"
    (popup,) = shown_popup_menus(session)
    # A click elsewhere closes it, as a person does. (Escape closes it too, but
    # then Qt ignores the next right click on the icon, as it did before issue 15.)
    pointer.click(10, 10, button=1)
    assert wait_until(lambda: not shown_popup_menus(session), timeout=10), "the menu stayed"
    return PopupOpen(status, _status(app)["tray_menu_changes"], popup)


def test_the_first_right_click_on_an_xembed_tray_shows_the_whole_menu(
    desktop_xembed: Desktop, tmp_path: Path
) -> None:
    """Issue 15 on an XEmbed tray (trayer).

    The host only embeds the icon's window: the menu is Qt's own QMenu popup
    and nothing of it crosses to the host, so there is no host layout to read.
    What is real here is a right click on the docked icon (XTEST) and the popup
    window Qt maps for it; its size on screen is compared between the first
    open and the next, and the items are the app's menu in its status then.
    """
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        port = child.ports[0]
        app = AppProcess(f"--interval={INTERVAL}", env=desktop_xembed.env, logs=tmp_path)
        pointer: XInput | None = None
        try:
            try:
                pointer = XInput(desktop_xembed.display)
            except XInputUnavailableError as exc:
                unavailable(str(exc))
                return
            app.wait_status(lambda s: s["scans"] and s["tray_visible"] and port in s["table_ports"])
            assert wait_until(lambda: docked_icon(desktop_xembed) is not None, timeout=10)
            icon = docked_icon(desktop_xembed)
            assert icon is not None
            opens: list[PopupOpen] = []
            while len(opens) < OPENS:
                opened = _open_xembed_menu(desktop_xembed, app, pointer, icon)
                opens.append(opened)
                if opened.undisturbed:
                    _check_whole_menu(opened.status["tray_menu"], opened.status, port)
                if len(opens) >= 2 and _in_a_row(opens[-2], opened):
                    break
            first, second = opens[-2:]
            print("popups:", [(o.popup.width, o.popup.height) for o in opens])
            assert _in_a_row(first, second), [o.status["tray_menu_changes"] for o in opens]
            assert (first.popup.width, first.popup.height) == (
                second.popup.width,
                second.popup.height,
            )
            assert first.status["tray_menu"] == second.status["tray_menu"]
        finally:
            if pointer is not None:
                pointer.close()
            app.stop()
