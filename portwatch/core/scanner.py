"""The Scanner: one call, one immutable picture of every listener and connection."""

from __future__ import annotations

import logging
import operator
import time
from dataclasses import replace

import psutil

from portwatch.core.established import Endpoint, EstablishedCounts
from portwatch.core.exposure import classify, is_wildcard
from portwatch.core.generation import next_generation
from portwatch.core.identity.cache import Identity, IdentityCache
from portwatch.core.model import Connection, Listener, OwnerUnknown, ProcessInfo, Snapshot
from portwatch.core.platform import RawSocket, RawTable, SocketSource, select_source
from portwatch.core.platform.base import os_reason
from portwatch.core.platform.cgroups import CgroupIndex, CgroupOwner
from portwatch.core.procinfo import ProcessCache
from portwatch.core.services import port_range, service_name
from portwatch.core.users import UserNames

log = logging.getLogger(__name__)

# Seconds between scans while a snapshot is ``warming_up`` (a quick start's
# owners still filling in): the table shows at once, and owners fill in within
# about the time one complete walk of /proc takes.
WARM_UP_DELAY = 0.02


class Scanner:
    """Reads the OS socket tables and returns a :class:`Snapshot`.

    ``scan()`` never raises for what the OS may do under it (a process that
    exits mid-scan, a zombie, a refused permission): such rows get an
    "owner unknown" reason and the snapshot counts them. When the socket
    table itself cannot be read, the last picture comes back marked
    ``stale`` (why, in plain words) until a read works again.
    """

    def __init__(
        self,
        source: SocketSource | None = None,
        *,
        connection_owners: bool = True,
        quick_start: bool = False,
        identities: IdentityCache | None = None,
        cgroups: CgroupIndex | None = None,
    ) -> None:
        """``quick_start``: see :func:`~portwatch.core.platform.select_source`."""
        self.source = source or select_source(quick_start=quick_start)
        # The connections view needs the owner of every connection; the
        # listener table alone does not, and skipping it is much cheaper.
        self.connection_owners = connection_owners
        self._processes = ProcessCache()
        self._ephemeral: tuple[int, int] | None = None
        # Per scan: each pid's details are looked up once, however many sockets it holds.
        self._scan_infos: dict[int, ProcessInfo | None] = {}
        # Rows of the previous scan by everything they are made of: an unchanged
        # socket gets the same Listener object back instead of a new one.
        self._rows: dict[tuple[object, ...], tuple[tuple[ProcessInfo, ...], Listener]] = {}
        self._next_rows: dict[tuple[object, ...], tuple[tuple[ProcessInfo, ...], Listener]] = {}
        # Who each main holder is to a person, worked out once per process.
        self._identities = identities if identities is not None else IdentityCache()
        # Names of the uids the kernel reports for sockets whose process is hidden,
        # and the units and containers of the cgroups it reports for them.
        self._users = UserNames()
        self._cgroups = cgroups if cgroups is not None else CgroupIndex()
        # What the last listener rows were made of, to hand them back unchanged.
        self._last_raw: list[RawSocket] | None = None
        self._last_raw_generation = 0  # the source's, for _last_raw (0: it gives none)
        self._last_established_generation = 0
        # The listener rows' generation, handed out in every snapshot.
        self._listeners_generation = 0
        self._last_infos: dict[int, ProcessInfo | None] = {}
        self._last_counts: EstablishedCounts | None = None
        self._last_established: list[RawSocket] = []
        self._last_range: tuple[int, int] | None = None
        self._last_listeners: tuple[Listener, ...] = ()
        self._last_live: frozenset[int] = frozenset()  # the pids of _last_raw
        # rows -> (owners hidden, owners pending) among them
        self._unknown: tuple[tuple[Listener, ...] | None, int, int] = (None, 0, 0)
        self._picture: Snapshot | None = None  # the last snapshot read in full
        self._failing = False  # in a run of failed reads (logged once per run)

    @property
    def ephemeral_range(self) -> tuple[int, int] | None:
        if self._ephemeral is None:
            self._ephemeral = self.source.ephemeral_range()
        return self._ephemeral

    def scan(self) -> Snapshot:
        started = time.perf_counter()
        taken_at = time.time()
        try:
            table = self.source.read(connection_owners=self.connection_owners)
        except Exception as exc:  # noqa: BLE001 - any failed read keeps the last picture
            return self._stale(exc, taken_at, started)
        if self._failing:
            self._failing = False
            log.info("the port list can be read again")
        snapshot = self._snapshot(table, taken_at, started)
        self._picture = snapshot
        return snapshot

    def _stale(self, exc: Exception, taken_at: float, started: float) -> Snapshot:
        """The last picture, marked stale: a failed read is not every port freed."""
        expected = isinstance(exc, (OSError, psutil.Error))
        reason = os_reason(exc) if expected else f"unexpected error: {exc}"
        if not self._failing:
            self._failing = True
            # Once per run of failures (the app's log file takes INFO; the bar
            # or `watch` tell the person); a bug's traceback goes to the log too.
            level = logging.INFO if expected else logging.WARNING
            log.log(level, "could not read the port list: %s", reason, exc_info=not expected)
        duration = time.perf_counter() - started
        if self._picture is None:
            return Snapshot(
                taken_at=taken_at,
                duration=duration,
                listeners=(),
                backend=self.source.name,
                stale=reason,
            )
        return replace(self._picture, duration=duration, warming_up=False, stale=reason)

    def _snapshot(self, table: RawTable, taken_at: float, started: float) -> Snapshot:
        warnings = list(table.warnings)

        self._scan_infos = {}
        if self._last_counts is not None and _unchanged(
            table.established,
            table.established_generation,
            self._last_established,
            self._last_established_generation,
        ):
            counts = self._last_counts  # the same connections
        else:
            counts = EstablishedCounts(table.established)
            self._last_established = list(table.established)
            self._last_established_generation = table.established_generation
        same_sockets = self._last_raw is not None and _unchanged(
            table.listeners,
            table.listeners_generation,
            self._last_raw,
            self._last_raw_generation,
        )
        if same_sockets:
            live = set(self._last_live)
        else:
            live = {pid for r in table.listeners for pid in r.pids}
            live.update(r.pid for r in table.listeners if r.pid is not None)
        infos = {pid: self._info(pid) for pid in live}
        steady = (
            same_sockets
            and infos == self._last_infos
            and counts == self._last_counts
            and self.ephemeral_range == self._last_range
            and not self._cgroups.searching
        )
        if steady:
            # Nothing a row is made of changed: the same rows, in the same order.
            listeners = self._last_listeners
        else:
            self._next_rows = {}
            listener_endpoints = {
                (s.family, s.local_address, s.local_port)
                for s in table.listeners
                if s.proto == "tcp"
            }
            listeners = tuple(
                sorted(
                    (
                        self._listener(group, counts, listener_endpoints)
                        for group in _by_bind(table.listeners)
                    ),
                    key=_sort_key,
                )
            )
            self._rows = self._next_rows
            if not self._listeners_generation or listeners != self._last_listeners:
                self._listeners_generation = next_generation()
            self._last_raw = list(table.listeners)
            self._last_raw_generation = table.listeners_generation
            self._last_live = frozenset(live)
            self._last_infos = infos
            self._last_counts = counts
            self._last_range = self.ephemeral_range
            self._last_listeners = listeners
        connections: tuple[Connection, ...] = ()
        if self.connection_owners:
            connections = tuple(self._connection(raw) for raw in table.established)
        self._scan_infos = {}
        live.update(c.pid for c in connections if c.pid is not None)
        self._processes.prune(live)
        self._identities.prune(live)

        if listeners is not self._unknown[0]:
            reasons = [row.owner_unknown for row in listeners]
            self._unknown = (
                listeners,
                reasons.count(OwnerUnknown.NEEDS_PRIVILEGES),
                reasons.count(OwnerUnknown.PENDING),
            )
        _, hidden, pending = self._unknown
        hint = f"{hidden} owners hidden: {self.source.privilege_hint}" if hidden else None
        return Snapshot(
            taken_at=taken_at,
            duration=time.perf_counter() - started,
            listeners=listeners,
            listeners_generation=self._listeners_generation,
            connections=connections,
            hidden_owners=hidden,
            pending_owners=pending,
            warming_up=bool(pending) and self.source.warming_up,
            hint=hint,
            backend=self.source.name,
            warnings=tuple(warnings),
        )

    def close(self) -> None:
        self.source.close()

    def _info(self, pid: int | None) -> ProcessInfo | None:
        if pid is None:
            return None
        try:
            return self._scan_infos[pid]
        except KeyError:
            pass
        try:
            info = self._processes.get(pid)
        except (OSError, psutil.Error):
            # Its details could not be read this time: what was known before
            # stands (the process is there; it just could not be read).
            info = self._last_infos.get(pid) or ProcessInfo(pid=pid)
        self._scan_infos[pid] = info
        return info

    def _listener(
        self,
        group: tuple[RawSocket, ...],
        counts: EstablishedCounts,
        listener_endpoints: set[Endpoint],
    ) -> Listener:
        """One bind's row from its sockets (one, or several sharing the port)."""
        raw = group[0]
        holders = self._holders(group)
        reason = next((r.owner_unknown for r in group if r.owner_unknown), None)
        if not holders and any(r.pid is not None for r in group):
            reason = OwnerUnknown.EXITED  # every holder exited between the read and now
        if not holders and reason is None:
            reason = OwnerUnknown.NOT_FOUND
        low, high = self.ephemeral_range or (0, -1)
        total = remote = 0
        if raw.proto == "tcp":
            total, remote = counts.for_listener(raw, listener_endpoints)
        identity = self._identity(holders[0], raw.local_port) if holders else None
        kernel = None if holders else self._kernel_owner(group)
        # ProcessInfo and Identity objects come from caches: the same object
        # means the same details, so compare by identity rather than hash a
        # command line per row.
        row_key = (
            group,
            tuple(map(id, holders)),
            reason,
            id(identity),
            kernel,
            total,
            remote,
            low,
            high,
        )
        cached = self._rows.get(row_key)
        if cached is not None and all(map(operator.is_, cached[0], holders)):
            row = cached[1]
        else:
            row = self._new_listener(
                raw,
                holders=holders,
                identity=identity,
                kernel=kernel,
                reason=reason,
                total=total,
                remote=remote,
                ephemeral=low <= raw.local_port <= high,
            )
        self._next_rows[row_key] = (holders, row)
        return row

    def _holders(self, group: tuple[RawSocket, ...]) -> tuple[ProcessInfo, ...]:
        """The live holders of a bind's sockets, the main one first.

        The main holder is the one whose parent is not a holder (a pre-fork
        server's master, not its workers); the oldest of those if several.
        """
        seen: dict[int, ProcessInfo] = {}
        for raw in group:
            for pid in raw.pids or ((raw.pid,) if raw.pid is not None else ()):
                if pid not in seen:
                    info = self._info(pid)
                    if info is not None:
                        seen[pid] = info
        if len(seen) < 2:
            return tuple(seen.values())
        roots = [info for info in seen.values() if info.ppid not in seen] or list(seen.values())
        main = min(roots, key=_age_order)
        rest = sorted((info for info in seen.values() if info is not main), key=_age_order)
        return (main, *rest)

    def _kernel_owner(self, group: tuple[RawSocket, ...]) -> CgroupOwner | None:
        """The unit or container the kernel says made a bind whose process is hidden."""
        cgroup_id = next((r.cgroup_id for r in group if r.cgroup_id is not None), None)
        return None if cgroup_id is None else self._cgroups.owner(cgroup_id)

    def _identity(self, info: ProcessInfo, port: int) -> Identity:
        return self._identities.identity(
            info.pid,
            info.started,
            info.name,
            info.cmdline,
            cwd=info.cwd,
            host_port=port,
        )

    def _new_listener(
        self,
        raw: RawSocket,
        *,
        holders: tuple[ProcessInfo, ...],
        identity: Identity | None,
        kernel: CgroupOwner | None,
        reason: OwnerUnknown | None,
        total: int,
        remote: int,
        ephemeral: bool,
    ) -> Listener:
        info = holders[0] if holders else None
        user = info.user if info else self._users.name(raw.uid)
        unit = identity.unit if identity else (kernel.unit if kernel else None)
        container = identity.container if identity else (kernel.container if kernel else None)
        return Listener(
            proto=raw.proto,
            family=raw.family,
            address=raw.local_address,
            port=raw.local_port,
            pid=info.pid if info else None,
            process=info.name if info else None,
            exe=info.exe if info else None,
            cmdline=info.cmdline if info else None,
            user=user,
            started=info.started if info else None,
            service=service_name(raw.local_port, raw.proto),
            port_range=port_range(raw.local_port),
            ephemeral=ephemeral,
            exposure=classify(raw.local_address),
            v6only=raw.v6only if raw.family == 6 and is_wildcard(raw.local_address) else None,
            owner_unknown=None if info else reason,
            connections=total,
            remote_connections=remote,
            pids=tuple(holder.pid for holder in holders),
            holders=holders,
            app=identity.app if identity else None,
            project=identity.project if identity else None,
            unit=unit,
            container=container,
            cwd=identity.cwd if identity else None,
        )

    def _connection(self, raw: RawSocket) -> Connection:
        info = self._info(raw.pid)
        return Connection(
            proto=raw.proto,
            family=raw.family,
            local_address=raw.local_address,
            local_port=raw.local_port,
            remote_address=raw.remote_address or "",
            remote_port=raw.remote_port or 0,
            state=raw.state,
            pid=raw.pid if info is not None else None,
            process=info.name if info else None,
            user=info.user if info else None,
        )


def _unchanged(
    rows: list[RawSocket], generation: int, last_rows: list[RawSocket], last_generation: int
) -> bool:
    """Whether a table is the last read's: by generation where the source gives one.

    Sources that give none (0) hand back the same RawSocket objects for
    unchanged sockets, so comparing the lists is mostly identity checks, in C.
    """
    if generation:
        return generation == last_generation
    return rows == last_rows


def _by_bind(rows: list[RawSocket]) -> list[tuple[RawSocket, ...]]:
    """The sockets of each bind (proto, family, address, port), in the order read."""
    groups: dict[tuple[str, int, str, int], list[RawSocket]] = {}
    for raw in rows:
        bind = (raw.proto, raw.family, raw.local_address, raw.local_port)
        group = groups.get(bind)
        if group is None:
            groups[bind] = [raw]
        else:
            group.append(raw)
    return [tuple(group) for group in groups.values()]


def _age_order(info: ProcessInfo) -> tuple[float, int]:
    """Oldest first; a process whose start time is unknown after those whose is known."""
    return (info.started if info.started is not None else float("inf"), info.pid)


def _sort_key(listener: Listener) -> tuple[int, str, int, str]:
    return (listener.port, listener.proto, listener.family, listener.address)
