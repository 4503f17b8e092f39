"""Containers behind published ports: a real docker-proxy-shaped child and a stub Engine API.

The stub (:mod:`tests.support.engine_stub`) answers ``GET /containers/json``
on a unix socket in the test's folder with the JSON shape of Docker Engine API v1.43.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from portwatch.core.identity import IdentityCache
from portwatch.core.identity.cache import CONTAINER_TRIES
from portwatch.core.identity.containers import (
    EngineClient,
    engine_sockets,
    fetch_containers,
    find_container,
    parse_containers,
    proxy_target,
)
from portwatch.core.procinfo import read_process
from tests.support.engine_stub import DB, WEB, StubEngine
from tests.support.shaped_child import ShapedChild

PROXY_ARGS = [
    "-proto",
    "tcp",
    "-host-ip",
    "0.0.0.0",
    "-host-port",
    "8080",
    "-container-ip",
    "172.18.0.3",
    "-container-port",
    "80",
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[StubEngine]:
    stub = StubEngine(tmp_path / "e.sock")
    try:
        yield stub
    finally:
        stub.close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ShapedChild]:
    with ShapedChild("docker-proxy", tmp_path / "bin" / "docker-proxy", PROXY_ARGS, tmp_path) as c:
        yield c


def _identity(cache: IdentityCache, pid: int, host_port: int | None = None) -> Any:
    info = read_process(psutil.Process(pid))
    assert info is not None
    return cache.identity(
        pid, info.started, info.name, info.cmdline, cwd=info.cwd, host_port=host_port
    )


def test_a_docker_proxy_is_named_for_its_container_from_the_engine(
    engine: StubEngine, proxy: ShapedChild
) -> None:
    cache = IdentityCache(engine=EngineClient([str(engine.path)]))
    found = _identity(cache, proxy.pid)
    assert (found.app, found.container, found.project) == ("web", "shop-web-1", "shop")
    assert engine.requests == ["/containers/json"]


def test_without_an_engine_the_command_line_names_the_container(
    tmp_path: Path, proxy: ShapedChild
) -> None:
    client = EngineClient([str(tmp_path / "missing.sock"), str(tmp_path)])  # absent, not a socket
    found = _identity(IdentityCache(engine=client), proxy.pid)
    assert (found.app, found.container) == ("docker-proxy", "container 172.18.0.3:80")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"message": "server error"}'),
        (200, b"not json"),
        (200, b'{"message": "not a list"}'),
        (200, b'[{"Names": 5}, 7, {"Names": ["/x"], "NetworkSettings": []}]'),
        (200, b"[" * 100_000),
    ],
)
def test_an_engine_answering_oddly_leaves_the_command_line_name(
    engine: StubEngine, proxy: ShapedChild, status: int, body: bytes
) -> None:
    engine.status, engine.body = status, body
    found = _identity(IdentityCache(engine=EngineClient([str(engine.path)])), proxy.pid)
    assert found.container == "container 172.18.0.3:80"


def test_a_slow_engine_is_given_up_on_quickly(engine: StubEngine) -> None:
    engine.delay = 3.0
    started = time.monotonic()
    assert fetch_containers(str(engine.path), timeout=0.3) is None
    assert time.monotonic() - started < 2.0


def test_the_engine_is_asked_at_most_once_per_interval(engine: StubEngine) -> None:
    now = [100.0]
    client = EngineClient([str(engine.path)], min_interval=5.0, clock=lambda: now[0])
    for _ in range(20):
        assert [c.name for c in client.containers()] == ["shop-web-1", "shop-db-1"]
    assert client.requests == 1
    assert len(engine.requests) == 1
    now[0] += 5.0
    client.containers()
    assert len(engine.requests) == 2


def _cache_on_a_clock(engine: StubEngine) -> tuple[IdentityCache, list[float]]:
    """A cache asking ``engine`` every 5 s at most, on a clock the test moves (``now[0]``)."""
    now = [0.0]
    client = EngineClient([str(engine.path)], min_interval=5.0, clock=lambda: now[0])
    return IdentityCache(engine=client, clock=lambda: now[0]), now


def test_a_container_listed_after_its_proxy_started_is_found_later(
    engine: StubEngine, proxy: ShapedChild
) -> None:
    # docker-proxy starts while the container is being set up, before it is "running".
    engine.body = b"[]"
    cache, now = _cache_on_a_clock(engine)
    assert _identity(cache, proxy.pid).container == "container 172.18.0.3:80"
    engine.body = json.dumps([WEB]).encode()
    now[0] += 1.0
    assert _identity(cache, proxy.pid).container == "container 172.18.0.3:80"  # not yet asked
    now[0] += 5.0
    assert _identity(cache, proxy.pid).container == "shop-web-1"
    asked = len(engine.requests)
    for _ in range(5):
        now[0] += 10.0
        _identity(cache, proxy.pid)
    assert len(engine.requests) == asked  # found: never asked again for this process


def test_an_unknown_container_is_asked_about_a_bounded_number_of_times(
    engine: StubEngine, proxy: ShapedChild
) -> None:
    engine.body = b"[]"
    cache, now = _cache_on_a_clock(engine)
    for _ in range(CONTAINER_TRIES + 5):
        _identity(cache, proxy.pid)
        now[0] += 6.0
    assert len(engine.requests) == CONTAINER_TRIES


def test_rootlessport_is_matched_by_the_port_it_publishes(
    engine: StubEngine, tmp_path: Path
) -> None:
    with ShapedChild("rootlessport", tmp_path / "rootlessport", [], tmp_path) as child:
        cache = IdentityCache(engine=EngineClient([str(engine.path)]))
        found = _identity(cache, child.pid, host_port=8080)
        assert (found.app, found.container, found.project) == ("web", "shop-web-1", "shop")
    with ShapedChild("rootlessport", tmp_path / "rootlessport", [], tmp_path) as child:
        cache = IdentityCache(engine=EngineClient([str(tmp_path / "none.sock")]))
        assert _identity(cache, child.pid, host_port=8080).container == "container"


def test_other_processes_have_no_container_and_never_ask(engine: StubEngine) -> None:
    client = EngineClient([str(engine.path)])
    cache = IdentityCache(engine=client)
    found = cache.identity(1, 1.0, "nginx", ["nginx", "-container-ip", "1.2.3.4"], cwd="/")
    assert found.container is None
    assert engine.requests == []


def test_only_a_unix_docker_host_is_used() -> None:
    assert engine_sockets({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}) == (
        "/run/user/1000/docker.sock",
    )
    for host in ("tcp://10.0.0.5:2375", "ssh://me@box", "npipe:////./pipe/docker", ""):
        sockets = engine_sockets({"DOCKER_HOST": host, "XDG_RUNTIME_DIR": "/run/user/1000"})
        assert "/var/run/docker.sock" in sockets
        assert "/run/user/1000/podman/podman.sock" in sockets
        assert all(s.startswith("/") for s in sockets)


def test_proxy_arguments_in_each_flag_form() -> None:
    target = proxy_target("docker-proxy", ["docker-proxy", *PROXY_ARGS])
    assert target is not None
    assert (target.proto, target.host_port, target.container_ip, target.container_port) == (
        "tcp",
        8080,
        "172.18.0.3",
        80,
    )
    equals = proxy_target(
        "docker-proxy",
        ["x", "--proto=udp", "--container-ip=fd00::3", "--container-port=53", "-host-port=5353"],
    )
    assert equals is not None
    assert equals.describe() == "container [fd00::3]:53"
    assert equals.host_port == 5353
    assert equals.proto == "udp"
    hostile = proxy_target("docker-proxy", ["x", "-container-port", "99999999", "-host-port"])
    assert hostile is not None
    assert hostile.container_port is None
    assert proxy_target("nginx", ["nginx", *PROXY_ARGS]) is None


def test_matching_prefers_address_and_port_then_the_published_port() -> None:
    containers = parse_containers([WEB, DB])
    target = proxy_target("docker-proxy", ["docker-proxy", *PROXY_ARGS])
    assert target is not None
    found = find_container(target, containers)
    assert found is not None
    assert found.name == "shop-web-1"
    elsewhere = proxy_target(
        "docker-proxy", ["x", "-container-ip", "10.9.9.9", "-host-port", "8080"]
    )
    assert elsewhere is not None
    by_published_port = find_container(elsewhere, containers)
    assert by_published_port is not None
    assert by_published_port.name == "shop-web-1"
    nowhere = proxy_target("docker-proxy", ["x", "-container-ip", "10.9.9.9"])
    assert nowhere is not None
    assert find_container(nowhere, containers) is None
    assert parse_containers({"message": "x"}) == []
    assert parse_containers([None, "x", {"Names": []}, {"Names": ["/"]}]) == []
