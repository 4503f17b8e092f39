"""A stand-in for the Docker Engine API on a unix socket, answering ``GET /containers/json``.

Its answers have the JSON shape of Docker Engine API v1.43 (the fields a real
engine sends for each container, not only those portwatch reads).
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any


def engine_container(
    name: str, ip: str, private: int, public: int | None, labels: dict[str, str]
) -> dict[str, Any]:
    """One entry of ``/containers/json`` as Engine API v1.43 writes it."""
    ports: list[dict[str, Any]] = [{"PrivatePort": private, "Type": "tcp"}]
    if public is not None:
        ports = [
            {"IP": "0.0.0.0", "PrivatePort": private, "PublicPort": public, "Type": "tcp"},
            {"IP": "::", "PrivatePort": private, "PublicPort": public, "Type": "tcp"},
        ]
    return {
        "Id": "8dfafdbc3a40" + "0" * 52,
        "Names": [f"/{name}"],
        "Image": "nginx:1.25",
        "ImageID": "sha256:" + "a" * 64,
        "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
        "Created": 1701590000,
        "Ports": ports,
        "Labels": labels,
        "State": "running",
        "Status": "Up 2 minutes",
        "HostConfig": {"NetworkMode": "shop_default"},
        "NetworkSettings": {
            "Networks": {
                "shop_default": {
                    "IPAMConfig": None,
                    "Links": None,
                    "Aliases": None,
                    "MacAddress": "02:42:ac:12:00:03",
                    "NetworkID": "c" * 64,
                    "EndpointID": "d" * 64,
                    "Gateway": "172.18.0.1",
                    "IPAddress": ip,
                    "IPPrefixLen": 16,
                    "IPv6Gateway": "",
                    "GlobalIPv6Address": "",
                    "GlobalIPv6PrefixLen": 0,
                    "DriverOpts": None,
                }
            }
        },
        "Mounts": [],
    }


COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
WEB = engine_container("shop-web-1", "172.18.0.3", 80, 8080, COMPOSE)
DB = engine_container("shop-db-1", "172.18.0.2", 5432, None, {})


class StubEngine:
    """A Docker Engine API stand-in on a unix socket: what it answers can be changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[str] = []
        self.status = 200
        self.body: bytes = json.dumps([WEB, DB]).encode()
        self.delay = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                time.sleep(stub.delay)
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Api-Version", "1.43")
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # a unix client has no address to log

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
