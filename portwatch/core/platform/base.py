"""The one interface every platform's socket source implements."""

from __future__ import annotations

import abc
import os
import sys
from dataclasses import dataclass, field

from portwatch.core.model import OwnerUnknown, Proto


@dataclass(frozen=True, slots=True)
class RawSocket:
    """A socket as the OS reports it, before owners and services are attached."""

    proto: Proto
    family: int  # 4 or 6
    local_address: str
    local_port: int
    remote_address: str | None
    remote_port: int | None
    state: str  # "LISTEN", "ESTABLISHED", "UNCONN"
    pid: int | None  # the first of ``pids``: None when no holder was found
    # Filled in when the pid is None: why no owner could be found.
    owner_unknown: OwnerUnknown | None = None
    v6only: bool | None = None
    # Every process holding the socket (one fd or more each), as found.
    pids: tuple[int, ...] = ()
    # The uid the kernel says created the socket; None where the OS does not say.
    uid: int | None = None
    # The cgroup v2 id of the process that made it (Linux sock_diag); None where unknown.
    cgroup_id: int | None = None


@dataclass(slots=True)
class RawTable:
    """One read of the OS socket tables."""

    # Listening TCP sockets and bound, unconnected UDP sockets.
    listeners: list[RawSocket] = field(default_factory=list)
    # Established TCP connections.
    established: list[RawSocket] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Generations of the two lists (see portwatch.core.generation): equal to
    # the last read's, the list is the same. 0: the source does not say.
    listeners_generation: int = 0
    established_generation: int = 0


class TableReadError(OSError):
    """The socket table itself could not be read this time (not: a process refused).

    Its text is the reason in plain words. The scanner keeps the last picture
    it read, marked stale, until a read works again.
    """


def os_reason(exc: BaseException) -> str:
    """An OS error as a few plain lowercase words: "too many open files"."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def effective_uid() -> int | None:
    """This process's effective uid; None on Windows, which has none."""
    if sys.platform == "win32":
        return None
    return os.geteuid()


def ownerless_reason() -> OwnerUnknown:
    """Why a socket a system-wide table lists without a pid has none.

    As root every socket with an owner gets its pid; what remains belongs to
    the kernel (NFS, WireGuard …). As a user, the rest are other users'.
    """
    return OwnerUnknown.KERNEL if effective_uid() == 0 else OwnerUnknown.NEEDS_PRIVILEGES


class SocketSource(abc.ABC):
    """Reads listening sockets and established TCP connections from the OS."""

    #: Short name shown in diagnostics ("linux-psutil", "macos-walk" …).
    name: str = "abstract"
    #: What the user should do to see every owner.
    privilege_hint: str = "run as root to see them"

    @abc.abstractmethod
    def read(self, *, connection_owners: bool) -> RawTable:
        """Read the tables.

        ``connection_owners`` asks for the PID of every established connection
        too; without it only listeners need owners, which is much cheaper on
        some platforms.
        Must not raise for vanished processes or refused permissions; raises
        :class:`TableReadError` when the table itself could not be read (an
        empty table would look as if every port had been freed).
        """

    @property
    def warming_up(self) -> bool:
        """The first look for owners is still under way (see ``quick_start``)."""
        return False

    def ephemeral_range(self) -> tuple[int, int] | None:
        """The OS's range for automatically chosen local ports, if known."""
        return None

    def close(self) -> None:  # noqa: B027 - most sources hold nothing
        """Release anything the source holds (sockets, caches)."""
