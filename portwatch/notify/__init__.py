"""Desktop notifications without Qt.

- :mod:`portwatch.notify.dbus`: the freedesktop ``org.freedesktop.Notifications``
  service on the session bus, spoken with jeepney (Linux and other
  freedesktop systems).
- :func:`probe`: what this session can deliver, with how to fix it for a person.
- :mod:`portwatch.notify.sender`: the one thread that sends every notification
  (a bounded queue; a server that never answers blocks nobody).
- :func:`set_windows_app_id`: Windows groups notifications by AppUserModelID;
  call it once at start, before any window or tray icon exists.

The Qt fallbacks (tray balloon, in-app alert) live in
``portwatch.ui.alerts_controller`` (its delivery order) and ``portwatch.ui.tray``.
"""

from __future__ import annotations

import logging
import sys

from portwatch.core.paths import APP_ID
from portwatch.notify.probe import DeliveryProbe, probe

log = logging.getLogger(__name__)

__all__ = ["DeliveryProbe", "probe", "set_windows_app_id"]


def set_windows_app_id(app_id: str = APP_ID) -> bool:
    """Set the process's explicit AppUserModelID (Windows only); True when it was set.

    Without it, Windows attributes toasts and the taskbar entry to
    python.exe, and notifications show "Python" as their sender.
    """
    if sys.platform != "win32":
        return False
    import ctypes

    try:
        result = ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID(app_id)
    except (AttributeError, OSError) as exc:
        log.warning("could not set the Windows AppUserModelID: %s", exc)
        return False
    if result != 0:  # an HRESULT: 0 is S_OK
        log.warning("SetCurrentProcessExplicitAppUserModelID failed: 0x%08x", result & 0xFFFFFFFF)
        return False
    return True
