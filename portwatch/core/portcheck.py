"""Is port N free? Bind it on the check addresses, name its holders, suggest the nearest free one.

Binding is the only honest test: a scan cannot see sockets in other network
namespaces, and a port can refuse a bind with nothing listening on it.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from portwatch.core.model import Listener, OwnerUnknown, Proto, Snapshot
from portwatch.core.naming import NO_LABELS, Labels, who_text
from portwatch.core.platform.time_wait import TIME_WAIT_SECONDS, time_wait_count
from portwatch.core.portspec import MAX_PORT, MIN_PORT
from portwatch.core.scanner import Scanner
from portwatch.core.settled import scan_port_settled

# Where a development server binds: "localhost" (127.0.0.1 or ::1 — Node 17+
# tries ::1 first) or every interface (0.0.0.0, ::). Checking the specific
# addresses too matters on Windows, where a wildcard bind succeeds next to a
# socket on 127.0.0.1.
CHECK_ADDRESSES = ("127.0.0.1", "0.0.0.0", "::1", "::")  # noqa: S104 - a probe, closed at once


def _require_port(port: int) -> None:
    """Callers parse typed text first (core.portspec); a number out of range here is a bug."""
    if not MIN_PORT <= port <= MAX_PORT:
        raise ValueError(f"port {port} is out of range: ports are {MIN_PORT}-{MAX_PORT}")


class BindStatus(StrEnum):
    FREE = "free"
    # Linux only: nothing listens, but connections closed in the last minute
    # (TIME_WAIT) still name the port. Servers that set SO_REUSEADDR (Node,
    # Python's http.server, most dev servers) can bind it; a plain bind cannot.
    LINGERING = "lingering"
    IN_USE = "in use"
    NOT_PERMITTED = "not permitted"
    UNAVAILABLE = "unavailable"  # e.g. no IPv6 on this machine


def try_bind(address: str, port: int, proto: Proto = "tcp") -> BindStatus:
    """Bind ``address:port`` once and release it at once.

    SO_REUSEADDR stays off: with it, BSD and macOS let a wildcard bind share
    a port a specific address listens on, and Windows lets it steal the port.
    On Linux, where SO_REUSEADDR still refuses a port something listens on,
    a refused port is probed again with it to tell TIME_WAIT leftovers
    (LINGERING) from a real holder.
    """
    status = _bind_once(address, port, proto, reuse=False)
    if status is BindStatus.IN_USE and proto == "tcp" and sys.platform.startswith("linux"):
        if _bind_once(address, port, proto, reuse=True) is BindStatus.FREE:
            return BindStatus.LINGERING
    return status


def _bind_once(address: str, port: int, proto: Proto, *, reuse: bool) -> BindStatus:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        sock = socket.socket(family, kind)
    except OSError:
        return BindStatus.UNAVAILABLE
    with sock:
        if family == socket.AF_INET6:
            # Test the IPv6 side alone; 0.0.0.0 tests the IPv4 side.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif sys.platform == "win32":
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined,unused-ignore]
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                return BindStatus.IN_USE
            if exc.errno in (errno.EACCES, errno.EPERM, getattr(errno, "WSAEACCES", -1)):
                return BindStatus.NOT_PERMITTED
            return BindStatus.UNAVAILABLE
    return BindStatus.FREE


def bind_statuses(port: int, proto: Proto = "tcp") -> dict[str, BindStatus]:
    return {address: try_bind(address, port, proto) for address in CHECK_ADDRESSES}


def is_bindable(port: int, proto: Proto = "tcp") -> bool:
    """True when a server could bind ``port`` on localhost and on every interface."""
    statuses = bind_statuses(port, proto).values()
    return all(s in (BindStatus.FREE, BindStatus.UNAVAILABLE) for s in statuses) and any(
        s is BindStatus.FREE for s in statuses
    )


@dataclass(frozen=True, slots=True)
class Suggestion:
    start: int
    port: int | None
    proto: Proto = "tcp"

    def message(self) -> str:
        if self.port is None:
            return f"No free {self.proto.upper()} port between {self.start} and {MAX_PORT}."
        return f"{self.port}"


def suggest_free_port(
    start: int = 8000,
    proto: Proto = "tcp",
    *,
    skip: Iterable[int] = (),
    bindable: Callable[[int, Proto], bool] = is_bindable,
) -> Suggestion:
    """The nearest port at or above ``start`` that binds on every check address.

    Stops at 65535 rather than wrapping: a suggestion below what was asked
    would surprise more than "none". Ports in ``skip`` (e.g. ones a scan shows
    in use) are passed over without a bind.
    """
    _require_port(start)
    skipped = set(skip)
    for port in range(start, MAX_PORT + 1):
        if port not in skipped and bindable(port, proto):
            return Suggestion(start=start, port=port, proto=proto)
    return Suggestion(start=start, port=None, proto=proto)


@dataclass(frozen=True, slots=True)
class PortCheck:
    """The answer to "is port N free?"."""

    port: int
    proto: Proto
    statuses: dict[str, BindStatus] = field(default_factory=dict)
    holders: tuple[Listener, ...] = ()
    suggestion: Suggestion | None = None
    # TCP connections on the port waiting in TIME_WAIT (the kernel's count);
    # None when not asked (the port bound) or the system would not say.
    time_wait: int | None = None

    @property
    def free(self) -> bool:
        """Free for a development server: nothing holds it, it binds (SO_REUSEADDR allowed)."""
        usable = (BindStatus.FREE, BindStatus.LINGERING)
        values = self.statuses.values()
        return (
            not any(r.proto == self.proto for r in self.holders)
            and all(s in (*usable, BindStatus.UNAVAILABLE) for s in values)
            and any(s in usable for s in values)
        )

    @property
    def lingering(self) -> bool:
        return any(s is BindStatus.LINGERING for s in self.statuses.values())

    @property
    def not_permitted(self) -> bool:
        return any(s is BindStatus.NOT_PERMITTED for s in self.statuses.values())

    def held_by(self, labels: Labels = NO_LABELS) -> list[str]:
        """'vite — shop (PID 1234) on 127.0.0.1:3000 and [::1]:3000', one entry per holder."""
        endpoints: dict[str, list[str]] = {}
        for row in self.holders:
            if row.proto == self.proto:
                endpoints.setdefault(_holder_words(row, labels), []).append(row.endpoint)
        return [
            f"{who} on {' and '.join(dict.fromkeys(where))}" for who, where in endpoints.items()
        ]

    def message(self, labels: Labels = NO_LABELS) -> str:
        name = f"{self.proto.upper()} port {self.port}"
        waiting = _waiting(self.time_wait)
        if self.free and self.lingering:
            return (
                f"{name} is free for servers that set SO_REUSEADDR (Node, Python and most "
                f"development servers do): {waiting or 'connections closed lately are'} "
                f"in TIME_WAIT for up to {TIME_WAIT_SECONDS} s, and other servers get "
                "'Address already in use' until they expire."
            )
        if self.free:
            return f"{name} is free."
        if not any(s is not BindStatus.UNAVAILABLE for s in self.statuses.values()):
            return f"Could not test {name}: no address could be bound (is networking up?)."
        held = self.held_by(labels)
        if held:
            text = f"{name} is in use by " + "; ".join(held) + "."
        elif self.not_permitted and not any(s is BindStatus.IN_USE for s in self.statuses.values()):
            text = (
                f"Nothing listens on {name}, but binding it needs privileges "
                "(ports below 1024 are reserved for root/administrators)."
            )
        elif waiting:
            text = (
                f"Nothing listens on {name}, but {waiting} in TIME_WAIT for up to "
                f"{TIME_WAIT_SECONDS} s: a new server gets 'Address already in use' until "
                "they expire."
            )
        else:
            busy = [a for a, s in self.statuses.items() if s is BindStatus.IN_USE]
            text = (
                f"{name} cannot be bound on {', '.join(busy)} although no listener holds it: "
                "recently closed connections (TIME_WAIT) or another network namespace/container "
                "may still use it."
            )
        if self.suggestion is not None and self.suggestion.port is not None:
            text += f" Nearest free port: {self.suggestion.port}."
        elif self.suggestion is not None:
            text += " " + self.suggestion.message()
        return text


def _holder_words(row: Listener, labels: Labels) -> str:
    """Who holds ``row``, as a sentence names it; a hidden owner says that it is hidden."""
    label = labels.for_listener(row)
    if label is None and row.pid is None and row.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES:
        where = row.container or row.unit
        if where is None:
            return (
                f"{row.user}'s process (hidden)" if row.user else "another user's process (hidden)"
            )
        return f"{where} ({row.user}, hidden)" if row.user else f"{where} (hidden)"
    return who_text(row, label)


def _waiting(count: int | None) -> str | None:
    """'3 connections are', '1 connection is', or None when there are none or none known."""
    if not count:
        return None
    return f"{count:,} connection is" if count == 1 else f"{count:,} connections are"


def check_port(
    port: int,
    proto: Proto = "tcp",
    *,
    snapshot: Snapshot | None = None,
    suggest: bool = True,
) -> PortCheck:
    """Bind-check ``port``, name its holders from ``snapshot`` (or a scan), suggest another."""
    _require_port(port)
    statuses = bind_statuses(port, proto)
    rows = _rows_on(port, snapshot, in_use=_in_use(statuses))
    return _check(port, proto, statuses, rows, snapshot, suggest=suggest)


@dataclass(frozen=True, slots=True)
class PortAnswer:
    """'Can I use port N?' for TCP and UDP, on IPv4 and IPv6."""

    tcp: PortCheck
    udp: PortCheck

    @property
    def port(self) -> int:
        return self.tcp.port

    @property
    def free(self) -> bool:
        return self.tcp.free and self.udp.free

    @property
    def holders(self) -> tuple[Listener, ...]:
        return (*self.tcp.holders, *self.udp.holders)

    @property
    def suggestion(self) -> Suggestion | None:
        """The nearest free port of the protocol that is taken (TCP's when both are)."""
        return self.tcp.suggestion if not self.tcp.free else self.udp.suggestion

    def message(self, labels: Labels = NO_LABELS) -> str:
        """'Port 3000 is free (TCP and UDP).', else what takes each protocol, then the other."""
        if self.free and not self.tcp.lingering:
            return f"Port {self.port} is free (TCP and UDP)."
        checks = (self.tcp, self.udp)
        # What takes the port first; the other protocol's "is free" after it.
        ordered = sorted(checks, key=lambda check: check.free and not check.lingering)
        return " ".join(check.message(labels) for check in ordered)


def answer_port(port: int, *, snapshot: Snapshot | None = None, suggest: bool = True) -> PortAnswer:
    """:func:`check_port` for TCP and UDP, with one scan for both when one is needed."""
    _require_port(port)
    tcp_statuses = bind_statuses(port, "tcp")
    udp_statuses = bind_statuses(port, "udp")
    in_use = _in_use(tcp_statuses) or _in_use(udp_statuses)
    rows = _rows_on(port, snapshot, in_use=in_use)
    return PortAnswer(
        tcp=_check(port, "tcp", tcp_statuses, rows, snapshot, suggest=suggest),
        udp=_check(port, "udp", udp_statuses, rows, snapshot, suggest=suggest),
    )


def _in_use(statuses: dict[str, BindStatus]) -> bool:
    return any(s is not BindStatus.FREE for s in statuses.values())


def _rows_on(port: int, snapshot: Snapshot | None, *, in_use: bool) -> list[Listener]:
    """The listeners on ``port``: from ``snapshot``, else a scan when a bind was refused."""
    if snapshot is not None:
        return snapshot.on_port(port)
    if not in_use:
        return []
    scanner = Scanner(connection_owners=False)
    try:
        return scan_port_settled(scanner, port)
    finally:
        scanner.close()


def _check(
    port: int,
    proto: Proto,
    statuses: dict[str, BindStatus],
    rows: list[Listener],
    snapshot: Snapshot | None,
    *,
    suggest: bool,
) -> PortCheck:
    holders = tuple(row for row in rows if row.proto == proto)
    # Only the kernel says whether closed connections are what refuses the bind.
    waiting = _in_use(statuses) and proto == "tcp" and not holders
    check = PortCheck(
        port=port,
        proto=proto,
        statuses=statuses,
        holders=holders,
        time_wait=time_wait_count(port) if waiting else None,
    )
    if check.free or not suggest:
        return check
    # Ports the window's snapshot shows in use are passed over without a bind.
    busy = {row.port for row in snapshot.listeners if row.proto == proto} if snapshot else set()
    start = port + 1 if port < MAX_PORT else port
    suggestion = (
        suggest_free_port(start, proto, skip=busy)
        if port < MAX_PORT
        else Suggestion(start=port, port=None, proto=proto)
    )
    return replace(check, suggestion=suggestion)
