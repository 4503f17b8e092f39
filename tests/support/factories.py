"""The one place tests build Listener, Connection and Snapshot values.

Built the way the scanner builds them: the family and exposure follow the
address, the service and port range follow the port, and a listener with no
pid has no process text. Each owner field has a default made from the port
("proc3000", pid 1000 + port % 5000); a test module that wants other
defaults binds them once with :func:`functools.partial`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

from portwatch.core.exposure import classify
from portwatch.core.model import Connection, Listener, PortRange, Proto, Snapshot
from portwatch.core.services import port_range, service_name

_FROM_PORT: Any = object()  # "no value given": the default is made from the port


def listener(
    port: int = 3000,
    address: str = "127.0.0.1",
    *,
    proto: Proto = "tcp",
    pid: int | None = _FROM_PORT,
    process: str | None = _FROM_PORT,
    args: tuple[str, ...] = ("--serve",),
    remote: int = 0,
    **fields: Any,
) -> Listener:
    """A listener on ``address:port``; ``fields`` replace any other field.

    ``args`` follow the process name in the command line; ``remote`` is the
    number of connections, all of them from other machines.
    """
    pid = 1000 + port % 5000 if pid is _FROM_PORT else pid
    if pid is None:
        process = None  # the scanner names no process it found no pid for
    elif process is _FROM_PORT:
        process = f"proc{port}"
    known = pid is not None and process is not None
    base = Listener(
        proto=proto,
        family=6 if ":" in address else 4,
        address=address,
        port=port,
        pid=pid,
        process=process,
        exe=f"/usr/bin/{process}" if known else None,
        cmdline=(process or "?", *args) if pid is not None else None,
        user="alice",
        started=time.time() - 60,
        service=service_name(port, proto),
        port_range=port_range(port),
        ephemeral=False,
        exposure=classify(address),
        connections=remote,
        remote_connections=remote,
        pids=(pid,) if pid is not None else (),
        app=process if known else None,
    )
    if "pid" in fields and "pids" not in fields:
        new_pid = fields["pid"]
        fields["pids"] = (new_pid,) if new_pid is not None else ()
    return replace(base, **fields)


# A development server as the rules and history tests know it: "node serve",
# pid 100, user dev, started at 1.0, no service name.
node_listener = partial(
    listener,
    pid=100,
    process="node",
    args=("serve",),
    user="dev",
    started=1.0,
    service=None,
    port_range=PortRange.REGISTERED,
)


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
