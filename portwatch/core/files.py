"""Every file portwatch writes: private (0600) and atomic, in private (0700) folders.

Other local users can read /proc, but not what portwatch keeps about it: the
history holds command lines, the log names processes. So every folder
portwatch makes is 0700 and every file 0600, and existing ones are tightened
when portwatch starts (see :func:`private_dir`, :func:`tighten`,
:func:`tighten_tree`). A folder in a place every user can write (the
single-instance socket's, in ``/tmp``) is verified to be ours alone:
:func:`owned_private_dir`.

:func:`write_atomic` is the one writer: a temporary file beside the target,
fsync, rename over it, fsync the folder. A crash or a full disk leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


class UnsafeFolderError(OSError):
    """A folder portwatch must own alone is someone else's, a symbolic link, or not a folder.

    ``str()`` is one line for a person saying what is wrong with which path.
    """

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: made 0700, or tightened to it.

    Parents that portwatch makes on the way (``~/.local/share/portwatch``'s
    ``share``) are left to the system's defaults; only ``path`` itself is ours.
    """
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tighten(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Take group and other permissions off ``path`` if it is ours; never raises.

    Symbolic links are left alone (their target may be anyone's file).
    """
    if sys.platform == "win32":
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


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read: made empty with 0600, or tightened.

    For files another library writes (Qt's QSettings): it keeps the mode of
    the file it replaces, so the file never exists with a wider one.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    # A link, a folder or a full disk: left as it is, the writer will say so.
    with contextlib.suppress(OSError):
        os.close(os.open(path, flags, FILE_MODE))
    tighten(path)
    return path


def tighten_tree(folder: Path) -> None:
    """Tighten every folder (0700) and file (0600) under ``folder``; links are not followed."""
    if sys.platform == "win32":
        return
    for top, dirs, names in os.walk(folder, followlinks=False):
        base = Path(top)
        for name in dirs:
            tighten(base / name, DIR_MODE)
        for name in names:
            tighten(base / name, FILE_MODE)


def owned_private_dir(path: Path) -> Path:
    """``path`` as a folder that is verified to be ours alone: made 0700 if missing.

    For folders in shared places (``/tmp``) where another user could have
    made the path first. Checked on the folder itself (``lstat``, then an
    ``O_NOFOLLOW`` open compared by inode): it must not be a symbolic link,
    must be a folder, must belong to our effective user; group and other
    permissions are taken off. Raises :class:`UnsafeFolderError` otherwise.
    """
    if sys.platform == "win32":
        return private_dir(path)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFolderError(path, f"{path} is a symbolic link")
    if info.st_uid != os.geteuid():
        raise UnsafeFolderError(path, f"Another user owns {path}")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolderError(path, f"{path} is not a folder")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino, opened.st_uid) != (
            info.st_dev,
            info.st_ino,
            info.st_uid,
        ):
            raise UnsafeFolderError(path, f"{path} changed while portwatch checked it")
        if stat.S_IMODE(opened.st_mode) & 0o077:
            os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)
    return path


def write_atomic(
    path: Path, data: bytes | str, *, mode: int = FILE_MODE, make_folder: bool = True
) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; the new file has ``mode``.

    The temporary file is ``mode`` from the start (mkstemp makes it 0600).
    A missing folder is made 0700, unless ``make_folder`` is False (a folder
    the user picked, as for an export: missing is then an error). Raises
    OSError (ENOSPC, EACCES, ENOENT, …) with the old file untouched.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    if make_folder:
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if sys.platform != "win32":
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
    if sys.platform == "win32":
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
