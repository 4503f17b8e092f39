"""Listener and Connection values for model tests, built the way the scanner builds them."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from portwatch.core.exposure import classify
from portwatch.core.model import Connection, Listener, Snapshot
from portwatch.core.services import port_range, service_name


def listener(address: str, port: int, *, proto: str = "tcp", **fields: Any) -> Listener:
    family = 6 if ":" in address else 4
    base = Listener(
        proto="tcp" if proto == "tcp" else "udp",
        family=family,
        address=address,
        port=port,
        pid=fields.pop("pid", 1000 + port % 5000),
        process=fields.pop("process", f"proc{port}"),
        exe=f"/usr/bin/proc{port}",
        cmdline=(f"proc{port}", "--serve"),
        user="alice",
        started=time.time() - 60,
        service=service_name(port, proto),
        port_range=port_range(port),
        ephemeral=False,
        exposure=classify(address),
    )
    return replace(base, **fields)


def connection(local: str, lport: int, remote: str, rport: int, **fields: Any) -> Connection:
    family = 6 if ":" in local else 4
    return Connection(
        proto="tcp",
        family=family,
        local_address=local,
        local_port=lport,
        remote_address=remote,
        remote_port=rport,
        state=fields.pop("state", "ESTABLISHED"),
        pid=fields.pop("pid", 1000 + lport % 5000),
        process=fields.pop("process", f"proc{lport}"),
        user="alice",
    )


def snapshot(listeners: list[Listener], connections: list[Connection] | None = None) -> Snapshot:
    return Snapshot(
        taken_at=time.time(),
        duration=0.01,
        listeners=tuple(listeners),
        connections=tuple(connections or ()),
        backend="test",
    )
