"""After ending a port's holders: is the port free, or did something take it again?

A service manager, a supervisor or a file watcher starts a server again as
soon as it ends: the port is then held by a new process, and ending that one
would only repeat. Saying who restarts it, and how to stop that, frees the
port for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from portwatch.core.model import Listener
from portwatch.core.naming import who_text
from portwatch.core.portcheck import PortAnswer, answer_port
from portwatch.core.scanner import Scanner
from portwatch.core.settled import scan_port_settled
from portwatch.core.users import my_identity, owner_uid

# How long a freed port is watched for a server started again (systemd's
# Restart= waits 100 ms, a supervisor about as long), and how often.
RESTART_GRACE = 1.0
RESTART_POLL = 0.1


@dataclass(frozen=True, slots=True)
class Recheck:
    """The port after the holders were asked to end."""

    port: int
    # Held by processes that were not asked to end: something started them again.
    again: tuple[Listener, ...] = ()
    # Held still by processes that were asked to end (they refused, or are slow).
    still: tuple[Listener, ...] = ()
    # When nothing listens: whether a server can bind it (TIME_WAIT may refuse it).
    answer: PortAnswer | None = None

    @property
    def free(self) -> bool:
        return not self.again and not self.still and (self.answer is None or self.answer.free)

    def message(self, now: float | None = None) -> str:
        if self.again:
            return held_again(self.port, self.again, now)
        if self.still:
            owners = ", ".join(dict.fromkeys(who_text(row) for row in self.still))
            return f"Port {self.port} is still in use by {owners}."
        if self.answer is not None and not self.answer.free:
            return self.answer.message()
        return f"Port {self.port} is free now."


def recheck(
    port: int, before: Iterable[int], scanner: Scanner, grace: float = RESTART_GRACE
) -> Recheck:
    """Scan ``port`` again, watching it ``grace`` seconds if it is free; ``before``:
    every process that held it before (all holders)."""
    rows = scan_port_settled(scanner, port) or taken_again(scanner, port, grace)
    return recheck_rows(port, rows, before)


def taken_again(scanner: Scanner, port: int, grace: float) -> list[Listener]:
    """The rows on ``port`` if something takes it within ``grace`` seconds, else none."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        time.sleep(RESTART_POLL)
        if scanner.scan().on_port(port):
            return scan_port_settled(scanner, port)
    return []


def recheck_rows(port: int, rows: Iterable[Listener], before: Iterable[int]) -> Recheck:
    """What a scan's ``rows`` on ``port`` say after its holders (``before``) were asked to end."""
    asked_pids = set(before)
    rows = list(rows)
    if not rows:
        return Recheck(port=port, answer=answer_port(port, suggest=False))
    again = tuple(row for row in rows if row.pid is not None and not set(row.pids) & asked_pids)
    still = tuple(row for row in rows if row not in again)
    return Recheck(port=port, again=again, still=still)


def held_again(port: int, rows: tuple[Listener, ...], now: float | None = None) -> str:
    """'Port 80 is held again by nginx (PID 9, started 1 s ago): it is restarted by
    nginx.service — stop it with `sudo systemctl stop nginx.service`.'"""
    row = rows[0]
    started = ""
    if row.started is not None:
        age = max(0, round((time.time() if now is None else now) - row.started))
        started = f", started {age} s ago"
    who = who_text(row)
    if who.endswith(")"):
        who = f"{who[:-1]}{started})"
    return f"Port {port} is held again by {who}: {restarted_by(row)}."


def restarted_by(row: Listener) -> str:
    """Who starts the holder again, and how to stop that."""
    if row.unit:
        return f"it is restarted by {row.unit} — stop it with `{_systemctl(row)} stop {row.unit}`"
    if row.container:
        return f"it runs in the container {row.container}: stop the container to free the port"
    return (
        "something started it again (a service manager, a supervisor or a file watcher): "
        "stop that, or the port will be taken again"
    )


def _systemctl(row: Listener) -> str:
    """`systemctl --user` for this user's own unit, `sudo systemctl` for another's."""
    my_uid, _ = my_identity()
    uid = owner_uid(row.pid) if row.pid is not None else None
    if my_uid == 0:
        return "systemctl"
    if uid is not None and uid == my_uid:
        return "systemctl --user"
    return "sudo systemctl"
