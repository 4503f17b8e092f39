"""The Qt layer: tray icon, main window and the worker thread that scans.

Everything here runs on top of ``portwatch.core`` and talks to it only through
immutable snapshots delivered by signals.
"""
