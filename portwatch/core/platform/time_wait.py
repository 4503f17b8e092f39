"""TCP connections on a port that wait in TIME_WAIT, as the kernel counts them.

A closed connection's local port stays taken for up to a minute (TIME_WAIT)
on the side that closed first, usually the server. A server binding that
port without SO_REUSEADDR gets "Address already in use" meanwhile, and on
Linux even with it unless the old listener set it too: only the kernel's
table says whether such leftovers are what blocks a port.

Linux asks sock_diag (the /proc/net text tables where netlink is refused);
other systems ask psutil. None when the system would not say.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psutil

from portwatch.core.platform.linux_procfs import parse_proc_net

# include/net/tcp_states.h
TCP_TIME_WAIT = 6
# The longest a connection waits there on Linux (TCP_TIMEWAIT_LEN), and about
# as long elsewhere (2 MSL: 30-120 s); said as "up to a minute".
TIME_WAIT_SECONDS = 60


def _linux_count(port: int) -> int | None:
    from portwatch.core.platform.netlink.sock_diag import SockDiag

    try:
        diag = SockDiag()
    except OSError:
        return proc_net_time_wait(port)
    try:
        found = diag.dump("tcp", 1 << TCP_TIME_WAIT, only_local_ports={(4, port), (6, port)})
    except OSError:
        return proc_net_time_wait(port)
    finally:
        diag.close()
    return sum(1 for sock in found if sock.local_port == port)


def proc_net_time_wait(port: int, root: Path = Path("/proc/net")) -> int | None:
    """The count from /proc/net/tcp and tcp6; None if the IPv4 table cannot be read."""
    count = 0
    for name, family in (("tcp", 4), ("tcp6", 6)):
        try:
            text = (root / name).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            if family == 6:
                continue  # no IPv6 on this machine
            return None
        except OSError:
            return None
        waiting = parse_proc_net(text, "tcp", family, state=TCP_TIME_WAIT)
        count += sum(1 for sock in waiting if sock.local_port == port)
    return count


def _psutil_count(port: int) -> int | None:
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    return sum(
        1
        for conn in conns
        if conn.status == psutil.CONN_TIME_WAIT and conn.laddr and conn.laddr.port == port
    )


#: How many TCP connections with local port N are in TIME_WAIT; None if unknown.
time_wait_count = _linux_count if sys.platform.startswith("linux") else _psutil_count
