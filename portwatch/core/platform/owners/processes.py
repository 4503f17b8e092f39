"""The process listing: which pids exist, which are new, which refuse to be read.

/proc itself is listed again only when ``/proc/loadavg``'s newest pid moved
(a process or thread was made), a holder of a cached socket is gone, or the
last listing is ``LISTING_MAX_AGE`` old.
"""

from __future__ import annotations

import errno
import io
import math
import os
from collections.abc import Callable

from portwatch.core.platform.base import os_reason
from portwatch.core.platform.linux_procfs import read_head
from portwatch.core.platform.owners.stats import OwnerStats

# /proc is listed at least this often (seconds) even while /proc/loadavg says
# no process was made: a forked child sharing a listener is then seen in time.
LISTING_MAX_AGE = 30.0
# errno values of a lookup that failed for a passing reason, not because the
# process or the fd is gone or closed to us: the answer is "could not read".
PASSING = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.EINTR})
# Refusals of one process's fd table before it counts as unreadable.
_REFUSALS_BEFORE_GIVING_UP = 3


def is_passing(exc: OSError) -> bool:
    """A failure that is not the process's doing (too many open files …): try again soon."""
    return exc.errno in PASSING or exc.errno is None


class ProcessListing:
    """The pids of /proc, the ones new since they were last looked at, the unreadable ones."""

    def __init__(self, proc_root: str, stats: OwnerStats) -> None:
        self._proc = proc_root
        self._stats = stats
        self.pids: set[int] = set()  # the /proc listing of the previous poll
        self._names: list[str] = []  # that listing as read
        #: Appeared since they were last looked at; pop() gives the newest.
        self.fresh: list[int] = []
        #: fd tables we may not list (other users).
        self.unreadable: set[int] = set()
        self._refusals: dict[int, int] = {}  # pid -> fd tables refused so far
        self._retry: list[int] = []  # refused once: read again next poll
        #: Why the last listing of /proc failed (None: it worked).
        self.failure: str | None = None
        #: This poll reused the last listing.
        self.skipped = False
        # /proc/loadavg ends with the last pid the kernel handed out: while it
        # stands still no process (or thread) was made, and listing /proc
        # (~2 µs a process) can wait. Kept open: a pread is one system call
        # (a file object, so the descriptor is closed with it).
        try:
            self._loadavg: io.FileIO | None = io.FileIO(f"{proc_root}/loadavg", "r")
        except OSError:
            self._loadavg = None
        self._newest_pid = b""  # as of the last listing
        self._listed_at = -math.inf  # when /proc was last listed (clock)

    def close(self) -> None:
        if self._loadavg is not None:
            self._loadavg.close()
            self._loadavg = None

    def _read_newest_pid(self) -> bytes:
        if self._loadavg is None:
            return b""
        try:
            return read_head(self._loadavg.fileno(), 256).rsplit(None, 1)[-1]
        except (OSError, ValueError, IndexError):
            return b""

    def refresh(self, now: float, *, may_reuse: Callable[[], bool]) -> set[int]:
        """List /proc again, or reuse the last listing; return the pids that are gone.

        The last listing stands while no process was made since, it is recent
        and ``may_reuse()`` (every holder alive: a listing would only lose
        processes that hold nothing we want).
        """
        # Read before the listing: a process made after it moves it for the next poll.
        newest = self._read_newest_pid()
        if (
            newest
            and newest == self._newest_pid
            and now - self._listed_at < LISTING_MAX_AGE
            and may_reuse()
        ):
            names = self._names
            self.skipped = True
        else:
            self.skipped = False
            self._listed_at = now
            names = self._list()
        self._newest_pid = newest
        new: set[int] = set()
        gone: set[int] = set()
        if names != self._names:  # processes came or went (else nothing to redo)
            self._names = names
            pids = {int(n) for n in names if n.isdigit()}
            new = pids - self.pids
            gone = self.pids - pids
            self.pids = pids
            self.unreadable -= gone
            for pid in gone & self._refusals.keys():
                del self._refusals[pid]
        if self._retry:
            self.fresh.extend(pid for pid in self._retry if pid in self.pids)
            self._retry = []
        if new:
            self.fresh.extend(sorted(new))
        return gone

    def _list(self) -> list[str]:
        self._stats.listings += 1
        try:
            names = os.listdir(self._proc)  # noqa: PTH208 - hot path: plain strings
        except OSError as exc:
            # Not "every process exited": keep the last listing, say why.
            self.failure = os_reason(exc)
            return self._names
        self.failure = None
        return names

    def refused(self, pid: int, exc: OSError) -> None:
        """Its fd table could not be listed: read it again next poll, or give up on it."""
        if is_passing(exc):
            self._retry.append(pid)
            return
        # Another user's process when we are not root. A process in the middle
        # of execve() can refuse for a moment too, so a few more tries on the
        # next polls before giving up.
        tries = self._refusals.get(pid, 0) + 1
        self._refusals[pid] = tries
        if tries < _REFUSALS_BEFORE_GIVING_UP:
            self._retry.append(pid)
        else:
            self.unreadable.add(pid)

    def parent(self, pid: int) -> int | None:
        try:
            with open(f"{self._proc}/{pid}/stat", "rb") as f:  # noqa: PTH123 - hot path
                data = f.read()
            return int(data[data.rindex(b")") + 2 :].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
            return None


__all__ = ["LISTING_MAX_AGE", "PASSING", "ProcessListing", "is_passing"]
