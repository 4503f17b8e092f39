"""A pre-fork server: the master listens on 127.0.0.1 and its forked workers accept.

Usage: ``prefork_child.py [WORKERS]`` (2 by default). The master binds an
ephemeral port, forks the workers (they inherit the listening socket and
hold the connections they accept), prints one JSON line
``{"port": PORT, "workers": [PID, ...]}`` and waits until its stdin closes;
then it ends its workers by PID and exits. A worker also leaves on its own
once its master is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys


def work(server: socket.socket, master: int) -> None:
    server.settimeout(0.2)
    held = []
    while os.getppid() == master:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        held.append(conn)
    os._exit(0)


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    master = os.getpid()
    workers = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            work(server, master)
        workers.append(pid)
    print(json.dumps({"port": server.getsockname()[1], "workers": workers}), flush=True)
    sys.stdin.read()  # until the test closes it
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    for pid in workers:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
