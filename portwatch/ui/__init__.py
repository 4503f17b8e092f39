"""The Qt layer: tray icon, main window and the worker thread that scans.

Everything here runs on top of ``portwatch.core`` and talks to it only through
immutable snapshots delivered by signals.
"""

from portwatch.ui._none_refcount import keep_none_alive

# Before any Qt call: see _none_refcount.py (PySide6 6.12 + Python 3.11 crash).
keep_none_alive()
