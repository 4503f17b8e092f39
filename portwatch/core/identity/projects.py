"""The project a working folder belongs to: the name its nearest marker declares.

From the working folder up (the folder itself and at most :data:`MAX_LEVELS`
- 1 above it), the first folder that names a project wins. In one folder a
declared name wins, in this order: ``package.json`` "name", ``pyproject.toml``
``[project] name`` (or ``[tool.poetry] name``), ``Cargo.toml`` ``[package]
name``, ``go.mod``'s module path's last element (a ``/v2`` major-version
suffix skipped), ``composer.json`` "name"; else a folder holding ``.git`` is
named for itself. A marker without a name (a workspace ``Cargo.toml``) says
nothing, so the walk goes on up.

Marker files belong to anybody: only regular files of at most
:data:`MAX_MARKER_BYTES` are read (opened non-blocking, so a FIFO named
``package.json`` cannot hang a poll), and corrupt ones are skipped. The walk
goes up the path as text, so a symbolic link cannot lead it in a loop. What a
folder says is cached for :data:`FOLDER_TTL` seconds, so fifty processes in
one project read each marker once.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from portwatch.core.safetext import from_bytes

MAX_LEVELS = 8
MAX_MARKER_BYTES = 1 << 20
MAX_NAME_CHARS = 128
FOLDER_TTL = 60.0
MAX_FOLDERS = 4096

_GO_MAJOR = re.compile(r"^v\d+$")
# A TOML table header: [a.b] or [[a.b]], bare or quoted keys.
_TABLE_HEADER = re.compile(r"\[\[?\s*[A-Za-z0-9_.\-\"' ]+?\s*\]\]?")
# A FIFO named like a marker must not block the read; Windows has neither flag.
_MARKER_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_marker(path: str) -> str | None:
    """A small regular file's text; None if missing, odd, too large or unreadable."""
    try:
        fd = os.open(path, _MARKER_FLAGS)
    except (OSError, ValueError):  # missing, a link loop (ELOOP), refused, not encodable
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MARKER_BYTES:
            return None
        data = os.read(fd, MAX_MARKER_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_MARKER_BYTES:  # grew while read
        return None
    return from_bytes(data)


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text[:MAX_NAME_CHARS] if text else None


def _json_name(text: str) -> str | None:
    data = json.loads(text)
    return _name(data.get("name")) if isinstance(data, dict) else None


def _table_name(text: str, *paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` ("project", "name") the TOML ``text`` gives a name at.

    Each path's own table is parsed first, cut out of the file: a project's
    pyproject.toml is mostly its tools' settings, and parsing all of it costs
    milliseconds per process named (a scanner's cold start names them all).
    The whole file is parsed only when the cut-out table does not say.
    """
    import tomllib  # only where a TOML file is read

    for path in paths:
        table = _table_text(text, path[:-1])
        if table is None:
            break  # it may be written another way (dotted keys): read the file
        try:
            node: object = tomllib.loads(table).get(path[-1])
        except tomllib.TOMLDecodeError:
            break  # a table that is not whole on its own: read the file
        if (found := _name(node)) is not None:
            return found
    data: object = tomllib.loads(text)
    for path in paths:
        node = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if (found := _name(node)) is not None:
            return found
    return None


def _table_text(text: str, table: tuple[str, ...]) -> str | None:
    """The lines of ``[a.b]`` up to the next line that opens a table; None if none opens it."""
    header = f"[{'.'.join(table)}]"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.split("#", 1)[0].strip() == header:
            body = []
            for following in lines[i + 1 :]:
                if _opens_table(following):
                    break
                body.append(following)
            return "\n".join(body)
    return None


def _opens_table(line: str) -> bool:
    """``[name]`` or ``[[name]]`` (a table header), not a line of a multi-line array.

    A cut that ends a table early only sends the caller to the whole file.
    """
    words = line.split("#", 1)[0].strip()
    return bool(_TABLE_HEADER.fullmatch(words))


def _pyproject_name(text: str) -> str | None:
    return _table_name(text, ("project", "name"), ("tool", "poetry", "name"))


def _cargo_name(text: str) -> str | None:
    return _table_name(text, ("package", "name"))


def _go_module(text: str) -> str | None:
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) >= 2 and words[0] == "module":
            elements = [e for e in words[1].strip('"`').split("/") if e]
            if len(elements) > 1 and _GO_MAJOR.match(elements[-1]):
                elements.pop()
            return _name(elements[-1]) if elements else None
    return None


# Marker file -> how it declares its name, in the order they win within one folder.
MARKERS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("package.json", _json_name),
    ("pyproject.toml", _pyproject_name),
    ("Cargo.toml", _cargo_name),
    ("go.mod", _go_module),
    ("composer.json", _json_name),
)


def folder_project(folder: str) -> str | None:
    """The project this one folder names (its markers, then ``.git``), or None."""
    for marker, declared in MARKERS:
        text = _read_marker(f"{folder.rstrip('/')}/{marker}")
        if text is None:
            continue
        try:
            found = declared(text)
        except (ValueError, RecursionError, AttributeError):  # corrupt or absurdly nested
            found = None
        if found is not None:
            return found
    try:
        Path(folder, ".git").stat()  # a folder, or a file in a worktree
    except (OSError, ValueError):
        return None
    return _name(PurePosixPath(folder).name)


class ProjectFinder:
    """Projects of working folders, with what each folder says cached for a while."""

    def __init__(
        self,
        *,
        ttl: float = FOLDER_TTL,
        max_folders: int = MAX_FOLDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_folders
        self._clock = clock
        # folder -> (when read, what it names); oldest first, for the bound.
        self._folders: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self.folders_read = 0  # how many folders' markers were looked at (for tests)

    def project(self, cwd: str | None) -> str | None:
        """The nearest project named from ``cwd`` upward; None if none or ``cwd`` is not a path."""
        if not cwd or not cwd.startswith("/") or "\x00" in cwd:
            return None
        folder = cwd.rstrip("/") or "/"
        for _ in range(MAX_LEVELS):
            found = self._folder(folder)
            if found is not None:
                return found
            if folder == "/":
                break
            folder = folder.rsplit("/", 1)[0] or "/"
        return None

    def _folder(self, folder: str) -> str | None:
        now = self._clock()
        cached = self._folders.get(folder)
        if cached is not None and now - cached[0] < self._ttl:
            self._folders.move_to_end(folder)
            return cached[1]
        found = folder_project(folder)
        self.folders_read += 1
        self._folders[folder] = (now, found)
        self._folders.move_to_end(folder)
        while len(self._folders) > self._max:
            self._folders.popitem(last=False)
        return found
