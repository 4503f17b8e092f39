"""`list`, `who`, `watch` and `free` speak in apps: real servers in real project folders.

Each server is a real ``python -m http.server`` (or a real forking server) on
127.0.0.1, started in a temporary project folder; each command is a real
``python -m portwatch`` process. Labels come from a real settings file in the
isolated config folder (tests/conftest.py). The wording of `who` is checked
on factory listeners too, for the shapes a test machine cannot start (a unit,
a container, a socket whose process is hidden).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from portwatch.cli.who_text import who_lines
from portwatch.core import paths
from portwatch.core.model import ProcessInfo
from portwatch.core.naming import NO_LABELS, Labels
from portwatch.core.settings import Settings, save_settings
from tests.support.factories import listener

ROOT = Path(__file__).resolve().parent.parent
# Every object describing a listener has every one of these, null when unknown.
KEYS = {
    "proto",
    "family",
    "address",
    "port",
    "pid",
    "process",
    "user",
    "exe",
    "cmdline",
    "service",
    "exposure",
    "connections",
    "remote_connections",
    "pids",
    "app",
    "project",
    "unit",
    "container",
    "cwd",
    "label",
}
SERVING = re.compile(r"Serving HTTP on \S+ port (\d+)")
FORKER = """\
import json, os, socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
workers = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        sys.stdin.read()
        os._exit(0)
    workers.append(pid)
print(json.dumps({"port": server.getsockname()[1], "workers": workers}), flush=True)
sys.stdin.read()
for pid in workers:
    os.waitpid(pid, 0)
"""


def portwatch(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def _lines(stream: Any, deadline: float) -> Iterator[str]:
    """Lines from a child's pipe until it closes or ``deadline`` passes (never blocks past it)."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    buffer = b""
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8")


def _end(proc: subprocess.Popen[bytes]) -> None:
    """End a child we started, by its PID, and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class HttpServer:
    """``python -m http.server --bind 127.0.0.1 0`` working in ``cwd``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd.resolve()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"],
            cwd=self.cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid
        found = None
        for line in _lines(self.proc.stdout, time.monotonic() + 20):
            found = SERVING.search(line)
            if found:
                break
        if found is None:
            self.stop()
            raise RuntimeError(f"http.server did not start in {cwd}")
        self.port = int(found.group(1))

    @property
    def app(self) -> str:
        return f"http.server {self.cwd.name}"  # the name of the folder it serves

    def stop(self) -> None:
        _end(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def projects(tmp_path: Path) -> Iterator[dict[str | None, HttpServer]]:
    """One server per kind of project folder, keyed by the project it must be given."""
    storefront = tmp_path / "storefront"
    (storefront / "app").mkdir(parents=True)
    (storefront / "package.json").write_text(json.dumps({"name": "checkout-ui"}))
    api = tmp_path / "api"
    api.mkdir()
    (api / "pyproject.toml").write_text('[project]\nname = "shop-api"\nversion = "0.1"\n')
    (tmp_path / "shop-frontend" / ".git").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    folders: dict[str | None, Path] = {
        "checkout-ui": storefront / "app",  # started below the folder naming it
        "shop-api": api,
        "shop-frontend": tmp_path / "shop-frontend",  # only .git: the folder's name
        None: tmp_path / "plain",
    }
    servers: dict[str | None, HttpServer] = {}
    try:
        for project, folder in folders.items():
            servers[project] = HttpServer(folder)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _by_pid(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["pid"]: row for row in rows if row["pid"] is not None}


def test_list_json_names_the_app_project_and_folder(
    projects: dict[str | None, HttpServer],
) -> None:
    done = portwatch("list", "--json")
    rows = json.loads(done.stdout)
    assert rows
    for row in rows:
        assert set(row) >= KEYS, sorted(KEYS - set(row))
    mine = _by_pid(rows)
    for project, server in projects.items():
        row = mine[server.pid]
        assert (row["port"], row["pids"], row["label"]) == (server.port, [server.pid], None)
        assert (row["app"], row["project"], row["cwd"]) == (server.app, project, str(server.cwd))
        assert row["container"] is None


def test_who_names_the_app_and_project_in_text_and_json(
    projects: dict[str | None, HttpServer],
) -> None:
    for project, server in projects.items():
        rows = json.loads(portwatch("who", str(server.port), "--json").stdout)
        assert [(r["pid"], r["pids"], r["project"], r["label"]) for r in rows] == [
            (server.pid, [server.pid], project, None)
        ]
        assert set(rows[0]) >= KEYS
        out = portwatch("who", str(server.port)).stdout.splitlines()
        named = f"{server.app} — {project}" if project else server.app
        if server.cwd.name == project:  # serving the project's own folder: named once
            named = f"http.server — {project}"
        assert out[0] == (
            f"Port {server.port}: {named} (PID {server.pid}), "
            "listening on 127.0.0.1 (only this computer)"
        )
        assert f"  folder:    {server.cwd}" in out
        assert (f"  project:   {project}" in out) is (project is not None)
    checkout = projects["checkout-ui"]
    first = portwatch("who", str(checkout.port)).stdout.splitlines()[0]
    assert re.match(rf"Port {checkout.port}: http\.server .* — checkout-ui \(PID \d+\)", first)


def test_labels_from_the_settings_file_come_first(
    projects: dict[str | None, HttpServer],
) -> None:
    checkout, api = projects["checkout-ui"], projects["shop-api"]
    settings = (
        Settings().with_port_label(checkout.port, "Checkout UI").with_app_label(api.app, "API")
    )
    save_settings(settings)
    mine = _by_pid(json.loads(portwatch("list", "--json").stdout))
    assert mine[checkout.pid]["label"] == "Checkout UI"
    assert mine[api.pid]["label"] == "API"
    assert mine[projects[None].pid]["label"] is None
    # The Process column: the label in place of the app.
    table = portwatch("list", "--tcp").stdout.splitlines()
    row = next(line for line in table if f" {checkout.pid} " in line)
    assert row.split()[6:8] == ["Checkout", "UI"]
    out = portwatch("who", str(checkout.port)).stdout.splitlines()
    assert out[0] == (
        f"Port {checkout.port}: Checkout UI (PID {checkout.pid}), "
        "listening on 127.0.0.1 (only this computer)"
    )
    assert f"  app:       {checkout.app} — checkout-ui" in out
    records = list(csv.DictReader(io.StringIO(portwatch("list", "--csv").stdout)))
    record = next(r for r in records if r["pid"] == str(api.pid))
    assert (record["label"], record["pids"], record["project"]) == ("API", str(api.pid), "shop-api")


@pytest.mark.parametrize("damage", ["not json", "a folder"])
def test_a_bad_settings_file_is_one_warning_and_no_labels(
    projects: dict[str | None, HttpServer], damage: str
) -> None:
    path = paths.settings_file()
    if damage == "not json":
        path.write_bytes(b'{"port_labels": {"3000": "Shop')
    else:
        path.mkdir()
    done = portwatch("list", "--json")
    mine = _by_pid(json.loads(done.stdout))
    server = projects["shop-frontend"]
    assert (mine[server.pid]["project"], mine[server.pid]["label"]) == ("shop-frontend", None)
    said = [line for line in done.stderr.splitlines() if "settings" in line]
    assert len(said) == 1, done.stderr
    assert said[0].startswith("warning: ")


def test_watch_json_events_carry_the_identity_and_label(tmp_path: Path) -> None:
    folder = tmp_path / "docs-site"
    (folder / ".git").mkdir(parents=True)
    save_settings(Settings().with_app_label(f"http.server {folder.resolve().name}", "Docs"))
    watch = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "watch", "--json", "--interval", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    server: HttpServer | None = None
    try:
        server = HttpServer(folder)
        events: list[dict[str, Any]] = []
        # Bound, unless the server was up before watch's first scan (then it is
        # no news); either way its freed event must come once it is stopped.
        for line in _lines(watch.stdout, time.monotonic() + 5):
            event = json.loads(line)
            if event["port"] == server.port:
                events.append(event)
                break
        server.stop()
        for line in _lines(watch.stdout, time.monotonic() + 20):
            event = json.loads(line)
            if event["port"] == server.port:
                events.append(event)
                if event["event"] == "freed":
                    break
        assert events
        assert events[-1]["event"] == "freed"
        for event in events:
            assert set(event) >= KEYS
            assert (event["label"], event["project"], event["pids"]) == (
                "Docs",
                "docs-site",
                [server.pid],
            )
    finally:
        if server is not None:
            server.stop()
        _end(watch)
        for stream in (watch.stdout, watch.stderr):
            if stream is not None:
                stream.close()


class Forker:
    """A real pre-fork server: a python master on 127.0.0.1 and two workers holding its socket."""

    def __init__(self, folder: Path) -> None:
        script = folder / "forker.py"
        script.write_text(FORKER)
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the master prints, or exits (EOF)
        if not line:
            self.stop()
            raise RuntimeError("the forking server did not start")
        said = json.loads(line)
        self.port: int = said["port"]
        self.workers: list[int] = said["workers"]

    def stop(self) -> None:
        """Closing stdin ends workers and master; by PID if they do not go."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            for pid in self.workers:  # still the master's children: it has not reaped them
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def test_who_lists_every_holder_of_a_forked_socket(tmp_path: Path) -> None:
    forker = Forker(tmp_path)
    try:
        rows = json.loads(portwatch("who", str(forker.port), "--json").stdout)
        assert [(r["pid"], sorted(r["pids"][1:])) for r in rows] == [
            (forker.pid, sorted(forker.workers))
        ]
        assert rows[0]["app"] == "forker.py"
        out = portwatch("who", str(forker.port)).stdout.splitlines()
        assert out[0].startswith(f"Port {forker.port}: forker.py (PID {forker.pid}, +2 more), ")
        pids = ", ".join(str(pid) for pid in rows[0]["pids"])
        assert f"  holders:   forker.py: master + 2 workers (PIDs {pids})" in out
        # `list` says how many processes hold it.
        table = portwatch("list", "--tcp").stdout.splitlines()
        assert any(f" {forker.pid} " in line and "(3 processes)" in line for line in table)
    finally:
        forker.stop()


def test_free_shows_the_label_of_what_it_ends(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    server = HttpServer(tmp_path)
    try:
        save_settings(Settings().with_port_label(server.port, "Scratch server"))
        done = portwatch("free", str(server.port), "--yes")
        assert f"Port {server.port} is held by:" in done.stdout
        assert any(
            f" {server.pid} " in line and "Scratch server" in line
            for line in done.stdout.splitlines()
        )
        assert f"Port {server.port} is free now." in done.stdout
    finally:
        server.stop()


# --- the wording of `who`, for shapes a test machine cannot start ---


def test_who_words_a_dual_stack_pre_fork_server_in_a_unit() -> None:
    holders = (
        ProcessInfo(40, name="nginx"),
        ProcessInfo(41, name="nginx", ppid=40),
        ProcessInfo(42, name="nginx", ppid=40),
    )
    nginx = partial(
        listener, pid=40, process="nginx", pids=(40, 41, 42), holders=holders, app="nginx"
    )
    rows = [nginx(80, "0.0.0.0", unit="nginx.service"), nginx(80, "::", unit="nginx.service")]
    lines = who_lines(rows, NO_LABELS)
    assert lines[0] == (
        "Port 80: nginx (PID 40, +2 more), listening on 0.0.0.0 and :: (every network)"
    )
    assert lines[1] == ""
    assert lines[3].split()[6:9] == ["nginx", "(3", "processes,"]
    details = lines[lines.index("tcp 0.0.0.0:80  nginx (PID 40, +2 more)") :]
    assert details[1:3] == [
        "  holders:   nginx: master + 2 workers (PIDs 40, 41, 42)",
        "  unit:      nginx.service",
    ]
    labelled = who_lines(rows, Labels(ports={80: "Web"}))
    assert labelled[0].startswith("Port 80: Web (PID 40, +2 more), ")
    assert "  app:       nginx" in labelled


def test_who_words_a_hidden_owner_a_container_and_udp() -> None:
    hidden = listener(
        5432, "127.0.0.1", pid=None, user="postgres", unit="postgresql@15-main.service"
    )
    assert who_lines([hidden], NO_LABELS)[0] == (
        "Port 5432: postgresql@15-main.service (postgres), "
        "listening on 127.0.0.1 (only this computer)"
    )
    assert len(who_lines([hidden], NO_LABELS)) == 4  # no details for a process nobody saw
    web = listener(8080, "192.168.1.5", app="web", container="shop_web_1")
    lines = who_lines([web, listener(8080, "192.168.1.5", proto="udp", app="web")], NO_LABELS)
    assert lines[0] == (
        f"Port 8080: web (PID {web.pid}), listening on 192.168.1.5 over TCP and UDP "
        "(this computer and the local network)"
    )
    assert "  container: shop_web_1" in lines
    mdns = listener(5353, "0.0.0.0", proto="udp", app="avahi-daemon")
    assert who_lines([mdns], NO_LABELS)[0].endswith("on 0.0.0.0 over UDP (every network)")
