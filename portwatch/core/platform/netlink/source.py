"""Linux fast path: socket tables from NETLINK_SOCK_DIAG, owners from an inode cache.

``psutil.net_connections()`` reads the link of every open file descriptor of
every process on every call; its cost grows with the machine's open files.
Here the kernel filters the tables by state (inet_diag), and owners come from
:class:`~portwatch.core.platform.owners.socket_owners.SocketOwners`, which checks a
cached (pid, fd) per socket and walks ``/proc`` only for sockets it has not
seen before. Established connections, counted per listener, are dumped again
only when ``/proc/net/snmp``'s TCP open counters moved (see ``TcpOpenCounters``)
or the last dump is ``ESTABLISHED_MAX_AGE`` old. Where netlink is refused the
tables come from ``/proc/net``.

Each table carries a generation (see :mod:`portwatch.core.generation`): the
rows are made again only when the sockets' or the owners' generation moved,
and the :class:`RawTable` tells the scanner its rows' generations.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from portwatch.core.generation import GenerationByKey
from portwatch.core.platform.base import (
    RawTable,
    SocketSource,
    TableReadError,
    os_reason,
)
from portwatch.core.platform.linux_procfs import (
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    KernelSocket,
    SocketTables,
    TcpOpenCounters,
    read_proc_net,
)
from portwatch.core.platform.netlink.rows import RowCache
from portwatch.core.platform.netlink.sock_diag import SockDiag
from portwatch.core.platform.netlink.wire import REFUSED, NetlinkRefusedError
from portwatch.core.platform.owners.socket_owners import SocketOwners
from portwatch.core.services import read_linux_ephemeral_range

log = logging.getLogger(__name__)

# A listening socket reports states as the sum of their bits.
_LISTEN_STATES = 1 << TCP_LISTEN
_UNCONNECTED_STATES = 1 << TCP_CLOSE
_ESTABLISHED_STATES = 1 << TCP_ESTABLISHED

# While the TCP counters stand still the established table is reused, but
# dumped again after this many seconds anyway: a connection whose client
# closed while the server keeps its end (ESTABLISHED -> CLOSE_WAIT) moves no
# counter until the server closes it too.
ESTABLISHED_MAX_AGE = 10.0
# CPU seconds a poll may spend looking for new sockets' owners in /proc.
WALK_BUDGET = 0.05


class LinuxNetlinkSource(SocketSource):
    """sock_diag tables plus cached owners; falls back to /proc/net when refused."""

    name = "linux-netlink"
    privilege_hint = "run as root (sudo) to see them"

    def __init__(
        self,
        *,
        walk_budget: float | None = WALK_BUDGET,
        cold_walk_budget: float | None = None,
        proc_root: str = "/proc",
        use_netlink: bool = True,
        require_netlink: bool = False,
    ) -> None:
        """``walk_budget``: CPU seconds per poll for finding new sockets' owners.

        ``require_netlink`` raises :class:`NetlinkRefusedError` when no netlink
        socket can be opened, instead of reading /proc/net.
        ``cold_walk_budget`` applies to the first poll; None walks until every
        owner is found (one-shot commands want complete answers, and that walk
        still stops earlier than psutil's full one). A UI that wants the table
        at once and owners filled in afterwards sets it to ``walk_budget``.
        """
        self._diag: SockDiag | None = None
        self._fallback_reason: str | None = None
        self._fallback_warned = False
        self._reopen = False  # a read failed for a passing reason: netlink next time
        if use_netlink:
            try:
                self._diag = SockDiag()
            except NetlinkRefusedError as exc:
                if require_netlink:
                    raise
                self._fallback_reason = str(exc)
        else:
            self._fallback_reason = "netlink sock_diag disabled"
        self.owners = SocketOwners(
            proc_root=proc_root, walk_budget=walk_budget, cold_walk_budget=cold_walk_budget
        )
        self._proc_net = Path(proc_root) / "net"
        self._tcp_counters = TcpOpenCounters(self._proc_net / "snmp")
        # The last dump of established sockets counted per listener: the TCP
        # counters read just before it, its port filter, when it was made.
        self._counted_dump: tuple[tuple[bytes, ...], set[tuple[int, int]], float] | None = None
        self._counted_sockets: list[KernelSocket] = []
        self._counted_generation = 0  # that dump's
        self.established_dumps = 0
        self.established_reuses = 0
        # The generations of the last tables read, from the dumps' (or their
        # lists where /proc/net gives none).
        self._listeners_generation = GenerationByKey()
        self._established_generation = GenerationByKey()
        self.listener_rows = RowCache()
        self.connection_rows = RowCache()  # established, with owners
        self.counted_rows = RowCache()  # established, counted per listener: no owners
        # The TCP listeners of the last read and their (family, port) pairs.
        # (their dump's generation, the pairs): a new set only when they changed.
        self._listening: tuple[int, set[tuple[int, int]]] = (0, set())

    @property
    def warming_up(self) -> bool:
        return self.owners.first_pass_running

    @property
    def using_netlink(self) -> bool:
        return self._diag is not None

    def close(self) -> None:
        self._tcp_counters.close()
        self.owners.close()
        self._close_diag()

    def _close_diag(self) -> None:
        if self._diag is not None:
            self._diag.close()
            self._diag = None

    def ephemeral_range(self) -> tuple[int, int] | None:
        return read_linux_ephemeral_range()

    def read_tables(self, *, all_established: bool) -> SocketTables:
        """The kernel tables without owners (netlink, or /proc/net if refused).

        Raises :class:`TableReadError` when neither could be read this time.
        Their generations are in :meth:`tables_generations`.
        """
        if self._diag is None and self._reopen:
            # The last read failed for a passing reason: netlink again.
            self._reopen = False
            try:
                self._diag = SockDiag()
            except OSError as exc:
                self._reopen = True
                raise TableReadError(f"the kernel's socket list: {os_reason(exc)}") from exc
        if self._diag is not None:
            try:
                return self._read_netlink(self._diag, all_established=all_established)
            except OSError as exc:
                tables = self._after_netlink_failed(exc, all_established=all_established)
                if tables is not None:
                    return tables
        try:
            tables = read_proc_net(self._proc_net)
        except OSError as exc:
            raise TableReadError(f"{self._proc_net}: {os_reason(exc)}") from exc
        # No generations from text files: the lists themselves say whether they changed.
        self._listeners_generation.of(tables.listeners)
        self._established_generation.of(tables.established)
        return tables

    def tables_generations(self) -> tuple[int, int]:
        """The generations of the last tables read: (listeners, established)."""
        return self._listeners_generation.value, self._established_generation.value

    def _after_netlink_failed(self, exc: OSError, *, all_established: bool) -> SocketTables | None:
        """Refused: /proc/net from now on (None). Passing: one retry on a new socket."""
        if exc.errno in REFUSED:
            log.warning("netlink sock_diag refused (%s); reading /proc/net instead", exc)
            self._fallback_reason = f"netlink sock_diag refused: {exc}"
            self._close_diag()
            return None
        # A transient failure (ENOBUFS under memory pressure, a dump
        # interrupted by a table change): reopen and retry once.
        log.info("netlink read failed (%s); retrying on a new socket", exc)
        self._close_diag()
        try:
            self._diag = SockDiag()
            return self._read_netlink(self._diag, all_established=all_established)
        except OSError as again:
            # Not this time: the last picture stays, netlink is tried next poll.
            self._close_diag()
            self._reopen = True
            reason = os_reason(again)
            raise TableReadError(f"the kernel's socket list: {reason}") from again

    def _read_netlink(self, diag: SockDiag, *, all_established: bool) -> SocketTables:
        if all_established:
            listeners = diag.dump("tcp", _LISTEN_STATES) + diag.dump("udp", _UNCONNECTED_STATES)
            established = diag.dump("tcp", _ESTABLISHED_STATES)
            self._established_generation.of(diag.generation("tcp", _ESTABLISHED_STATES))
        else:
            # Read before the dumps: a connection that comes or goes after this
            # read moves the counters for the next poll.
            counters = self._tcp_counters.read()
            tcp = diag.dump("tcp", _LISTEN_STATES)
            tcp_generation = diag.generation("tcp", _LISTEN_STATES)
            if tcp_generation != self._listening[0]:
                self._listening = (tcp_generation, {(s.family, s.local_port) for s in tcp})
            listeners = tcp + diag.dump("udp", _UNCONNECTED_STATES)
            established = self._counted_connections(diag, counters, self._listening[1])
            self._established_generation.of(self._counted_generation)
        self._listeners_generation.of(
            (diag.generation("tcp", _LISTEN_STATES), diag.generation("udp", _UNCONNECTED_STATES))
        )
        return SocketTables(listeners, established)

    def _counted_connections(
        self, diag: SockDiag, counters: tuple[bytes, ...] | None, listening: set[tuple[int, int]]
    ) -> list[KernelSocket]:
        """Established sockets on listening ports: the last dump while no counter moved."""
        now = time.monotonic()
        last = self._counted_dump
        if (
            counters is not None
            and last is not None
            and last[0] == counters
            and last[1] is listening  # the same listeners: the same port filter
            and now - last[2] < ESTABLISHED_MAX_AGE
        ):
            self.established_reuses += 1
            return self._counted_sockets
        self._counted_sockets = diag.dump("tcp", _ESTABLISHED_STATES, only_local_ports=listening)
        self._counted_generation = diag.generation("tcp", _ESTABLISHED_STATES)
        self.established_dumps += 1
        self._counted_dump = None if counters is None else (counters, listening, now)
        return self._counted_sockets

    def read(self, *, connection_owners: bool) -> RawTable:
        tables = self.read_tables(all_established=connection_owners)
        listeners_generation, established_generation = self.tables_generations()
        table = RawTable()
        if self._fallback_reason is not None and not self._fallback_warned:
            self._fallback_warned = True
            table.warnings.append(
                f"{self._fallback_reason}; reading /proc/net instead (slower, no IPv6-only flag)"
            )
        wanted: Iterable[KernelSocket] = tables.listeners
        if connection_owners:
            wanted = itertools.chain(tables.listeners, tables.established)
        generations = (listeners_generation, established_generation if connection_owners else 0)
        owners = self.owners.resolve(wanted, generations=generations)
        failed = self.owners.stats.failed
        if failed:
            table.warnings.append(
                f"owner lookup failed for {failed} socket{'' if failed == 1 else 's'}: "
                f"{self.owners.lookup_failure or 'unknown reason'}"
            )
        owners_generation = self.owners.generation
        listener_rows = self.listener_rows
        table.listeners.extend(
            listener_rows.update(
                tables.listeners, owners, (listeners_generation, owners_generation)
            )
        )
        table.listeners_generation = listener_rows.generation
        if connection_owners:
            established_rows = self.connection_rows
            inputs = (established_generation, owners_generation)
            table.established.extend(established_rows.update(tables.established, owners, inputs))
        else:
            # Counted per listener only: no owner, one row per socket.
            established_rows = self.counted_rows
            inputs = (established_generation, 0)
            table.established.extend(established_rows.update(tables.established, {}, inputs))
        table.established_generation = established_rows.generation
        return table


__all__ = ["ESTABLISHED_MAX_AGE", "WALK_BUDGET", "LinuxNetlinkSource"]
