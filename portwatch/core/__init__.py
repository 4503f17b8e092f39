"""The portwatch engine: scanning, diffing, rules and history. Never imports Qt."""

from portwatch.core.diff import Event, EventKind, diff
from portwatch.core.model import (
    Connection,
    Exposure,
    Listener,
    OwnerUnknown,
    PortRange,
    ProcessInfo,
    Snapshot,
)
from portwatch.core.scanner import Scanner

__all__ = [
    "Connection",
    "Event",
    "EventKind",
    "Exposure",
    "Listener",
    "OwnerUnknown",
    "PortRange",
    "ProcessInfo",
    "Scanner",
    "Snapshot",
    "diff",
]
