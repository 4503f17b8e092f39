"""Whether a listener serves web pages: known services, real probes of real children, the cache."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from portwatch.core.http_probe import (
    MAX_BROWSER_TABS,
    Prober,
    WebAnswer,
    WebAnswers,
    known_answer,
    probe_address,
    probe_http,
    web_verdict,
)
from portwatch.core.model import Listener
from portwatch.core.scanner import Scanner
from tests.support.factories import listener
from tests.support.procs import ListenerProcess
from tests.test_cli_identity import HttpServer

# What redis 7 answers a browser's first line: it quotes "HTTP/1.0" back.
REDIS_REPLY = "-ERR unknown command 'HEAD', with args beginning with: '/' 'HTTP/1.0' "
# Generous for a loaded machine: a real server's answer never races the clock here.
patient_probe = partial(probe_http, timeout=30.0)


class CountingProber:
    """Counts its calls (any thread may make them); answers as told or as ``probe`` finds.

    Until ``gate`` is set (when one is given) a call waits, bounded, for it.
    """

    def __init__(
        self,
        answer: WebAnswer = WebAnswer.YES,
        *,
        probe: Prober | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.answer = answer
        self.probe = probe
        self.gate = gate
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> WebAnswer:
        with self._lock:
            self.calls.append((host, port))
        if self.gate is not None:
            self.gate.wait(30)
        return self.probe(host, port) if self.probe is not None else self.answer


def scanned(pid: int, port: int) -> Listener:
    scanner = Scanner(connection_owners=False)
    try:
        [row] = [r for r in scanner.scan().on_port(port) if r.pid == pid]
    finally:
        scanner.close()
    return row


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    server = HttpServer(tmp_path)
    yield server
    server.stop()


def test_a_real_http_server_serves_web_pages(http_server: HttpServer) -> None:
    assert patient_probe("127.0.0.1", http_server.port) is WebAnswer.YES
    row = scanned(http_server.pid, http_server.port)
    assert (row.app or "").startswith("http.server")
    # Named by its app, it needs no probe at all.
    assert known_answer(row) is WebAnswer.YES
    prober = CountingProber(WebAnswer.NO)
    assert WebAnswers(prober).check(row) is WebAnswer.YES
    assert prober.calls == []
    # Not recognised, the probe finds it out.
    unnamed = replace(row, app=None)
    assert known_answer(unnamed) is None
    assert WebAnswers(patient_probe).check(unnamed) is WebAnswer.YES


def test_a_line_protocol_that_quotes_the_request_is_not_http() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0", "tcp:::1:0"], reply=REDIS_REPLY) as child:
        v4, v6 = child.ports
        assert patient_probe("127.0.0.1", v4) is WebAnswer.NO
        assert patient_probe("::1", v6) is WebAnswer.NO
        # The child does answer: what it says is "-ERR", not "HTTP/".
        with socket.create_connection(("127.0.0.1", v4), timeout=30) as client:
            client.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            assert client.recv(5) == b"-ERR "


def test_a_silent_listener_is_not_http() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as child:
        assert probe_http("127.0.0.1", child.ports[0], timeout=0.2) is WebAnswer.NO


def test_nothing_listening_or_another_address_cannot_tell() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed = spare.getsockname()[1]  # bound, never listening: refused
        assert probe_http("127.0.0.1", closed) is WebAnswer.UNKNOWN
    # Never anything but loopback, whatever it is asked.
    assert probe_http("192.0.2.1", 80) is WebAnswer.UNKNOWN


def test_only_loopback_is_probed() -> None:
    assert probe_address(listener(4100, "0.0.0.0")) == "127.0.0.1"
    assert probe_address(listener(4100, "::")) == "::1"
    assert probe_address(listener(4100, "127.0.0.2")) == "127.0.0.2"
    assert probe_address(listener(4100, "::1")) == "::1"
    assert probe_address(listener(4100, "::ffff:127.0.0.1")) == "::ffff:127.0.0.1"
    assert probe_address(listener(4100, "192.168.1.20")) is None
    assert probe_address(listener(4100, "fe80::1%eth0")) is None
    prober = CountingProber()
    answers = WebAnswers(prober)
    lan = listener(4100, "192.168.1.20")
    assert answers.answer(lan) is WebAnswer.UNKNOWN
    assert answers.check(lan) is WebAnswer.UNKNOWN
    assert prober.calls == []


def test_known_by_port_service_or_app() -> None:
    assert known_answer(listener(80, "0.0.0.0")) is WebAnswer.YES  # http
    assert known_answer(listener(8080, "127.0.0.1")) is WebAnswer.YES  # http-alt
    assert known_answer(listener(443, "0.0.0.0")) is WebAnswer.YES  # https
    assert known_answer(listener(5173, "127.0.0.1")) is WebAnswer.YES  # vite
    assert known_answer(listener(4101, app="vite")) is WebAnswer.YES
    assert known_answer(listener(4101, app="uvicorn shop.api:app")) is WebAnswer.YES
    assert known_answer(listener(4101, app="flask run")) is WebAnswer.YES
    assert known_answer(listener(4101, app="flask shell")) is None
    assert known_answer(listener(6379, "127.0.0.1", process="redis-server")) is None
    assert known_answer(listener(5353, "0.0.0.0", proto="udp")) is WebAnswer.NO


def test_each_socket_is_probed_once() -> None:
    prober = CountingProber(WebAnswer.NO)
    answers = WebAnswers(prober)
    redis = listener(6379, "127.0.0.1", pid=70, process="redis-server")
    assert answers.answer(redis) is None
    assert answers.check(redis) is WebAnswer.NO
    assert answers.check(redis) is WebAnswer.NO
    assert answers.answer(redis) is WebAnswer.NO
    assert prober.calls == [("127.0.0.1", 6379)]
    # Another holder of the same address and port is another socket.
    restarted = listener(6379, "127.0.0.1", pid=71, process="redis-server")
    assert answers.answer(restarted) is None
    answers.check(restarted)
    assert prober.calls == [("127.0.0.1", 6379), ("127.0.0.1", 6379)]


def test_the_verdict_in_words() -> None:
    redis = listener(6379, "127.0.0.1")
    web = listener(4102, "0.0.0.0")
    told = {redis.key: WebAnswer.NO, web.key: WebAnswer.YES}

    def answer_of(row: Listener) -> WebAnswer | None:
        return told.get(row.key)

    checking = web_verdict([listener(4103, "127.0.0.1")], answer_of)
    assert (checking.enabled, checking.waiting) == (False, True)
    assert checking.tooltip == "Checking whether this port serves web pages…"
    no = web_verdict([redis], answer_of)
    assert (no.enabled, no.tooltip) == (False, "Port 6379 does not serve web pages")
    udp = web_verdict([listener(5353, "0.0.0.0", proto="udp")], answer_of)
    assert (udp.enabled, udp.tooltip) == (False, "Port 5353 does not serve web pages")
    both = web_verdict([redis, web], answer_of)
    assert both.enabled
    assert both.urls == ("http://localhost:4102/",)
    assert both.tooltip == "Open http://localhost:4102/ in your browser"
    many = [listener(4200 + n, "127.0.0.1") for n in range(MAX_BROWSER_TABS + 3)]
    for row in many:
        told[row.key] = WebAnswer.YES
    assert len(web_verdict(many, answer_of).urls) == MAX_BROWSER_TABS
