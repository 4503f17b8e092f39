"""Owners the process table hides: the socket's cgroup from sock_diag, named by its folder.

Real sockets and a real sock_diag dump against the inode of this process's own
cgroup folder; a cgroup index over a tree shaped as systemd and the container
runtimes make it, and over the real cgroup2 mount; and, as root, a listener in
a cgroup made for it, scanned by a child running as nobody.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core.identity.units import read_unit
from portwatch.core.platform.cgroups import (
    CgroupIndex,
    CgroupOwner,
    cgroup2_mount,
    read_cgroup2_mount,
)
from portwatch.core.platform.linux_procfs import TCP_CLOSE, TCP_LISTEN, read_proc_net
from portwatch.core.platform.netlink.wire import (
    INET_DIAG_CGROUP_ID,
    INET_DIAG_SKV6ONLY,
    MIN_DIAG_LENGTH,
    attribute_offsets,
    read_attributes,
)
from tests.support.procs import ListenerProcess, is_root, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux cgroups")

ROOT = Path(__file__).resolve().parents[1]
MOUNT = read_cgroup2_mount()
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
DOCKER_ID = "4f1c2e3d5a6b" + "0123456789abcdef" * 3 + "0123"  # 64 hex digits
PODMAN_ID = "9e8d7c6b5a49" + "fedcba9876543210" * 3 + "7654"


def own_cgroup() -> str:
    """This process's cgroup v2 path, as /proc/self/cgroup's ``0::`` line writes it."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    pytest.skip("this process is in no cgroup v2 hierarchy")


def folder_of(path: str) -> Path:
    assert MOUNT is not None
    return Path(MOUNT + path) if path != "/" else Path(MOUNT)


def inode(path: Path) -> int:
    return path.stat().st_ino


# --- the attribute in sock_diag replies ---------------------------------------------------------


def test_a_real_dump_gives_each_listener_the_inode_of_its_cgroup_folder() -> None:
    sock_diag = pytest.importorskip("portwatch.core.platform.netlink.sock_diag")
    if MOUNT is None:
        pytest.skip("no cgroup2 hierarchy is mounted here")
    expected = inode(folder_of(own_cgroup()))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("::1", 0))
        ours = {os.fstat(s.fileno()).st_ino: s.getsockname()[1] for s in (tcp, udp)}
        diag = sock_diag.SockDiag()
        try:
            found = [
                *diag.dump("tcp", 1 << TCP_LISTEN),
                *diag.dump("udp", 1 << TCP_CLOSE),
            ]
        finally:
            diag.close()
    finally:
        tcp.close()
        udp.close()
    mine = {ks.inode: ks for ks in found if ks.inode in ours}
    assert {ks.local_port for ks in mine.values()} == set(ours.values())
    if all(ks.cgroup_id is None for ks in mine.values()):
        release = tuple(int(n) for n in os.uname().release.split(".")[:2] if n.isdigit())
        assert release < (5, 7), "a kernel from 5.7 on reports INET_DIAG_CGROUP_ID"
        pytest.skip(f"kernel {os.uname().release} does not report INET_DIAG_CGROUP_ID")
    assert {ks.cgroup_id for ks in mine.values()} == {expected}
    # The IPv6 socket's v6only is read in the same walk over its attributes (the
    # kernel marks a socket bound to one IPv6 address, such as ::1, IPv6-only).
    assert [ks.v6only for ks in mine.values() if ks.family == 6] == [True]


def test_proc_net_reports_no_cgroup() -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as holder:
        tables = read_proc_net()
    (row,) = [ks for ks in tables.listeners if ks.local_port == holder.ports[0]]
    assert row.cgroup_id is None


def _attribute(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


@pytest.mark.parametrize("padded", [False, True], ids=["aligned", "after INET_DIAG_PAD"])
def test_the_cgroup_id_is_read_wherever_the_kernel_puts_it(padded: bool) -> None:
    # nla_put_u64_64bit puts an INET_DIAG_PAD (14) first where the u64 would be unaligned.
    start = 16
    attributes = [
        _attribute(8, b"\0"),  # INET_DIAG_SHUTDOWN
        _attribute(INET_DIAG_SKV6ONLY, b"\x01"),
        *([_attribute(14, b"")] if padded else []),
        _attribute(INET_DIAG_CGROUP_ID, struct.pack("=Q", 0x1_0000_2A2A)),
        _attribute(22, b"\0\0"),  # INET_DIAG_SOCKOPT
    ]
    buffer = bytearray(start + MIN_DIAG_LENGTH) + b"".join(attributes)
    end = len(buffer)
    layout = attribute_offsets(buffer, start, end)
    assert layout == (MIN_DIAG_LENGTH + 8, MIN_DIAG_LENGTH + (20 if padded else 16))
    assert read_attributes(buffer, start, layout) == (True, 0x1_0000_2A2A)
    # A message laid out otherwise is not read at this layout's offsets.
    assert read_attributes(buffer, start, (layout[0], layout[1] + 4)) is None
    # A truncated attribute is not read past the message's end.
    short = attribute_offsets(buffer, start, end - 20)
    assert read_attributes(buffer, start, short) == (True, None)


# --- where cgroup2 is mounted -------------------------------------------------------------------

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
UNIFIED = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
NESTED = (
    "50 23 0:26 /system.slice/x /mnt/part rw - cgroup2 cgroup2 rw\n"
    "51 23 0:26 / /mnt/whole\\040tree rw - cgroup2 cgroup2 rw\n"
)


def test_the_cgroup2_mount_is_found_in_each_layout() -> None:
    assert cgroup2_mount(UNIFIED) == "/sys/fs/cgroup"
    assert cgroup2_mount(HYBRID) == "/sys/fs/cgroup/unified"
    assert cgroup2_mount(NESTED) == "/mnt/whole tree"
    assert cgroup2_mount(NESTED.splitlines()[0]) == "/mnt/part"
    assert cgroup2_mount(HYBRID.splitlines()[0]) is None


# --- the index over a tree shaped like systemd's ------------------------------------------------

SHAPES = {
    "/system.slice/postgresql@15-main.service": ("postgresql@15-main.service", None),
    "/system.slice/nginx.service/payload": ("nginx.service", None),
    "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-foo-1234.scope": (
        None,
        None,
    ),
    f"/system.slice/docker-{DOCKER_ID}.scope": (None, DOCKER_ID[:12]),
    f"/machine.slice/libpod-{PODMAN_ID}.scope/container": (None, PODMAN_ID[:12]),
    f"/machine.slice/libpod-conmon-{PODMAN_ID}.scope": (None, None),
    f"/system.slice/docker-{DOCKER_ID}.scope/system.slice/redis.service": (
        "redis.service",
        DOCKER_ID[:12],
    ),
    "/system.slice/docker-4f1c2e3d.scope": (None, None),  # not a runtime's 64-digit id
    "/init.scope": (None, None),
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "cgroup"
    for path in SHAPES:
        (root / path.lstrip("/")).mkdir(parents=True)
        (root / path.lstrip("/") / "cgroup.procs").write_text("")
    return root


@pytest.mark.parametrize("path", list(SHAPES))
def test_each_shape_systemd_and_the_runtimes_write_names_its_unit_or_container(
    tree: Path, path: str
) -> None:
    index = CgroupIndex(str(tree))
    unit, container = SHAPES[path]
    assert index.owner(inode(tree / path.lstrip("/"))) == CgroupOwner(path, unit, container)
    assert index.owner(inode(tree)) == CgroupOwner("/", None, None)


def test_a_walk_reads_a_bounded_number_of_folders_per_call(tree: Path) -> None:
    index = CgroupIndex(str(tree), max_dirs=3, clock=Clock())
    deepest = max(SHAPES, key=lambda p: p.count("/"))
    wanted = inode(tree / deepest.lstrip("/"))
    answers = []
    for _ in range(20):
        before = index.dirs_read
        answers.append(index.owner(wanted))
        assert index.dirs_read - before <= 3
        if answers[-1] is not None:
            break
        assert index.searching  # the walk under way may still find it
    assert answers[0] is None
    assert answers[-1] == CgroupOwner(deepest, *SHAPES[deepest])
    assert index.walks == 1
    assert not index.searching


def test_a_new_cgroup_is_found_at_the_next_walk_and_a_gone_one_is_given_up(tree: Path) -> None:
    clock = Clock()
    index = CgroupIndex(str(tree), min_interval=5.0, clock=clock)
    known = inode(tree / "init.scope")
    assert index.owner(known) == CgroupOwner("/init.scope", None, None)
    assert index.walks == 1
    fresh = tree / "system.slice" / "vite-dev.service"
    fresh.mkdir()
    # Too soon after the last walk: not known yet, and nothing to gain by asking again now.
    assert index.owner(inode(fresh)) is None
    assert index.walks == 1
    assert not index.searching
    clock.now += 5.0
    assert index.searching
    assert index.owner(inode(fresh)) == CgroupOwner(
        "/system.slice/vite-dev.service", "vite-dev.service", None
    )
    assert index.walks == 2
    # An id no folder has: given up after one walk begun after it was asked.
    clock.now += 5.0
    gone = 2**62 + 7
    assert index.owner(gone) is None
    assert index.walks == 3
    assert not index.searching
    clock.now += 60.0
    assert index.owner(gone) is None
    assert index.walks == 3  # not looked for again
    # What was found stays known, without another walk.
    assert index.owner(known) == CgroupOwner("/init.scope", None, None)
    assert index.walks == 3


def test_without_a_cgroup2_mount_nothing_is_looked_for_twice(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(HYBRID.splitlines()[0] + "\n")
    index = CgroupIndex(mountinfo=str(mountinfo), clock=Clock())
    assert index.owner(1) is None
    assert not index.searching
    assert index.owner(1) is None
    assert (index.walks, index.dirs_read) == (1, 0)


def test_the_real_mount_names_this_process_s_cgroup_as_proc_does() -> None:
    if MOUNT is None:
        pytest.skip("no cgroup2 hierarchy is mounted here")
    path = own_cgroup()
    index = CgroupIndex()  # the mount from /proc/self/mountinfo
    found = index.owner(inode(folder_of(path)))
    assert found is not None
    assert found.path == path
    assert found.unit == read_unit(os.getpid())
    assert index.owner(inode(Path(MOUNT))) == CgroupOwner("/", None, None)


# --- as nobody: root's listener named by the kernel ---------------------------------------------

SCAN_AS_NOBODY = textwrap.dedent(
    """
    import json, sys
    from portwatch.core.naming import kernel_owner
    from portwatch.core.scanner import Scanner
    WANTED = ("tcp", "127.0.0.1", int(sys.argv[1]))
    scanner = Scanner(connection_owners=False)
    rows = []
    for _ in range(200):  # bounded: until the cgroup walk has answered
        snapshot = scanner.scan()
        rows = [r for r in snapshot.listeners if (r.proto, r.address, r.port) == WANTED]
        if rows and rows[0].unit is not None:
            break
    print(json.dumps({
        "uid": __import__("os").getuid(),
        "backend": snapshot.backend,
        "rows": [
            {"pid": r.pid, "user": r.user, "unit": r.unit, "container": r.container,
             "why": str(r.owner_unknown), "owner": kernel_owner(r)}
            for r in rows
        ],
    }))
    """
)


NOBODY_SKIP = (
    "needs root to drop to nobody"
    if not is_root()
    else ("needs setpriv" if shutil.which("setpriv") is None else None)
)


@pytest.fixture(scope="module")
def nobody_code() -> Iterator[Path]:
    """A copy of portwatch that nobody can read (the checkout may be in root's home)."""
    top = Path(tempfile.mkdtemp(prefix="portwatch-cgroups-"))
    try:
        shutil.copytree(
            ROOT / "portwatch", top / "portwatch", ignore=shutil.ignore_patterns("__pycache__")
        )
        for path in [top, *top.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        probe = _as_nobody(top, "-c", "import portwatch.core.scanner")
        if probe.returncode:
            pytest.skip(f"nobody cannot run {sys.executable} with psutil: {probe.stderr[-200:]}")
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _as_nobody(code: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code), "HOME": "/nonexistent"},
        timeout=60,
    )


def _scan_as_nobody(code: Path, port: int) -> list[dict[str, object]]:
    """The rows of root's listener on ``port`` as a scan by nobody gives them."""
    out = _as_nobody(code, "-c", SCAN_AS_NOBODY, str(port))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["uid"] == 65534
    assert report["backend"] == "linux-netlink"
    rows: list[dict[str, object]] = report["rows"]
    return rows


def _cgroup_skip() -> str | None:
    """Why no cgroup can be made here for the test; None if one can."""
    if MOUNT is None:
        return "no cgroup2 hierarchy is mounted here"
    if not is_root():
        return "needs root to make a cgroup"
    if not os.access(MOUNT, os.W_OK) or not os.access(Path(MOUNT) / "cgroup.procs", os.W_OK):
        return f"the cgroup2 mount {MOUNT} is read-only here (a container's, likely)"
    return None


def _removed(cgroup: Path) -> bool:
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.privileged
@pytest.mark.skipif(NOBODY_SKIP is not None, reason=str(NOBODY_SKIP))
def test_nobody_sees_the_user_of_root_s_listener_from_the_kernel(nobody_code: Path) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"]) as holder:
        rows = _scan_as_nobody(nobody_code, holder.ports[0])
        unit = read_unit(holder.pid)  # what root reads in /proc: the kernel must agree
    (row,) = rows
    assert row["pid"] is None
    assert row["why"] == "needs privileges"
    assert row["user"] == "root"
    assert row["unit"] == unit
    assert row["owner"] == (f"{unit} (root)" if unit else "root's process")


@pytest.mark.privileged
@pytest.mark.skipif(NOBODY_SKIP is not None, reason=str(NOBODY_SKIP))
@pytest.mark.skipif(_cgroup_skip() is not None, reason=str(_cgroup_skip()))
def test_nobody_sees_the_unit_of_root_s_listener_from_its_cgroup(nobody_code: Path) -> None:
    assert MOUNT is not None
    unit = f"portwatch-test-{os.getpid()}.service"
    cgroup = Path(MOUNT) / unit
    cgroup.mkdir()
    holder: ListenerProcess | None = None
    try:
        # The child joins the cgroup before it makes its socket (a socket keeps
        # the cgroup of its making): the shell moves itself, then becomes Python.
        join = f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"'
        moved = subprocess.run(["sh", "-c", join, "sh", "true"], capture_output=True, check=False)
        if moved.returncode:
            pytest.skip(f"cannot move a process into a new cgroup here: {moved.stderr!r}")
        holder = ListenerProcess(["tcp:127.0.0.1:0"], prefix=["sh", "-c", join, "sh"])
        assert (cgroup / "cgroup.procs").read_text().split() == [str(holder.pid)]
        rows = _scan_as_nobody(nobody_code, holder.ports[0])
    finally:
        if holder is not None:
            holder.stop()
        # The cgroup can go once its last process has (EBUSY until then).
        wait_until(lambda: _removed(cgroup))
    assert not cgroup.exists()
    (row,) = rows
    assert row == {
        "pid": None,
        "user": "root",
        "unit": unit,
        "container": None,
        "why": "needs privileges",
        "owner": f"{unit} (root)",
    }
