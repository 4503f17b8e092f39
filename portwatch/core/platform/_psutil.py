"""Turning psutil's connection tuples into RawSockets: shared by every platform."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import psutil

from portwatch.core.model import OwnerUnknown, Proto
from portwatch.core.platform.base import RawSocket, RawTable

_FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}


def _state(conn: Any) -> str:
    status = str(conn.status)
    if status == psutil.CONN_NONE:
        return "UNCONN"
    return status


def classify_connections(
    conns: Iterable[Any],
    *,
    unknown_reason: OwnerUnknown,
    kernel_pids: frozenset[int] = frozenset(),
) -> RawTable:
    """Split psutil's sconn/pconn tuples into listeners and established connections.

    ``kernel_pids`` are PIDs that stand for the OS itself (Windows' 0 and 4):
    their sockets are reported as kernel-owned.
    """
    table = RawTable()
    seen: set[tuple[Any, ...]] = set()
    for conn in conns:
        family = _FAMILIES.get(conn.family)
        if family is None or not conn.laddr:
            continue
        proto: Proto = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
        state = _state(conn)
        pid = getattr(conn, "pid", None)
        reason: OwnerUnknown | None = None
        if pid in kernel_pids:
            pid, reason = None, OwnerUnknown.KERNEL
        elif pid is None:
            reason = unknown_reason
        raddr = conn.raddr or None
        raw = RawSocket(
            proto=proto,
            family=family,
            local_address=conn.laddr.ip,
            local_port=conn.laddr.port,
            remote_address=raddr.ip if raddr else None,
            remote_port=raddr.port if raddr else None,
            state=state,
            pid=pid,
            owner_unknown=reason,
        )
        # psutil lists a socket shared by several fds of one process once per fd.
        dedup_key = (
            proto,
            family,
            raw.local_address,
            raw.local_port,
            raw.remote_address,
            raw.remote_port,
            state,
            pid,
        )
        if dedup_key in seen:
            continue
        seen.add(dedup_key)
        is_listener = (proto == "tcp" and state == psutil.CONN_LISTEN) or (
            proto == "udp" and raddr is None
        )
        if is_listener:
            table.listeners.append(raw)
        elif proto == "tcp" and state == psutil.CONN_ESTABLISHED:
            table.established.append(raw)
    return table


def per_process_connections(
    table_kind: str = "inet",
) -> tuple[list[Any], int]:
    """Walk every process we may read and collect its sockets.

    Returns psutil-style tuples carrying a ``pid`` and the number of processes
    that refused us. Used where the system-wide call needs privileges (macOS).
    """
    found: list[Any] = []
    refused = 0
    for proc in psutil.process_iter():
        try:
            conns = proc.net_connections(kind=table_kind)
        except (psutil.AccessDenied, psutil.ZombieProcess):
            refused += 1
            continue
        except psutil.NoSuchProcess:
            continue
        except OSError:
            refused += 1
            continue
        found.extend(_WithPid(c, proc.pid) for c in conns)
    return found, refused


class _WithPid:
    """A pconn (which has no pid field) paired with the pid it came from."""

    __slots__ = ("_conn", "pid")

    def __init__(self, conn: Any, pid: int) -> None:
        self._conn = conn
        self.pid = pid

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)
