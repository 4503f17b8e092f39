"""The `portwatch` command as a user runs it: a real process, real sockets."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from tests.support.procs import ListenerProcess, is_root

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_KEYS = {
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
}


def portwatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def child() -> Iterator[ListenerProcess]:
    proc = ListenerProcess(["tcp:127.0.0.1:0", "tcp:0.0.0.0:0", "udp:::1:0"])
    yield proc
    proc.stop()


def test_list_json_has_the_promised_keys_and_our_rows(child: ListenerProcess) -> None:
    result = portwatch("list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all(set(row) >= REQUIRED_KEYS for row in rows)
    ours = {
        (r["proto"], r["family"], r["address"], r["port"]): r for r in rows if r["pid"] == child.pid
    }
    tcp_lo = ours[("tcp", 4, "127.0.0.1", child.ports[0])]
    assert tcp_lo["exposure"] == "loopback"
    assert isinstance(tcp_lo["cmdline"], list)
    assert tcp_lo["cmdline"][-1] == "udp:::1:0"
    assert ours[("tcp", 4, "0.0.0.0", child.ports[1])]["exposure"] == "public"
    assert ours[("udp", 6, "::1", child.ports[2])]["exposure"] == "loopback"


def test_list_filters_by_protocol_and_exports_csv(child: ListenerProcess) -> None:
    tcp = json.loads(portwatch("list", "--tcp", "--json").stdout)
    udp = json.loads(portwatch("list", "--udp", "--json").stdout)
    assert {r["proto"] for r in tcp} == {"tcp"}
    assert {r["proto"] for r in udp} == {"udp"}
    result = portwatch("list", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    mine = [r for r in rows if r["pid"] == str(child.pid)]
    assert sorted(int(r["port"]) for r in mine) == sorted(child.ports)
    assert set(rows[0]) >= REQUIRED_KEYS


def test_list_human_table_is_aligned(child: ListenerProcess) -> None:
    out = portwatch("list").stdout.splitlines()
    header = out[0]
    assert header.split()[:3] == ["PROTO", "ADDRESS", "PORT"]
    port_col_end = header.index("PORT") + len("PORT")
    line = next(line for line in out if f" {child.ports[0]} " in line)
    # Ports are right-aligned under their header.
    assert line[:port_col_end].rstrip().endswith(str(child.ports[0]))


def test_who_names_the_holder_and_says_when_free(child: ListenerProcess) -> None:
    held = portwatch("who", str(child.ports[0]))
    assert held.returncode == 0
    assert str(child.pid) in held.stdout
    # Its owner is known: nothing about other sockets' lookups.
    assert held.stderr == ""
    as_json = json.loads(portwatch("who", str(child.ports[0]), "--json").stdout)
    assert [r["pid"] for r in as_json] == [child.pid]
    child.stop()
    free = portwatch("who", str(child.ports[0]))
    assert free.returncode == 0
    assert f"Port {child.ports[0]} is free" in free.stdout
    assert json.loads(portwatch("who", str(child.ports[0]), "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("who", "70000"), "port 70000 is out of range"),
        (("who", "0"), "port 0 is out of range"),
        (("who", "abc"), "'abc' is not a port number"),
        (("watch", "--interval", "-1"), "interval -1 is out of range"),
        (("watch", "--interval", "nan"), "interval nan is out of range"),
        (("list", "--tcp", "--udp"), "not allowed with argument"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = portwatch(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = ""
    while time.monotonic() < deadline:
        chunk = proc.stdout.readline()
        if chunk:
            buf += chunk
            if buf.endswith("\n"):
                return buf
        else:
            time.sleep(0.02)
    return buf


def test_watch_prints_bound_and_freed_within_an_interval() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "watch", "--json", "--interval", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        time.sleep(1.0)  # let it take its first snapshot
        child = ListenerProcess(["tcp:127.0.0.1:0"])
        port = child.ports[0]
        bound: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while not bound and time.monotonic() < deadline:
            line = _read_line(proc, deadline)
            if line:
                event = json.loads(line)
                if event["port"] == port:
                    bound = event
        assert bound["event"] == "bound"
        assert bound["pid"] == child.pid
        assert set(bound) >= REQUIRED_KEYS
        child.stop()
        freed: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while not freed and time.monotonic() < deadline:
            line = _read_line(proc, deadline)
            if line:
                event = json.loads(line)
                if event["port"] == port:
                    freed = event
        assert freed["event"] == "freed"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_watch_ends_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        time.sleep(1.0)
        proc.terminate()
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert "watching" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


DEBIAN_PYTHON = Path("/usr/bin/python3")


def _nobody_can_run() -> bool:
    if not is_root() or shutil.which("setpriv") is None or not DEBIAN_PYTHON.exists():
        return False
    probe = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            str(DEBIAN_PYTHON),
            "-c",
            "import psutil, platformdirs",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@pytest.mark.privileged
@pytest.mark.skipif(
    not _nobody_can_run(), reason="needs root, setpriv and Debian's python3-psutil/platformdirs"
)
def test_non_root_view_hides_other_users_owners(child: ListenerProcess) -> None:
    """As nobody, root's sockets are listed without owners, and the user is told why."""
    copy = Path(tempfile.mkdtemp(prefix="portwatch-nobody-"))
    try:
        copy.chmod(0o755)
        # portwatch and the platformdirs it is made for (pure Python): `list` reads the
        # settings file for the user's labels, and Debian's platformdirs may be older.
        for package in (ROOT / "portwatch", Path(platformdirs.__file__).parent):
            shutil.copytree(
                package, copy / package.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        for path in copy.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(copy),
            "HOME": str(copy),
            "PORTWATCH_BACKEND": os.environ.get("PORTWATCH_BACKEND", ""),
        }
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                str(DEBIAN_PYTHON),
                "-m",
                "portwatch",
                "list",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(copy),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        ours = [r for r in rows if r["port"] in child.ports]
        assert len(ours) == 3
        assert all(r["pid"] is None for r in ours)
        assert all(r["owner_unknown"] == "needs privileges" for r in ours)
        assert "owners hidden" in result.stderr
        assert "root" in result.stderr
        # `who` on a port whose owner is hidden says why, too.
        who = subprocess.run(
            [*NOBODY, str(DEBIAN_PYTHON), "-m", "portwatch", "who", str(child.ports[0])],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(copy),
            timeout=60,
            check=False,
        )
        assert who.returncode == 0, who.stderr
        assert "owners hidden" in who.stderr
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_list_into_a_pipe_that_closes_early_is_not_an_error() -> None:
    # `portwatch list | head -1` with many rows: the reader leaves before the end.
    with ListenerProcess(["udp:127.0.0.1:0" for _ in range(1000)]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "portwatch", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0
    assert first.split()[:2] == [b"PROTO", b"ADDRESS"]
    assert "Traceback" not in err
    assert err == ""
