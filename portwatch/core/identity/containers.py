"""The container behind a published port: docker-proxy's and rootlessport's.

Docker publishes a port with a ``docker-proxy`` process whose arguments say
where it forwards: ``-proto tcp -host-ip 0.0.0.0 -host-port 8080
-container-ip 172.18.0.3 -container-port 80``. Podman's rootless
``rootlessport`` has no such arguments; its container is found by the host
port it publishes.

The container's name and its compose project and service (the labels
``com.docker.compose.project`` / ``.service``) come from the Docker Engine API
(``GET /containers/json``; Podman serves the same API) on a local unix
socket: ``DOCKER_HOST`` when it is ``unix://...``, else the usual places. A
``tcp://`` DOCKER_HOST is ignored: portwatch never opens a network connection
to an engine. The JSON read is the shape of Engine API v1.43 (``Names``,
``Labels``, ``Ports[].PrivatePort/PublicPort/Type``,
``NetworkSettings.Networks.*.IPAddress``), unchanged in those fields since
v1.2x. Requests have a short timeout and happen at most once per
``min_interval`` seconds; where no engine answers, the command line still
gives "container 172.18.0.3:80".

Where no process can be seen, the socket's cgroup path may still say which
container made it (:func:`container_from_cgroup`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_RESPONSE_BYTES = 16 << 20
MAX_NAME_CHARS = 128
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")
PROXIES = frozenset({"docker-proxy", "rootlessport"})
# The scope a runtime with the systemd cgroup driver puts a container in:
# docker-<id>.scope (Docker), libpod-<id>.scope (Podman), cri-containerd-<id>.scope
# and crio-<id>.scope (Kubernetes). Podman's libpod-conmon-<id>.scope is its
# monitor process, not the container.
_CONTAINER_SCOPE = re.compile(r"(?:docker|libpod|cri-containerd|crio)-([0-9a-f]{64})\.scope")
SHORT_ID_CHARS = 12  # as `docker ps` and `podman ps` show an id


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """Where a port-publishing proxy forwards, as far as its command line says."""

    proto: str
    host_port: int | None
    container_ip: str | None
    container_port: int | None

    def describe(self) -> str:
        """What the command line alone says: "container 172.18.0.3:80"."""
        if self.container_ip is None:
            return "container"
        address = f"[{self.container_ip}]" if ":" in self.container_ip else self.container_ip
        return f"container {address}:{self.container_port}" if self.container_port else address


def _port(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 5:
        return None
    number = int(text)
    return number if 0 < number < 65536 else None


def proxy_target(program: str, cmdline: Sequence[str]) -> ProxyTarget | None:
    """The target of a docker-proxy or rootlessport process; None for any other program."""
    if program not in PROXIES:
        return None
    flags: dict[str, str] = {}
    args = list(cmdline[1:64])
    index = 0
    while index < len(args):
        arg = args[index]
        name, equals, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and not equals and index + 1 < len(args):
            value = args[index + 1]
            index += 1
        flags[name] = value[:64]
        index += 1
    ip = flags.get("container-ip") or None
    return ProxyTarget(
        proto=flags.get("proto", "tcp"),
        host_port=_port(flags.get("host-port")),
        container_ip=ip,
        container_port=_port(flags.get("container-port")),
    )


def container_from_cgroup(path: str) -> str | None:
    """The short id of the container a cgroup path is in ("4f1c2e3d5a6b"); None if none.

    The outermost container scope counts: a container running its own systemd
    has its services below it.
    """
    for part in path.split("/"):
        found = _CONTAINER_SCOPE.fullmatch(part)
        if found is not None:
            return found.group(1)[:SHORT_ID_CHARS]
    return None


@dataclass(frozen=True, slots=True)
class EngineContainer:
    """One running container as the Engine API lists it."""

    name: str
    compose_project: str | None
    compose_service: str | None
    addresses: frozenset[str]
    private_ports: frozenset[tuple[int, str]]  # (port, "tcp"/"udp")
    public_ports: frozenset[tuple[int, str]]


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip()[:MAX_NAME_CHARS] or None


def _container(item: object) -> EngineContainer | None:
    if not isinstance(item, dict):
        return None
    names = item.get("Names")
    first = names[0] if isinstance(names, list) and names else None
    name = _text(first.lstrip("/")) if isinstance(first, str) else None
    if name is None:
        return None
    labels = item.get("Labels")
    labels = labels if isinstance(labels, dict) else {}
    networks = (item.get("NetworkSettings") or {}).get("Networks")
    addresses = frozenset(
        n["IPAddress"]
        for n in (networks.values() if isinstance(networks, dict) else ())
        if isinstance(n, dict) and isinstance(n.get("IPAddress"), str) and n["IPAddress"]
    )
    ports = item.get("Ports")
    ports = [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []
    return EngineContainer(
        name=name,
        compose_project=_text(labels.get(PROJECT_LABEL)),
        compose_service=_text(labels.get(SERVICE_LABEL)),
        addresses=addresses,
        private_ports=frozenset(
            (p["PrivatePort"], str(p.get("Type", "tcp")))
            for p in ports
            if isinstance(p.get("PrivatePort"), int)
        ),
        public_ports=frozenset(
            (p["PublicPort"], str(p.get("Type", "tcp")))
            for p in ports
            if isinstance(p.get("PublicPort"), int)
        ),
    )


def parse_containers(data: object) -> list[EngineContainer]:
    """The containers of a ``/containers/json`` answer; odd entries are skipped."""
    if not isinstance(data, list):
        return []
    found: list[EngineContainer] = []
    for item in data:
        with contextlib.suppress(AttributeError, TypeError):
            container = _container(item)
            if container is not None:
                found.append(container)
    return found


def find_container(
    target: ProxyTarget, containers: Sequence[EngineContainer], host_port: int | None = None
) -> EngineContainer | None:
    """The container a proxy forwards to: by its address and private port, else published port."""
    if target.container_ip is not None:
        by_address = [c for c in containers if target.container_ip in c.addresses]
        for container in by_address:
            if (target.container_port, target.proto) in container.private_ports:
                return container
        if by_address:
            return by_address[0]
    published = target.host_port or host_port
    if published is None:
        return None
    for container in containers:
        if (published, target.proto) in container.public_ports:
            return container
    return None


def engine_sockets(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[str, ...]:
    """The unix sockets to ask: DOCKER_HOST's if it is one, else the usual places."""
    host = environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return (host.removeprefix("unix://"),)
    runtime = environ.get("XDG_RUNTIME_DIR")
    rootless = (f"{runtime}/podman/podman.sock", f"{runtime}/docker.sock") if runtime else ()
    return (*DEFAULT_SOCKETS, *rootless)


def fetch_containers(path: str, timeout: float) -> list[EngineContainer] | None:
    """``GET /containers/json`` on one socket; None if it cannot be read or answers oddly."""
    # Loaded when an engine is first asked: http.client brings ssl and email
    # along, a quarter of a scanner's memory, for a question most machines never ask.
    from http.client import HTTPException

    from portwatch.core.identity.unix_http import UnixHTTPConnection

    connection = UnixHTTPConnection(path, timeout)
    try:
        connection.request("GET", "/containers/json")
        response = connection.getresponse()
        body = response.read(MAX_RESPONSE_BYTES + 1)
        if response.status != 200 or len(body) > MAX_RESPONSE_BYTES:
            return None
        return parse_containers(json.loads(body))
    except (OSError, HTTPException, ValueError, RecursionError):
        return None
    finally:
        connection.close()


class EngineClient:
    """The local engines' container lists, asked at most once per ``min_interval`` seconds."""

    def __init__(
        self,
        sockets: Sequence[str] | None = None,
        *,
        timeout: float = 0.5,
        min_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sockets = tuple(sockets) if sockets is not None else engine_sockets()
        self._timeout = timeout
        self.min_interval = min_interval
        self._clock = clock
        self._asked_at: float | None = None
        self._containers: tuple[EngineContainer, ...] = ()
        self.requests = 0  # how many times the engines were asked (for tests and benchmarks)

    def containers(self) -> tuple[EngineContainer, ...]:
        """The running containers; the last list again if it is younger than ``min_interval``."""
        now = self._clock()
        if self._asked_at is not None and now - self._asked_at < self.min_interval:
            return self._containers
        self._asked_at = now
        self.requests += 1
        found: list[EngineContainer] = []
        for path in self._sockets:
            found.extend(fetch_containers(path, self._timeout) or ())
        self._containers = tuple(found)
        return self._containers
