"""The owner walk: reading processes' fd tables for the holders of unexplained sockets.

A pass reads processes until every socket it looks for is found (or, the
first pass, all of them), under a CPU deadline per poll, resuming on the
next poll where it stopped, even halfway through one process's fds.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from portwatch.core.platform.base import os_reason
from portwatch.core.platform.owners.holders import HolderCache
from portwatch.core.platform.owners.processes import ProcessListing, is_passing
from portwatch.core.platform.owners.stats import OwnerStats

# CPU seconds per poll for finishing the first pass once every owner is known.
COMPLETION_BUDGET = 0.005
# How many fds to read between two looks at the clock.
_FDS_PER_CLOCK_CHECK = 128
# A process holding sockets is taken to be this many times likelier to open
# the next one than another; the walk weighs that against its files to read.
HOLDER_WEIGHT = 16
# What listing a process's fd table costs, counted in links read.
_FILES_PER_LISTING = 4
# Open files assumed for a process never counted (kernels before 6.2).
_UNCOUNTED_FILES = 64
if sys.platform == "win32":  # no fd tables to read there: never opened
    _DIRECTORY_FLAGS = os.O_RDONLY
else:
    _DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

# The next process to read: pid, its fds left (None: list them), read for the pass.
_Step = tuple[int, list[str] | None, bool]


class OwnerWalk:
    """The current pass over /proc: what it looks for, what is left, why it fell short."""

    def __init__(
        self,
        proc_root: str,
        *,
        cache: HolderCache,
        listing: ProcessListing,
        stats: OwnerStats,
        euid: int | None,
        cpu_clock: Callable[[], float],
        completion_budget: float | None = COMPLETION_BUDGET,
    ) -> None:
        """``completion_budget``: see :data:`COMPLETION_BUDGET`; None reads the first pass
        to its end in one go (a source that wants every holder of every socket at once)."""
        self._proc = proc_root
        self._cache = cache
        self._listing = listing
        self._stats = stats
        self._euid = euid
        self._cpu_clock = cpu_clock
        self._completion_budget = completion_budget
        self._order: list[int] = []  # the processes left to read; pop() = likeliest
        #: The inodes this pass looks for.
        self.looking_for: set[int] = set()
        self._walked: list[int] = []  # read by this pass so far
        #: The pass must run to the end (the cold one).
        self.complete = False
        self._ordered = True  # the walk is in _order_by_likelihood's order (or needs none)
        self._fd_counts: dict[int, int] = {}  # pid -> open files when last counted
        # stat() of /proc/PID/fd gives the number of open files (Linux 6.2+):
        # this process has some, so a size of 0 means an older kernel.
        try:
            self._stat_counts_files = Path(proc_root, "self", "fd").stat().st_size > 0
        except OSError:
            self._stat_counts_files = False
        # A pid read halfway: its fds left, and whether the walk was reading it.
        self._partial: tuple[int, list[str], bool] | None = None
        # Sockets the process being read was found holding anew (see _ask_parent).
        self._found: list[int] = []
        # Parents of new holders, to be read next whatever their own parent holds.
        self._asked: set[int] = set()
        # Why this pass could not read everything it should (None: it could),
        # and whether that may pass (EMFILE …): then retry soon.
        self.failure: str | None = None
        self.failure_passes = False

    @property
    def busy(self) -> bool:
        """Work is left for later polls (a walk in progress, new processes unread)."""
        return bool(self._listing.fresh or self._order or self._partial)

    @property
    def reached_the_end(self) -> bool:
        """The pass read every process it had to, still looking for some sockets."""
        return not self._order and not self._partial and bool(self.looking_for)

    def forget(self, gone: set[int]) -> None:
        """Processes that exited: no count of their files to keep."""
        for pid in gone & self._fd_counts.keys():
            del self._fd_counts[pid]
        self._asked -= gone

    def failed(self, exc: OSError) -> None:
        """A read of /proc failed for a reason other than a process that is gone."""
        self.note_failure(os_reason(exc), passes=is_passing(exc))

    def note_failure(self, reason: str, *, passes: bool) -> None:
        self.failure = self.failure or reason
        self.failure_passes |= passes

    def end_pass(self) -> tuple[str | None, bool]:
        """The pass is over: why it fell short (None: it did not) and whether that may pass."""
        result = (self.failure, self.failure_passes)
        self.failure = None
        self.failure_passes = False
        self.looking_for = set()
        self._walked = []
        self.complete = False
        return result

    def start(self, missing: set[int], *, complete: bool) -> None:
        """Look for ``missing``; ``complete``: read every process (the first pass)."""
        if not missing and not complete:
            return
        if self.looking_for or self.complete:
            # A pass is under way: extend it rather than start over (sockets
            # that keep appearing would otherwise restart it for ever). The
            # processes it already read are read again, after the others.
            self._order = self._walked + self._order
            self._walked = []
            self.looking_for |= missing
            self.complete = complete or self.complete
            self._ordered = self.complete
            return
        # The order a first pass is read in (each pass orders itself again by
        # _order_by_likelihood before its first read).
        holder_pids = self._cache.pids()
        pids = self._listing.pids
        self._order = sorted(pids - holder_pids) + sorted(holder_pids & pids)
        listing_failure = self._listing.failure
        self.failure = listing_failure
        self.failure_passes = listing_failure is not None
        self.looking_for = set(missing) | self.looking_for
        self.complete = complete or self.complete
        self._ordered = self.complete  # the first pass reads everyone anyway
        self._walked = []

    def _order_by_likelihood(self) -> None:
        """Order the walk by how likely a process opened the socket over what reading it costs.

        Reading fd tables is the walk's cost (~5 µs a link: a server holding
        10,000 sockets takes ~50 ms), so first come the processes whose number
        of open files changed since it was last counted (one of them opened
        it), then the rest by likelihood per file to read: a process holding
        sockets counts HOLDER_WEIGHT times (servers open more); newest first
        among equals. stat() of /proc/PID/fd gives the number of open files
        (Linux 6.2+; 0 before, where the count from its last read stands in).
        """
        self._ordered = True
        counts = self._fd_counts
        holders = self._cache.pids()
        stat = os.stat
        proc = self._proc
        keyed: list[tuple[bool, float, int]] = []
        for pid in self._order:
            before = counts.get(pid)
            try:
                files = stat(f"{proc}/{pid}/fd").st_size
            except OSError:
                files = 0  # gone, or not ours to read
            if self._stat_counts_files:
                if files == 0:
                    keyed.append((False, -1.0, pid))  # no file to hold it (or gone): last
                    continue
                counts[pid] = files
            else:
                files = before if before is not None else _UNCOUNTED_FILES
            weight = HOLDER_WEIGHT if pid in holders else 1
            changed = before is not None and before != files
            keyed.append((changed, weight / (files + _FILES_PER_LISTING), pid))
        keyed.sort()
        self._order = [pid for _, _, pid in keyed]  # pop() takes the likeliest first

    def work(self, wanted: dict[int, int], missing: set[int], deadline: float | None) -> None:
        """Read processes until ``deadline`` (CPU clock) or nothing is left to look for."""
        looking = set(missing)
        holder_pids: set[int] | None = None
        read: set[int] = set()  # the processes read this poll
        finishing: float | None = None
        while True:
            if (
                not looking
                and self.complete
                and finishing is None
                and self._completion_budget is not None
            ):
                # Every owner is known: the rest of the first pass only looks
                # for more holders of shared sockets, a few ms per poll.
                finishing = self._cpu_clock() + self._completion_budget
                deadline = finishing if deadline is None else min(deadline, finishing)
            if deadline is not None and self._cpu_clock() >= deadline:
                return
            step = self._next_step(looking)
            if step is None:
                return
            pid, names, from_walk = step
            asked = pid in self._asked
            self._asked.discard(pid)
            if names is None and not from_walk and not looking and not self.complete and not asked:
                # Nothing unexplained: a new process matters only if it
                # inherited a socket, i.e. its parent holds one (a fork).
                if holder_pids is None:
                    holder_pids = self._cache.pids()
                if self._listing.parent(pid) not in holder_pids:
                    continue
            self._scan(pid, names, wanted, looking, deadline, from_walk=from_walk)
            if self._partial is None or self._partial[0] != pid:
                read.add(pid)  # to its end
            if self._found:
                if holder_pids is not None:
                    holder_pids.add(pid)
                self._ask_parent(pid, read)

    def _ask_parent(self, pid: int, read: set[int]) -> None:
        """``pid`` was just found holding sockets: read its parent next, unless it holds them too.

        The parent of a holder may hold the same socket: a pre-fork server's
        master, whose workers the walk (newest first) finds before it, or
        systemd for a socket it activated. It is the socket's main holder,
        so it must not wait for the end of a pass, or be skipped as a new
        process whose own parent holds nothing. ``read``: the processes read
        this poll, whose holdings are known already (systemd, the parent of
        many holders, is read once a poll, not once for each of them).
        """
        found, self._found = self._found, []
        parent = self._listing.parent(pid)
        if parent is None or parent <= 0 or parent == pid:
            return
        if parent in self._asked or parent in read:
            return
        holders = self._cache.holders
        if all(parent in holders.get(inode, ()) for inode in found):
            return
        self._asked.add(parent)
        self._listing.fresh.append(parent)  # pop() takes it next

    def _next_step(self, looking: set[int]) -> _Step | None:
        """The process to read next: one read halfway, a new one, the pass's next; None: done."""
        searching = bool(looking) or self.complete
        while self._partial is not None:
            pid, names, from_walk = self._partial
            self._partial = None
            if from_walk and not searching:
                continue  # what the walk looked for is found or gone: no need to finish
            return pid, names, from_walk
        if self._listing.fresh:
            return self._listing.fresh.pop(), None, False
        if self._order and searching:
            if not self._ordered:
                self._order_by_likelihood()
            pid = self._order.pop()
            self._walked.append(pid)
            return pid, None, True
        if self._order:
            # Everything found: this pass is over before its end.
            self._order = []
            self._walked = []
            self.looking_for = set()
        return None

    def _scan(
        self,
        pid: int,
        names: list[str] | None,
        wanted: dict[int, int],
        looking: set[int],
        deadline: float | None,
        *,
        from_walk: bool,
    ) -> None:
        """Read one process's fd links, recording every wanted socket it holds."""
        if pid in self._listing.unreadable:
            if self._euid == 0:
                self.failure = self.failure or "permission denied"
            return
        # Links are read relative to the fd directory, opened once: a full
        # path would make the kernel look up /proc/PID/fd again for every fd.
        try:
            dir_fd = os.open(f"{self._proc}/{pid}/fd", _DIRECTORY_FLAGS)
        except FileNotFoundError:
            return  # exited
        except OSError as exc:
            self._refused(pid, exc)
            return
        try:
            if names is None:
                self._stats.pids_scanned += 1
                try:
                    names = os.listdir(dir_fd)  # noqa: PTH208 - hot path, by fd
                except FileNotFoundError:
                    return
                except OSError as exc:
                    self._refused(pid, exc)
                    return
                names.reverse()  # taken from the end: fds in ascending order
                self._fd_counts[pid] = len(names)
            self._read_links(pid, dir_fd, names, wanted, looking, deadline, from_walk=from_walk)
        finally:
            os.close(dir_fd)

    def _refused(self, pid: int, exc: OSError) -> None:
        # Not this process's doing (too many open files …): this pass cannot
        # say that nobody holds a socket. Root refused (an LSM, hidepid): cannot tell either.
        if is_passing(exc) or self._euid == 0:
            self.failed(exc)
        self._listing.refused(pid, exc)

    def _read_links(  # noqa: PLR0917 - one step of _scan, called per process
        self,
        pid: int,
        dir_fd: int,
        names: list[str],
        wanted: dict[int, int],
        looking: set[int],
        deadline: float | None,
        *,
        from_walk: bool,
    ) -> None:
        readlink = os.readlink
        cache = self._cache
        holders = cache.holders
        negative = cache.negative
        while names:
            # A batch between two looks at the clock, read from the end.
            batch = names[-_FDS_PER_CLOCK_CHECK:]
            del names[-_FDS_PER_CLOCK_CHECK:]
            self._stats.fds_read += len(batch)
            for name in reversed(batch):
                try:
                    link = readlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    continue  # closed meanwhile
                except OSError as exc:
                    if exc.errno != errno.ESRCH:
                        # Listed but not readable (root without CAP_SYS_PTRACE
                        # reading a more privileged process …): cannot tell.
                        self.failed(exc)
                    continue
                if link.startswith("socket:["):
                    inode = int(link[8:-1])
                    if inode in wanted:
                        held = holders.setdefault(inode, {})
                        if pid not in held:
                            self._found.append(inode)
                        held[pid] = int(name)
                        cache.changed = True
                        negative.pop(inode, None)
                        looking.discard(inode)
            if names and deadline is not None and self._cpu_clock() >= deadline:
                self._partial = (pid, names, from_walk)
                return


__all__ = ["COMPLETION_BUDGET", "HOLDER_WEIGHT", "OwnerWalk"]
