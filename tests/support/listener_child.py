"""A child process that binds the sockets named on its command line.

Each argument is KIND:ADDRESS:PORT with KIND one of tcp, tcp6only, tcp6dual,
udp, udp6only; PORT 0 lets the OS choose. The child prints one JSON line
with the bound ports in argument order, then waits until its stdin closes
(or --ignore-term makes it survive SIGTERM, for the force-kill path).
It accepts TCP connections and holds them open so tests can count them;
silent, or with --reply=TEXT it answers whatever a client sends with TEXT
and CRLF, as a line protocol such as redis's does.
"""

from __future__ import annotations

import json
import selectors
import signal
import socket
import sys


def open_socket(spec: str) -> socket.socket:
    kind, rest = spec.split(":", 1)
    address, port_text = rest.rsplit(":", 1)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    stype = socket.SOCK_DGRAM if kind.startswith("udp") else socket.SOCK_STREAM
    sock = socket.socket(family, stype)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        v6only = 0 if kind.endswith("dual") else 1
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    sock.bind((address, int(port_text)))
    if stype == socket.SOCK_STREAM:
        sock.listen(64)
    sock.setblocking(False)
    return sock


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    replies = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--reply=")]
    reply = (replies[0] + "\r\n").encode() if replies else None
    socks = [open_socket(spec) for spec in args]
    print(json.dumps([s.getsockname()[1] for s in socks]), flush=True)
    sel = selectors.DefaultSelector()
    for sock in socks:
        if sock.type == socket.SOCK_STREAM:
            sel.register(sock, selectors.EVENT_READ, "listener")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    held = []
    while True:
        for key, _ in sel.select(timeout=60):
            if key.data == "stdin":
                if not sys.stdin.readline():
                    return 0
            elif key.data == "client":
                client = key.fileobj
                assert isinstance(client, socket.socket)  # only replying clients are registered
                try:
                    request = client.recv(4096)
                    if request and reply is not None:
                        client.sendall(reply)
                except OSError:
                    request = b""
                if not request:
                    sel.unregister(client)
            else:
                server = key.fileobj
                assert isinstance(server, socket.socket)  # only listening sockets are registered
                conn, _ = server.accept()
                held.append(conn)
                if reply is not None:
                    sel.register(conn, selectors.EVENT_READ, "client")


if __name__ == "__main__":
    raise SystemExit(main())
