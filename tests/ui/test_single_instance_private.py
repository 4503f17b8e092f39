"""The single-instance socket lives in a folder no other user can make, link or answer in.

Real folders, real sockets and real processes: squatters run as ``nobody``
(``setpriv``), the app runs as a child without XDG_RUNTIME_DIR (as under sudo
or cron) with its temporary folder pointed at a shared, sticky folder of the
test's own, like ``/tmp``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.ui.single_instance import UnsafeFolderError, refusal, server_name
from tests.support.procs import wait_until
from tests.test_private_files import NOBODY, can_drop_to_nobody
from tests.ui.app_process import ROOT, AppProcess, portwatch_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX folders; Windows: pipes")

# A squatter as another user: listens where portwatch would, logs every connection.
SQUATTER = r"""
import os, socket, sys
place, target, log = sys.argv[1], sys.argv[2], sys.argv[3]
if place == "folder":
    os.mkdir(target, 0o777)
    os.chmod(target, 0o777)
    target = os.path.join(target, "instance.sock")
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(target)
os.chmod(target, 0o777)
server.listen(8)
open(log, "a").close()
while True:
    conn, _ = server.accept()
    with open(log, "a") as out:
        out.write("connected\n")
    conn.sendall(b"ok\n")
    conn.close()
"""


@pytest.fixture
def shared_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sticky, world-writable folder as the temp folder, and no XDG_RUNTIME_DIR."""
    base = Path(tempfile.mkdtemp(prefix="portwatch-tmp-"))
    try:
        base.chmod(0o1777)
        monkeypatch.delenv("XDG_RUNTIME_DIR")
        monkeypatch.setenv("TMPDIR", str(base))
        monkeypatch.setattr(tempfile, "tempdir", str(base))
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fallback(base: Path) -> Path:
    return base / f"portwatch-{os.geteuid()}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def start_app() -> subprocess.CompletedProcess[str]:
    """One launch of the tray app with the test's environment (no XDG_RUNTIME_DIR)."""
    return subprocess.run(
        portwatch_command("--interval=5"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )


# --- where the socket goes ------------------------------------------------------------


def test_the_socket_is_in_a_private_folder_in_xdg_runtime_dir() -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    name = Path(server_name())
    assert name == runtime / "portwatch" / "instance.sock"
    info = name.parent.lstat()
    assert stat.S_ISDIR(info.st_mode)
    assert info.st_uid == os.geteuid()
    assert mode(name.parent) == 0o700


def test_without_xdg_runtime_dir_a_private_folder_is_made_in_the_temp_folder(
    shared_tmp: Path,
) -> None:
    assert Path(server_name()) == fallback(shared_tmp) / "instance.sock"
    assert mode(fallback(shared_tmp)) == 0o700


def test_an_xdg_runtime_dir_that_others_can_enter_is_not_used(
    shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = shared_tmp / "runtime-0755"
    opened.mkdir()
    opened.chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(opened))
    assert Path(server_name()) == fallback(shared_tmp) / "instance.sock"
    assert not (opened / "portwatch").exists()


def test_an_xdg_runtime_dir_too_long_for_a_socket_falls_back(
    shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = shared_tmp / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    assert Path(server_name()) == fallback(shared_tmp) / "instance.sock"


def test_a_temp_folder_too_long_for_a_socket_is_one_clear_line(
    shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_tmp = shared_tmp / ("t" * 120)
    monkeypatch.setattr(tempfile, "tempdir", str(long_tmp))
    with pytest.raises(OSError, match="too long for a local socket") as failed:
        server_name()
    assert not isinstance(failed.value, UnsafeFolderError)
    assert refusal(failed.value) == (
        f"portwatch: cannot make the private folder {long_tmp}/portwatch-{os.geteuid()} "
        "that portwatch needs to start: its path is too long for a local socket"
    )


def test_our_own_folder_left_too_open_is_tightened(shared_tmp: Path) -> None:
    folder = fallback(shared_tmp)
    folder.mkdir()
    folder.chmod(0o777)
    server_name()
    assert mode(folder) == 0o700


def test_a_socket_of_ours_at_the_old_path_is_replaced_by_the_folder(shared_tmp: Path) -> None:
    """Older versions listened on <tmp>/portwatch-<uid> itself; a crash left the file."""
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(str(fallback(shared_tmp)))
    old.close()
    assert Path(server_name()).parent == fallback(shared_tmp)
    assert stat.S_ISDIR(fallback(shared_tmp).lstat().st_mode)


def test_a_symbolic_link_planted_at_the_path_is_refused(shared_tmp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    fallback(shared_tmp).symlink_to(elsewhere)
    with pytest.raises(UnsafeFolderError, match="is a symbolic link"):
        server_name()

    result = start_app()
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"portwatch: {fallback(shared_tmp)} is a symbolic link — portwatch cannot start "
        "safely; remove it or set XDG_RUNTIME_DIR"
    ]
    assert list(elsewhere.iterdir()) == []  # nothing was made through the link


def test_a_file_at_the_path_is_refused_and_kept(shared_tmp: Path) -> None:
    fallback(shared_tmp).write_text("someone's notes")
    with pytest.raises(UnsafeFolderError, match="is not a folder") as refused:
        server_name()
    assert refusal(refused.value).endswith("remove it or set XDG_RUNTIME_DIR")
    assert fallback(shared_tmp).read_text() == "someone's notes"


# --- another user got there first ------------------------------------------------------


class Squatter:
    """SQUATTER as nobody, with the system's python (stdlib only); ended by PID."""

    def __init__(self, place: str, target: Path, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [*NOBODY, "/usr/bin/python3", "-c", SQUATTER, place, str(target), str(log)],
            env={"PATH": "/usr/bin:/bin"},
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_until(lambda: log.exists() or self.proc.poll() is not None, timeout=20):
            self.stop()
            raise AssertionError("the squatter never started listening")
        if self.proc.poll() is not None:
            raise AssertionError(f"the squatter failed: {self.proc.stderr!r}")

    def connections(self) -> int:
        return self.log.read_text().count("connected")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.mark.privileged
@pytest.mark.skipif(
    not can_drop_to_nobody() or not Path("/usr/bin/python3").exists(),
    reason="needs root, setpriv and /usr/bin/python3",
)
@pytest.mark.parametrize("place", ["folder", "socket"])
def test_a_path_another_user_made_first_is_refused_and_never_connected_to(
    shared_tmp: Path, place: str
) -> None:
    """nobody made <tmp>/portwatch-0 first: a folder with a listener in it, or (the old
    path) a listening socket. The app refuses with one line and status 1, unconnected."""
    squatter = Squatter(place, fallback(shared_tmp), shared_tmp / "squatter.log")
    try:
        assert fallback(shared_tmp).lstat().st_uid == 65534
        result = start_app()
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines() == [
            f"portwatch: Another user owns {fallback(shared_tmp)} — portwatch cannot start "
            "safely; remove it or set XDG_RUNTIME_DIR"
        ]
        assert squatter.connections() == 0
        # The squatter really was reachable: a client that did not check would connect.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(5)
        target = fallback(shared_tmp) / "instance.sock" if place == "folder" else None
        probe.connect(str(target or fallback(shared_tmp)))
        assert probe.recv(16) == b"ok\n"
        probe.close()
        assert wait_until(lambda: squatter.connections() == 1)
    finally:
        squatter.stop()


# --- the normal hand-off, in the fallback folder ---------------------------------------


def test_second_launch_hands_over_in_the_private_temp_folder(
    shared_tmp: Path, tmp_path: Path
) -> None:
    first = AppProcess("--interval=0.5", logs=tmp_path / "logs")
    try:
        assert first.wait_status(lambda s: s["scans"])["pid"] == first.pid
        assert mode(fallback(shared_tmp)) == 0o700
        second = start_app()
        assert second.returncode == 0, second.stderr
        log_text = (paths.log_dir() / "portwatch.log").read_text()
        assert "another launch asked to show the window" in log_text
        assert first.wait_status(lambda s: s["window_visible"])["pid"] == first.pid
        assert first.signal(signal.SIGTERM) == 0
    finally:
        first.stop()
