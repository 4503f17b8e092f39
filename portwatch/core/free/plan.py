"""The free plan: who holds a port (or the selected rows), and which of them may be ended."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portwatch.core.copytext import command_line_text
from portwatch.core.free.safety import (
    privilege_hint,
    protected_pids,
    refusal_reason,
    second_confirmation_reason,
    service_of,
)
from portwatch.core.model import Listener, OwnerUnknown, Snapshot
from portwatch.core.owner_text import owner_text
from portwatch.core.users import my_identity, owner_uid

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class Holder:
    """One process that holds sockets on the port, with what the rules say about it."""

    pid: int
    name: str | None
    user: str | None
    cmdline: tuple[str, ...] | None
    exe: str | None
    started: float | None
    listeners: tuple[Listener, ...]
    # Set when portwatch will not end this process at all.
    refusal: str | None = None
    # Set when the user must confirm a second time (another user, a service).
    second_confirmation: str | None = None

    @property
    def label(self) -> str:
        return owner_text(self.name, self.pid)

    @property
    def workers(self) -> tuple[int, ...]:
        """The other processes holding its sockets (a pre-fork server's workers)."""
        pids = dict.fromkeys(pid for row in self.listeners for pid in row.pids)
        return tuple(pid for pid in pids if pid != self.pid)

    @property
    def command_text(self) -> str:
        if not self.cmdline:
            return self.exe or ""
        # A process that rewrote its title ("nginx: worker process") leaves empty
        # arguments behind: not part of what a person would type.
        args = list(self.cmdline)
        while len(args) > 1 and not args[-1]:
            args.pop()
        return command_line_text(args)


@dataclass(frozen=True, slots=True)
class FreePlan:
    """Who holds a port (or a selection of rows), and which of them we may end."""

    port: int | None
    holders: tuple[Holder, ...]
    # Sockets with no visible owner: hidden (needs privileges) or kernel-owned.
    ownerless: tuple[Listener, ...] = ()

    @property
    def allowed(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.holders if h.refusal is None)

    @property
    def refused(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.holders if h.refusal is not None)

    @property
    def needs_second_confirmation(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.allowed if h.second_confirmation is not None)

    @property
    def is_free(self) -> bool:
        return not self.holders and not self.ownerless

    @property
    def hidden(self) -> tuple[Listener, ...]:
        return tuple(
            row for row in self.ownerless if row.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES
        )

    def problems(self) -> list[str]:
        """Sentences about what this plan cannot do, for the confirmation or the end result."""
        lines = [f"Will not end {h.label}: {h.refusal}." for h in self.refused]
        hidden = self.hidden
        if hidden:
            lines.append(
                f"{len(hidden)} socket(s) on this port belong to processes portwatch "
                f"cannot see without privileges. {privilege_hint(self.port)}"
            )
        pending = [r for r in self.ownerless if r.owner_unknown is OwnerUnknown.PENDING]
        if pending:
            lines.append(
                f"The owner of {len(pending)} socket(s) is still being looked up; "
                "try again in a moment."
            )
        failed = [r for r in self.ownerless if r.owner_unknown is OwnerUnknown.LOOKUP_FAILED]
        if failed:
            lines.append(
                f"portwatch could not find out which process holds {len(failed)} socket(s) "
                "on this port (the lookup failed; see the scan's warnings); "
                "try again in a moment."
            )
        kernel = [
            row
            for row in self.ownerless
            if row not in hidden and row not in pending and row not in failed
        ]
        if kernel:
            lines.append(
                f"{len(kernel)} socket(s) have no owning process "
                f"({kernel[0].owner_unknown or OwnerUnknown.NOT_FOUND}); "
                "ending a process cannot free them."
            )
        return lines


def plan_free(
    listeners: Iterable[Listener],
    *,
    port: int | None = None,
    protected: dict[int, str] | None = None,
) -> FreePlan:
    """Group ``listeners`` by owning process and apply the safety rules.

    ``listeners`` are either every row on a port (from a scan) or the rows a
    person selected. ``port`` is used in messages only.
    """
    table = protected if protected is not None else protected_pids()
    my_uid, my_user = my_identity()
    by_pid: dict[int, list[Listener]] = {}
    ownerless: list[Listener] = []
    for row in listeners:
        if row.pid is None:
            ownerless.append(row)
        else:
            by_pid.setdefault(row.pid, []).append(row)
    holders = []
    for pid, rows in by_pid.items():
        first = rows[0]
        refusal = refusal_reason(pid, table)
        second = None
        if refusal is None:
            second = second_confirmation_reason(
                uid=owner_uid(pid),
                user=first.user,
                my_uid=my_uid,
                my_user=my_user,
                service=service_of(pid, first.unit),
            )
        holders.append(
            Holder(
                pid=pid,
                name=first.process,
                user=first.user,
                cmdline=first.cmdline,
                exe=first.exe,
                started=first.started,
                listeners=tuple(rows),
                refusal=refusal,
                second_confirmation=second,
            )
        )
    if port is None:
        ports = {row.port for row in (*ownerless, *(r for h in holders for r in h.listeners))}
        port = ports.pop() if len(ports) == 1 else None
    return FreePlan(port=port, holders=tuple(holders), ownerless=tuple(ownerless))


def plan_free_port(port: int, snapshot: Snapshot) -> FreePlan:
    """Who holds ``port`` (TCP and UDP, every address) in ``snapshot``."""
    return plan_free(snapshot.on_port(port), port=port)
