"""The systemd unit a process runs in, from its control group path.

systemd puts every service's processes in a cgroup named for the unit:
``/system.slice/postgresql@15-main.service`` for a system service,
``/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service`` for a
user's. ``/proc/PID/cgroup`` shows the path: on cgroup v2 the ``0::`` line,
on v1 (and the hybrid layout) the ``name=systemd`` line.

What counts as a unit here: the deepest ``.service`` in the path, with
folders a service made below itself (delegation) skipped. A process whose
deepest unit is a ``.scope`` gets None: scopes are what systemd makes for
processes started elsewhere (a login session's ``session-2.scope``, a
terminal's ``app-...-1234.scope``, a container's ``docker-<id>.scope``), not
a unit a person set up and would name. A process directly in a slice, or at
the root, gets None too.
"""

from __future__ import annotations

import os

MAX_CGROUP_BYTES = 65536
MAX_UNIT_CHARS = 256
_UNIT_SUFFIXES = (".service", ".scope", ".slice", ".socket", ".mount", ".swap", ".target")


def unit_from_path(path: str) -> str | None:
    """The ``.service`` a cgroup path is in, by the rules above; None elsewhere."""
    for part in reversed(path.split("/")):
        if not part.endswith(_UNIT_SUFFIXES):
            continue  # a folder the service made for itself
        if part.endswith(".service") and len(part) <= MAX_UNIT_CHARS:
            return part
        return None
    return None


def unit_from_cgroup(text: str) -> str | None:
    """The unit named by ``/proc/PID/cgroup``'s text (v2 ``0::`` line first, then v1's)."""
    unified: str | None = None
    named: str | None = None
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            unified = path
        elif controllers == "name=systemd":
            named = path
    for candidate in (unified, named):
        found = unit_from_path(candidate) if candidate else None
        if found is not None:
            return found
    return None


def read_unit(pid: int, proc_root: str = "/proc") -> str | None:
    """The unit of a live process; None if it has none or its cgroup cannot be read."""
    try:
        fd = os.open(f"{proc_root}/{pid}/cgroup", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        data = os.read(fd, MAX_CGROUP_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    return unit_from_cgroup(data.decode("utf-8", "replace"))
