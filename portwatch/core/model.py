"""The immutable values the engine produces: listeners, connections, snapshots."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from portwatch.core.owner_text import owner_name, owner_text

Proto = Literal["tcp", "udp"]


class Exposure(StrEnum):
    """How far a bind reaches, ordered from least to most exposed."""

    LOOPBACK = "loopback"
    LAN = "lan"
    PUBLIC = "public"

    @property
    def rank(self) -> int:
        return _EXPOSURE_RANK[self]


_EXPOSURE_RANK = {Exposure.LOOPBACK: 0, Exposure.LAN: 1, Exposure.PUBLIC: 2}


class PortRange(StrEnum):
    WELL_KNOWN = "well-known"
    REGISTERED = "registered"
    DYNAMIC = "dynamic"


class OwnerUnknown(StrEnum):
    """Why a socket has no owning process."""

    NEEDS_PRIVILEGES = "needs privileges"
    KERNEL = "kernel-owned"
    EXITED = "process exited"
    NOT_FOUND = "not found"
    PENDING = "looking up"  # the owner walk has not reached this socket yet
    # The owner walk itself failed (too many open files, a refusal as root):
    # nobody may hold it, or somebody may; the snapshot's warnings say why.
    LOOKUP_FAILED = "owner hidden (could not read)"


# (proto, family, address, port): one socket as a person and the kernel bind it.
# Every process holding it is on the one row (``pids``), so it is not in the key.
ListenerKey = tuple[str, int, str, int]


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """What we could learn about one process; None where it was not readable."""

    pid: int
    name: str | None = None
    exe: str | None = None
    cmdline: tuple[str, ...] | None = None
    user: str | None = None
    started: float | None = None
    cwd: str | None = None
    zombie: bool = False
    ppid: int | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening TCP socket or bound, unconnected UDP socket, with all its holders.

    A socket several processes hold (a pre-fork server's master and workers,
    systemd socket activation, sockets sharing the port with SO_REUSEPORT) is
    one listener: ``pids`` are all of them, the main one first, and ``pid``
    and the process fields describe the main one.
    """

    proto: Proto
    family: int  # 4 or 6
    address: str  # as bound, no brackets
    port: int
    pid: int | None
    process: str | None
    exe: str | None
    cmdline: tuple[str, ...] | None
    user: str | None
    started: float | None
    service: str | None
    port_range: PortRange
    ephemeral: bool
    exposure: Exposure
    # Only meaningful for a wildcard IPv6 bind: True = IPv6 only, False = also
    # accepts IPv4 (dual-stack), None = the OS did not say.
    v6only: bool | None = None
    owner_unknown: OwnerUnknown | None = None
    connections: int = 0
    remote_connections: int = 0
    # Every process holding the socket, the main holder (``pid``) first.
    pids: tuple[int, ...] = ()
    # The holders' details in the order of ``pids`` (for the details pane).
    holders: tuple[ProcessInfo, ...] = ()
    # Who the main holder is to a person (core.identity): never empty when
    # the owner is known; None where unknown.
    app: str | None = None
    project: str | None = None
    unit: str | None = None
    container: str | None = None
    # Where the process cannot be seen, ``user``, ``unit`` and ``container``
    # may still come from the kernel (the socket's uid and cgroup).
    cwd: str | None = None
    # (proto, family, address, port), made once: every table looks each
    # row up by it on every poll, and a property would be a Python call each time.
    key: ListenerKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.proto, self.family, self.address, self.port))

    @property
    def endpoint(self) -> str:
        return format_endpoint(self.address, self.port, self.family)

    @property
    def holder_pids(self) -> tuple[int, ...]:
        """Every process holding the socket; a row made without ``pids`` stands for its ``pid``."""
        return self.pids or ((self.pid,) if self.pid is not None else ())

    @property
    def owner_label(self) -> str:
        """'nginx', 'PID 1234' or 'owner unknown: needs privileges' (:func:`owner_name`)."""
        return owner_name(self.process, self.pid, self.owner_unknown or OwnerUnknown.NOT_FOUND)

    @property
    def owner(self) -> str:
        """'nginx (PID 1234)' or 'owner unknown: needs privileges' (:func:`owner_text`)."""
        return owner_text(self.process, self.pid, self.owner_unknown or OwnerUnknown.NOT_FOUND)

    @property
    def stack(self) -> str | None:
        """'dual-stack' or 'IPv6 only' for a wildcard IPv6 bind, else None."""
        if self.family != 6 or self.address != "::" or self.v6only is None:
            return None
        return "IPv6 only" if self.v6only else "dual-stack"

    def to_json(self, label: str | None = None) -> dict[str, Any]:
        """Every field, ``pids`` as a list, and the user's ``label`` (None if none)."""
        data = asdict(self)
        del data["key"]  # its parts are there already
        del data["holders"]  # ``pids`` names them; their details are the main one's
        data["pids"] = list(self.pids)
        data["label"] = label
        data["cmdline"] = list(self.cmdline) if self.cmdline is not None else None
        data["exposure"] = str(self.exposure)
        data["port_range"] = str(self.port_range)
        data["owner_unknown"] = str(self.owner_unknown) if self.owner_unknown else None
        return data


@dataclass(frozen=True, slots=True)
class Connection:
    """One TCP connection as a 5-tuple with its state and owner."""

    proto: Proto
    family: int
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: str
    pid: int | None
    process: str | None = None
    user: str | None = None

    @property
    def local(self) -> str:
        return format_endpoint(self.local_address, self.local_port, self.family)

    @property
    def remote(self) -> str:
        return format_endpoint(self.remote_address, self.remote_port, self.family)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one scan saw, at one moment."""

    taken_at: float
    duration: float
    listeners: tuple[Listener, ...]
    connections: tuple[Connection, ...] = ()
    # How many sockets have no visible owner because we lack privileges.
    hidden_owners: int = 0
    # Listeners whose owner is still being looked up (OwnerUnknown.PENDING).
    pending_owners: int = 0
    # The backend's first look at every process is still under way: owners
    # are filling in, and the next scan should come soon.
    warming_up: bool = False
    hint: str | None = None
    backend: str = ""
    warnings: tuple[str, ...] = field(default=())
    # Set when this scan could not read the socket table: why, in plain words.
    # The listeners are then the last picture that was read (``taken_at`` is
    # when), or none if no read has worked yet. A stale snapshot is no news:
    # it yields no events, no alerts and no history.
    stale: str | None = None
    # Goes up (from one counter for the whole process) only when ``listeners``
    # differs from the last scan's: equal numbers mean the very same rows, so
    # a consumer that compares it can skip a quiet poll. 0: not from a scanner.
    listeners_generation: int = 0

    def by_key(self) -> dict[ListenerKey, Listener]:
        return {listener.key: listener for listener in self.listeners}

    def on_port(self, port: int) -> list[Listener]:
        return [listener for listener in self.listeners if listener.port == port]

    @property
    def worst_exposure(self) -> Exposure | None:
        if not self.listeners:
            return None
        return max((listener.exposure for listener in self.listeners), key=lambda e: e.rank)

    def count(self, exposure: Exposure) -> int:
        return sum(1 for listener in self.listeners if listener.exposure == exposure)


def format_endpoint(address: str, port: int, family: int) -> str:
    """127.0.0.1:80 or [::1]:80: the form people type into a browser."""
    if family == 6:
        return f"[{address}]:{port}"
    return f"{address}:{port}"
