"""The systemd unit of a process, from real /proc/PID/cgroup files and the paths systemd writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.core.identity import IdentityCache
from portwatch.core.identity.units import read_unit, unit_from_cgroup, unit_from_path

# cgroup paths as systemd writes them (v2), and the unit a person would name.
PATHS = [
    ("/system.slice/postgresql@15-main.service", "postgresql@15-main.service"),
    ("/system.slice/nginx.service", "nginx.service"),
    ("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service"),
    (
        "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
        "foo.service",
    ),
    (
        "/user.slice/user-1000.slice/user@1000.service/app.slice/app-vite\\x2ddev.service",
        "app-vite\\x2ddev.service",
    ),
    # A service that made its own cgroups below itself (delegation).
    ("/system.slice/containerd.service/payload", "containerd.service"),
    # Scopes are processes started elsewhere: a login, a terminal, a container.
    ("/user.slice/user-1000.slice/session-2.scope", None),
    (
        "/user.slice/user-1000.slice/user@1000.service/app.slice/"
        "app-org.gnome.Terminal.slice/vte-spawn-6d1c.scope",
        None,
    ),
    ("/user.slice/user-1000.slice/user@1000.service/init.scope", None),
    ("/system.slice/docker-4f1c2e3d.scope", None),
    ("/init.scope", None),
    ("/system.slice", None),
    ("/", None),
    ("/docker/4f1c2e3d5a", None),  # a container under the cgroupfs driver
    ("", None),
]


@pytest.mark.parametrize(("path", "unit"), PATHS)
def test_unit_from_each_path_shape(path: str, unit: str | None) -> None:
    assert unit_from_path(path) == unit
    assert unit_from_cgroup(f"0::{path}\n") == unit


def test_cgroup_v1_and_hybrid_files() -> None:
    v1 = (
        "12:pids:/system.slice/redis-server.service\n"
        "4:memory:/system.slice/redis-server.service\n"
        "1:name=systemd:/system.slice/redis-server.service\n"
    )
    assert unit_from_cgroup(v1) == "redis-server.service"
    hybrid = "1:name=systemd:/system.slice/sshd.service\n0::/system.slice/sshd.service\n"
    assert unit_from_cgroup(hybrid) == "sshd.service"
    # The unified line wins where it names a unit; the v1 line is read where it does not.
    assert unit_from_cgroup("1:name=systemd:/system.slice/a.service\n0::/\n") == "a.service"
    for odd in ("", "garbage", "0::", ":::::", "0::/" + "x" * 5000 + ".service", "\x00\xff"):
        assert unit_from_cgroup(odd) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_unit_of_real_processes_matches_their_cgroup_files() -> None:
    own = Path("/proc/self/cgroup").read_text()
    assert read_unit(os.getpid()) == unit_from_cgroup(own)
    child = subprocess.Popen(["sleep", "30"])
    try:
        text = Path(f"/proc/{child.pid}/cgroup").read_text()
        assert text.strip()  # the kernel always writes at least one line
        assert read_unit(child.pid) == unit_from_cgroup(text)
        found = IdentityCache().identity(child.pid, 1.0, "sleep", ["sleep", "30"])
        assert found.unit == unit_from_cgroup(text)
    finally:
        child.kill()
        child.wait(5)
    assert read_unit(child.pid) is None  # gone


def test_a_fake_proc_tree_gives_the_unit_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text("0::/system.slice/postgresql@15-main.service\n")
    assert read_unit(42, str(tmp_path)) == "postgresql@15-main.service"
    cache = IdentityCache(proc_root=str(tmp_path))
    found = cache.identity(42, 1.0, "postgres", ["/usr/lib/postgresql/15/bin/postgres"], cwd="/")
    assert (found.app, found.unit) == ("postgres", "postgresql@15-main.service")
    assert read_unit(43, str(tmp_path)) is None
