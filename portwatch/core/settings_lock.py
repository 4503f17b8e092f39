"""One writer at a time: an exclusive lock on a file beside the settings.

Every read-modify-write of the settings (``portwatch watch-port add``, the
Settings dialog, the repair of a bad file) holds this lock, so twenty
commands started together all keep their edit. The lock is on
``settings.json.lock`` (0600), never on the settings file itself: that one is
replaced by a rename at every save. The operating system drops the lock when
its holder ends, even by ``kill -9``.

POSIX uses ``fcntl.flock``, Windows ``msvcrt.locking`` on the first byte.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from portwatch.core.files import FILE_MODE, tighten

# A holder keeps the lock for one read and one write; waiting longer than this
# means something is stuck, and the caller says so instead of hanging.
LOCK_WAIT_SECONDS = 30.0
_POLL_START = 0.002
_POLL_MAX = 0.05


class LockTimeoutError(OSError):
    """Another process held the lock for longer than the wait."""


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def exclusive_lock(path: Path, *, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the lock for ``path`` (the settings file) while the block runs.

    Raises OSError when the lock file cannot be made (a read-only folder) and
    :class:`LockTimeoutError` when another process holds it for ``wait`` seconds.
    Not re-entrant: do not take it again inside the block.
    """
    target = lock_path(path)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, FILE_MODE)
    try:
        tighten(target)
        deadline = time.monotonic() + wait
        pause = _POLL_START
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    errno.EAGAIN, f"another program has been changing it for {wait:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
