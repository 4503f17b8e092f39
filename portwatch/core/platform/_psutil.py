"""Turning psutil's connection tuples into RawSockets: shared by every platform."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import replace
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
    # A listening socket held by several processes is listed once per process
    # (macOS, or once per fd): one row per bind, with every holder.
    listeners: dict[tuple[Any, ...], RawSocket] = {}
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
        is_listener = (proto == "tcp" and state == psutil.CONN_LISTEN) or (
            proto == "udp" and raddr is None
        )
        if is_listener:
            bind = (proto, family, conn.laddr.ip, conn.laddr.port)
            known = listeners.get(bind)
            if known is None:
                listeners[bind] = _raw(conn, proto, family, state, pid=pid, reason=reason)
            elif pid is not None and pid not in known.pids:
                listeners[bind] = replace(
                    known, pid=known.pid or pid, owner_unknown=None, pids=(*known.pids, pid)
                )
            continue
        if not (proto == "tcp" and state == psutil.CONN_ESTABLISHED):
            continue
        # psutil lists a socket shared by several fds of one process once per fd.
        dedup_key = (proto, family, conn.laddr, raddr, pid)
        if dedup_key in seen:
            continue
        seen.add(dedup_key)
        table.established.append(_raw(conn, proto, family, state, pid=pid, reason=reason))
    table.listeners.extend(listeners.values())
    return table


def _raw(
    conn: Any,
    proto: Proto,
    family: int,
    state: str,
    *,
    pid: int | None,
    reason: OwnerUnknown | None,
) -> RawSocket:
    raddr = conn.raddr or None
    return RawSocket(
        proto=proto,
        family=family,
        local_address=conn.laddr.ip,
        local_port=conn.laddr.port,
        remote_address=raddr.ip if raddr else None,
        remote_port=raddr.port if raddr else None,
        state=state,
        pid=pid,
        owner_unknown=reason,
        pids=(pid,) if pid is not None else (),
    )


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
