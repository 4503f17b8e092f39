"""portwatch: a calm system-tray port monitor."""

__version__ = "0.1.0"
