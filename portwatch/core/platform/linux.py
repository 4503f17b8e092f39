"""Linux: psutil's system-wide socket table (the portable path).

The netlink fast path lives beside it in the ``netlink`` package; ``select_source``
prefers that one when the kernel lets us use it.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

import psutil

from portwatch.core.model import OwnerUnknown
from portwatch.core.platform._psutil import classify_connections
from portwatch.core.platform.base import (
    RawSocket,
    RawTable,
    SocketSource,
    TableReadError,
    os_reason,
    ownerless_reason,
)
from portwatch.core.platform.linux_procfs import read_proc_net
from portwatch.core.platform.owners.socket_owners import every_holder
from portwatch.core.services import read_linux_ephemeral_range

log = logging.getLogger(__name__)

Bind = tuple[str, int, str, int]  # (proto, family, address, port)


class LinuxPsutilSource(SocketSource):
    """psutil's table, and every holder of each listening socket.

    ``psutil.net_connections()`` names one process per socket inode (the
    last one it read that holds it): a pre-fork server's socket would come
    with one of its workers. So on Linux each read also takes the listening
    sockets' inodes from ``/proc/net`` and reads every process's fd table
    once more (``owners.every_holder``) for all the processes holding them.
    That second walk costs about what psutil's own does, so a poll here
    costs up to twice psutil's call (``benchmarks/bench_scan.py``'s cold
    psutil figure). Where there is no ``/proc/net`` (the BSDs) psutil's
    table stands as it is.
    """

    name = "linux-psutil"
    privilege_hint = "run as root (sudo) to see them"

    def __init__(self, *, proc_root: str = "/proc") -> None:
        self._proc = proc_root
        self._find_holders = sys.platform.startswith("linux")
        self._holders_failing = False  # in a run of failed holder lookups (logged once)

    def read(self, *, connection_owners: bool) -> RawTable:
        del connection_owners  # psutil names the owner of every connection anyway
        reason = ownerless_reason()
        try:
            conns = psutil.net_connections(kind="inet")
        except (psutil.Error, OSError) as exc:
            raise TableReadError(os_reason(exc)) from exc
        table = classify_connections(conns, unknown_reason=reason)
        if self._find_holders and table.listeners:
            table.listeners[:] = self._with_every_holder(table.listeners)
        return table

    def _with_every_holder(self, listeners: list[RawSocket]) -> list[RawSocket]:
        """The rows with each bind's holders as one walk of /proc finds them, psutil's kept."""
        try:
            kernel = read_proc_net(Path(self._proc, "net"), listeners_only=True).listeners
        except OSError as exc:
            if not self._holders_failing:
                self._holders_failing = True
                log.info(
                    "the other holders of shared sockets are not looked for: %s", os_reason(exc)
                )
            return listeners
        self._holders_failing = False
        owners, _ = every_holder(kernel, proc_root=self._proc)
        by_bind: dict[Bind, set[int]] = {}
        unread: set[Bind] = set()  # sockets whose holder's fd table could not be read
        for ks in kernel:
            owner = owners.get(ks.inode)
            bind = (ks.proto, ks.family, ks.local_address, ks.local_port)
            if isinstance(owner, tuple) and owner:
                by_bind.setdefault(bind, set()).update(owner)
            elif owner is OwnerUnknown.LOOKUP_FAILED:
                unread.add(bind)
        rows: list[RawSocket] = []
        for raw in listeners:
            bind = (raw.proto, raw.family, raw.local_address, raw.local_port)
            found = by_bind.get(bind)
            if raw.pid is None and raw.owner_unknown is OwnerUnknown.KERNEL and bind in unread:
                # "Kernel-owned" only when no process holds it: this one's is unreadable.
                rows.append(replace(raw, owner_unknown=OwnerUnknown.LOOKUP_FAILED))
                continue
            if found is None or found.issubset(raw.pids):
                rows.append(raw)
                continue
            pids = tuple(sorted(found.union(raw.pids)))
            rows.append(replace(raw, pid=pids[0], pids=pids, owner_unknown=None))
        return rows

    def ephemeral_range(self) -> tuple[int, int] | None:
        return read_linux_ephemeral_range()
