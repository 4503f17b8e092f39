"""The Qt layer: tray icon, main window and the worker thread that scans.

Everything here runs on top of ``portwatch.core`` and talks to it only through
immutable snapshots delivered by signals.
"""

from portwatch.ui._singleton_refcounts import keep_singletons_alive

# Before any Qt call: see _singleton_refcounts.py (PySide6 6.12 + Python 3.11 crash).
keep_singletons_alive()
