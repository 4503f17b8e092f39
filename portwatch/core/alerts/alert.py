"""What an alert is: its kind, its urgency and the value the rules hand out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class AlertKind(StrEnum):
    STARTUP = "startup"
    OCCUPIED = "occupied"
    FREED = "freed"
    UNEXPECTED_OWNER = "unexpected_owner"
    EXPOSURE_POLICY = "exposure_policy"  # a watched port bound wider than allowed
    EXPOSED = "exposed"  # the global alert: a new bind reachable from the network
    REMOTE_CLIENT = "remote_client"
    RESTARTED = "restarted"  # a watched port taken again by the program that left it
    # A port told as taken is free again: its notification, if still shown, is withdrawn.
    WITHDRAWN = "withdrawn"
    SUMMARY = "summary"
    NOTICE = "notice"  # portwatch itself has something to say (settings reset, delivery)


class Urgency(IntEnum):
    """The freedesktop notification urgency levels (the ``urgency`` hint byte)."""

    LOW = 0
    NORMAL = 1
    CRITICAL = 2


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    at: float  # wall-clock time of the scan (seconds since the epoch)
    title: str
    body: str
    port: int | None = None
    proto: str | None = None
    process: str | None = None  # the process name as the OS gave it
    pid: int | None = None
    # The holder as a person names it, masked and escaped: "Shop frontend",
    # "http.server — shop-frontend" (naming); None where no one holds the port.
    holder: str | None = None
    urgency: Urgency = Urgency.NORMAL
    # False: for the Alerts list only (part of a summary, a quiet start-up, a quiet period).
    notify: bool = True
    suppressed: bool = False  # held back by the quiet period
    ports: tuple[int, ...] = ()
    # A summary's single alerts, one line each ("Port 3001 is in use: node (PID 5) …").
    details: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.title}: {self.body}" if self.body else self.title
