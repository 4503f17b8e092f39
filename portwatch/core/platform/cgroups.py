"""Linux: the cgroup a cgroup v2 id names, and the systemd unit or container that is.

sock_diag reports, for each listening socket, the cgroup v2 id of the process
that made it (``INET_DIAG_CGROUP_ID``), also to a user who may not see that
process. The id is the inode number of the cgroup's folder under the cgroup2
mount (kernfs numbers its folders so: ``stat -c %i`` of the folder), so
:class:`CgroupIndex` finds the folder by walking the mount and reading each
folder's inode, then names the unit and container from its path with the
parsers that read ``/proc/PID/cgroup``.

The walk is lazy and bounded: it starts only when an id not seen before is
asked, reads at most ``max_dirs`` folders per call (a walk left halfway goes on
at the next call), and a new walk starts at most once per ``min_interval``
seconds. An id that a walk begun after it was asked did not find is given up:
its cgroup was removed (the socket outlives it) or lies outside this mount's
view (another cgroup namespace).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from portwatch.core.identity.containers import container_from_cgroup
from portwatch.core.identity.units import unit_from_path
from portwatch.core.safetext import from_os

MOUNTINFO = "/proc/self/mountinfo"
# Folders read per call at most: a desktop's tree has a few hundred, a busy
# container host a few thousand (each read is one getdents plus a stat per subfolder).
MAX_DIRS_PER_CALL = 512
# Seconds between the starts of two walks at least.
MIN_INTERVAL = 5.0
# Folders, answers and given-up ids kept at most (a tree larger is indexed in part).
MAX_ENTRIES = 65536


class CgroupOwner(NamedTuple):
    """What a cgroup path says about who made a socket; None where it says nothing."""

    path: str  # as /proc/PID/cgroup writes it: "/system.slice/postgresql@15-main.service"
    unit: str | None  # "postgresql@15-main.service"
    container: str | None  # a container's short id: "4f1c2e3d5a6b"


def owner_of_path(path: str) -> CgroupOwner:
    """The unit (``units.unit_from_path``) and container a cgroup path is in."""
    return CgroupOwner(path, unit_from_path(path), container_from_cgroup(path))


def _unescape(field: str) -> str:
    r"""A mountinfo field with its octal escapes (``\040`` for a space) decoded."""
    if "\\" not in field:
        return field
    data = os.fsencode(field)
    out = bytearray()
    index = 0
    while index < len(data):
        octal = data[index + 1 : index + 4]
        if data[index] == ord("\\") and len(octal) == 3 and all(48 <= b <= 55 for b in octal):
            out.append(int(octal, 8))
            index += 4
        else:
            out.append(data[index])
            index += 1
    return os.fsdecode(bytes(out))


def cgroup2_mount(mountinfo: str) -> str | None:
    """Where the cgroup2 hierarchy is mounted, from ``/proc/self/mountinfo``'s text.

    Usually ``/sys/fs/cgroup``; ``/sys/fs/cgroup/unified`` in the hybrid layout.
    A mount of the hierarchy's root is preferred to one of a subtree.
    """
    found: str | None = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        separator = fields.index("-")
        if len(fields) <= separator + 1 or separator < 5 or fields[separator + 1] != "cgroup2":
            continue
        if fields[3] == "/":
            return _unescape(fields[4])
        found = found or _unescape(fields[4])
    return found


def read_cgroup2_mount(path: str = MOUNTINFO) -> str | None:
    """The cgroup2 mount point of this process's view; None if there is none or it is unreadable."""
    try:
        with Path(path).open(encoding="utf-8", errors="surrogateescape") as file:
            return cgroup2_mount(file.read(1 << 20))
    except OSError:
        return None


class CgroupIndex:
    """Cgroup ids to their paths and owners, found by walking the cgroup2 mount.

    For one thread (the scanner's): it holds no lock.
    """

    def __init__(
        self,
        root: str | None = None,
        *,
        max_dirs: int = MAX_DIRS_PER_CALL,
        min_interval: float = MIN_INTERVAL,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        mountinfo: str = MOUNTINFO,
    ) -> None:
        """``root``: the cgroup2 mount; None finds it in ``mountinfo`` at the first walk."""
        self._root = root
        self._mountinfo = mountinfo
        self.max_dirs = max_dirs
        self.min_interval = min_interval
        self._max_entries = max_entries
        self._clock = clock
        self._paths: dict[int, str] = {}  # the last complete walk's folders
        self._next: dict[int, str] = {}  # the walk under way's, so far
        self._stack: list[tuple[str, str]] = []  # (folder on disk, cgroup path) left to read
        self._walking = False
        self._last_start: float | None = None
        self._owners: dict[int, CgroupOwner] = {}
        # Ids asked and not found yet, with the number of walks started when asked.
        self._wanted: dict[int, int] = {}
        self._missing: set[int] = set()
        #: Walks started and folders read so far (for tests and benchmarks).
        self.walks = 0
        self.dirs_read = 0

    def owner(self, cgroup_id: int) -> CgroupOwner | None:
        """The owner of the cgroup with this id; None if not known (yet, see :attr:`searching`)."""
        known = self._owners.get(cgroup_id)
        if known is not None:
            return known
        if cgroup_id in self._missing:
            return None
        path = self._path(cgroup_id)
        if path is None:
            self._wanted.setdefault(cgroup_id, self.walks)
            self._step()
            path = self._path(cgroup_id)
            if path is None:
                return None
        self._wanted.pop(cgroup_id, None)
        if len(self._owners) >= self._max_entries:
            self._owners.clear()
        found = self._owners[cgroup_id] = owner_of_path(path)
        return found

    @property
    def searching(self) -> bool:
        """Whether asking again about an id not found yet may answer it now."""
        if not self._wanted:
            return False
        if self._walking or any(self._path(i) is not None for i in self._wanted):
            return True
        return self._last_start is None or self._clock() - self._last_start >= self.min_interval

    def _path(self, cgroup_id: int) -> str | None:
        path = self._paths.get(cgroup_id)
        return path if path is not None else self._next.get(cgroup_id)

    def _step(self) -> None:
        """Go on with the walk under way, or start one if it is time; at most ``max_dirs``."""
        if not self._walking and not self._start():
            return
        stack = self._stack
        found = self._next
        for _ in range(self.max_dirs):
            if not stack or len(found) >= self._max_entries:
                break
            folder, path = stack.pop()
            self.dirs_read += 1
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        try:
                            if not entry.is_dir(follow_symlinks=False):
                                continue
                            inode = entry.stat(follow_symlinks=False).st_ino
                        except OSError:
                            continue  # removed meanwhile
                        child = f"{path}/{from_os(entry.name)}"
                        found[inode] = child
                        stack.append((entry.path, child))
            except OSError:
                continue  # removed meanwhile, or not ours to read
        if not stack or len(found) >= self._max_entries:
            self._finish()

    def _start(self) -> bool:
        """Start a walk if one is due; False if not (too soon, or no cgroup2 mount)."""
        now = self._clock()
        if self._last_start is not None and now - self._last_start < self.min_interval:
            return False
        self._last_start = now
        self.walks += 1
        if self._root is None:
            self._root = read_cgroup2_mount(self._mountinfo)
        self._next = {}
        self._stack = []
        if self._root is not None:
            try:
                self._next[Path(self._root).stat().st_ino] = "/"
                self._stack.append((self._root, ""))
            except OSError:
                pass
        self._walking = True
        return True

    def _finish(self) -> None:
        """The walk is complete: its folders replace the last ones; unfound ids are given up."""
        self._walking = False
        self._stack = []
        self._paths = self._next
        self._next = {}
        for cgroup_id, asked in list(self._wanted.items()):
            if cgroup_id not in self._paths and asked < self.walks:
                del self._wanted[cgroup_id]
                if len(self._missing) >= self._max_entries:
                    self._missing.clear()
                self._missing.add(cgroup_id)


__all__ = [
    "CgroupIndex",
    "CgroupOwner",
    "cgroup2_mount",
    "owner_of_path",
    "read_cgroup2_mount",
]
