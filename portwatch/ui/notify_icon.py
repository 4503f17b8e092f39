"""The notification icon for a desktop without the packaged PNGs (a pip install).

Notification servers load the icon with their own image library; dunst
cannot load the app's SVG. A package installs PNGs in the hicolor theme
(``notify.dbus.default_icon`` finds them); otherwise the SVG is drawn once
into a PNG in the user's cache folder, here, where Qt is at hand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from portwatch.core import paths
from portwatch.notify.sender import Notifier
from portwatch.ui.icons import render, svg_source

log = logging.getLogger(__name__)

ICON_SIZE = 128
ICON_FILE = f"notification-{ICON_SIZE}.png"


def notification_icon() -> str:
    """An icon the server can load: the installed PNG, else one rendered into the cache."""
    from portwatch.notify.dbus import FALLBACK_ICON, default_icon  # D-Bus desktops only

    installed = default_icon()
    if installed != FALLBACK_ICON:
        return installed
    try:
        target = paths.cache_dir() / ICON_FILE
        if not target.is_file():
            partial = target.with_name(f".{os.getpid()}.{ICON_FILE}")  # .png: the format
            if not render(svg_source(), ICON_SIZE).save(str(partial)):
                raise OSError(f"could not write {partial}")
            partial.replace(target)  # at once: another instance may be writing it too
    except OSError as exc:
        log.info("notification icon not rendered (%s): using %s", exc, FALLBACK_ICON)
        return FALLBACK_ICON
    return str(target)


def dbus_notifier_with_icon(on_action: Callable[[int], None]) -> Notifier:
    """The session's notification server, with an icon it can load (on the sender thread)."""
    from portwatch.notify.dbus import DBusNotifier

    return DBusNotifier(on_action, icon=notification_icon())
