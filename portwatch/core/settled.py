"""The listeners on one port, once the scanner has found their owners."""

from __future__ import annotations

from portwatch.core.model import Listener, OwnerUnknown
from portwatch.core.scanner import Scanner

# A fresh scanner may not have found every socket's owner yet (the Linux
# owner walk runs under a CPU budget per scan and reports PENDING); a
# one-shot command rescans a few times before it decides.
SETTLE_SCANS = 20


def scan_port_settled(scanner: Scanner, port: int, *, scans: int = SETTLE_SCANS) -> list[Listener]:
    """The rows on ``port`` once no owner on it is still being looked up (or after ``scans``)."""
    rows: list[Listener] = []
    for _attempt in range(max(1, scans)):
        rows = scanner.scan().on_port(port)
        if not any(row.owner_unknown is OwnerUnknown.PENDING for row in rows):
            break
    return rows
