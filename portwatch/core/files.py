"""Every file portwatch writes: private (0600) and atomic, in private (0700) folders.

Other local users can read /proc, but not what portwatch keeps about it: the
history holds command lines, the log names processes. So every folder
portwatch makes is 0700 and every file 0600, and existing ones are tightened
when portwatch starts (see :func:`private_dir`, :func:`tighten`).

:func:`write_atomic` is the one writer: a temporary file beside the target,
fsync, rename over it, fsync the folder. A crash or a full disk leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_POSIX = os.name == "posix"


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: made 0700, or tightened to it.

    Parents that portwatch makes on the way (``~/.local/share/portwatch``'s
    ``share``) are left to the system's defaults; only ``path`` itself is ours.
    """
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tighten(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Take group and other permissions off ``path`` if it is ours; never raises."""
    if not _POSIX:
        return
    try:
        info = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return
    if stat.S_IMODE(info.st_mode) & ~mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)


def write_atomic(path: Path, data: bytes | str, *, mode: int = FILE_MODE) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; the new file has ``mode``.

    Raises OSError (ENOSPC, EACCES, …) with the old file untouched.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if _POSIX:
                os.fchmod(out.fileno(), mode)
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(folder)
    return path


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open folders)."""
    if not _POSIX:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
