"""Linux: which processes hold a socket, found without reading every fd every poll.

The kernel's socket tables name each socket by inode; only ``/proc/PID/fd``
says which process holds it. Reading every fd link of every process (what
psutil does on every call) costs ~5 µs per open file on the machine. Instead
:class:`SocketOwners` keeps an inode → {pid: fd} cache and each poll:

1. re-checks each wanted socket's cached holders: the pid must still be
   alive, and a rotating share of the (pid, fd) pairs (all of them every
   ``verify_every`` polls, or at most ``verify_limit`` a quiet poll) is
   re-read with ``readlink`` (the link must still read ``socket:[inode]``: a
   closed or reused fd fails; then every pair is re-read that poll). /proc
   itself is listed again only when ``/proc/loadavg``'s newest pid moved (a
   process or thread was made) or a holder is gone;
2. reads the fds of processes that appeared since the last poll (a fork that
   inherits a listener, a new server), newest first;
3. walks the other processes only for sockets still unexplained (an existing
   process opened a new socket), stopping as soon as all are found: those
   whose number of open files changed first, long fd tables late;

all under a CPU budget per poll, resuming on the next poll. Sockets it cannot
explain go into a negative cache: other users' sockets when not root (their
fds are unreadable), and, as root, sockets no process holds (the kernel's own:
NFS, WireGuard …), re-tried now and then. Until a walk finishes, an owner is
reported as :attr:`OwnerUnknown.PENDING`.

The three parts: :class:`ProcessListing` (step 1's /proc listing and the
new processes of step 2), :class:`HolderCache` (the cache and the answer),
:class:`OwnerWalk` (steps 2 and 3).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterable

from portwatch.core.model import OwnerUnknown
from portwatch.core.platform.base import effective_uid
from portwatch.core.platform.linux_procfs import KernelSocket
from portwatch.core.platform.owners.holders import HolderCache, Owner
from portwatch.core.platform.owners.processes import ProcessListing
from portwatch.core.platform.owners.stats import OwnerStats
from portwatch.core.platform.owners.walk import COMPLETION_BUDGET, OwnerWalk

# Cached (pid, fd) pairs re-read in a quiet poll at most: a readlink of
# /proc/PID/fd/N costs ~3-5 µs, and 2,000 listeners would otherwise take
# 500 of them a poll. Beyond it a full round takes more than verify_every polls.
VERIFY_LIMIT = 256
# Seconds before sockets whose lookup failed (too many open files …) are
# looked for again; sockets nobody holds wait ``retry_after``.
FAILED_RETRY = 5.0
_GONE_OR_CLOSED = frozenset({errno.ENOENT, errno.ESRCH, errno.EACCES, errno.EPERM})


class SocketOwners:
    """An inode → holders cache over ``/proc``, refreshed incrementally."""

    def __init__(
        self,
        *,
        proc_root: str = "/proc",
        walk_budget: float | None = 0.05,
        cold_walk_budget: float | None = None,
        retry_after: float = 300.0,
        verify_every: int = 4,
        verify_limit: int = VERIFY_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
        completion_budget: float | None = COMPLETION_BUDGET,
    ) -> None:
        """``completion_budget``: CPU seconds per poll the first pass goes on for once
        every socket has an owner (looking for more holders of shared sockets);
        None reads it to its end in the first poll."""
        self._proc = proc_root
        self.walk_budget = walk_budget
        self.cold_walk_budget = cold_walk_budget
        self.retry_after = retry_after
        # Each cached (pid, fd) is re-read every this many polls (1 = every poll).
        self.verify_every = verify_every
        self.verify_limit = verify_limit
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._euid = effective_uid()
        self.stats = OwnerStats()
        #: The process listing (which pids exist, which are new).
        self.processes = ProcessListing(proc_root, self.stats)
        self._cache = HolderCache(proc_root, self._euid)
        self._walk = OwnerWalk(
            proc_root,
            cache=self._cache,
            listing=self.processes,
            stats=self.stats,
            euid=self._euid,
            cpu_clock=cpu_clock,
            completion_budget=completion_budget,
        )
        #: Why the last completed pass failed to read some processes, for warnings.
        self.lookup_failure: str | None = None
        # For quiet polls: the sockets of the last poll and their uids by inode.
        self._last_sockets: list[KernelSocket] = []
        self._last_wanted: dict[int, int] = {}
        self._last_generations: tuple[int, ...] = ()
        self._cold = True

    @property
    def generation(self) -> int:
        """Goes up only when :meth:`resolve` answers differently from the last time."""
        return self._cache.generation

    @property
    def first_pass_running(self) -> bool:
        """The first walk over every process has not reached its end yet."""
        return self._cold or self._walk.complete

    @property
    def busy(self) -> bool:
        """Work is left for later polls (a walk in progress, new processes unread)."""
        return self._walk.busy

    def close(self) -> None:
        self.processes.close()

    def resolve(
        self, sockets: Iterable[KernelSocket], *, generations: tuple[int, ...] = ()
    ) -> dict[int, Owner]:
        """Owner of each socket by inode: holder pids, or why there are none.

        ``generations``: those of the tables the sockets come from; equal to
        the last call's, the sockets are the same (none given: compared one
        by one). The answer is shared with the next polls while nothing
        changes: do not modify it; :attr:`generation` says when it did.
        """
        self.stats.polls += 1
        if generations and generations == self._last_generations:
            wanted = self._last_wanted
        else:
            sockets = list(sockets)
            if sockets == self._last_sockets:
                wanted = self._last_wanted  # the same sockets (identity checks, in C)
            else:
                wanted = {ks.inode: ks.uid for ks in sockets}
                self._last_sockets = sockets
            self._last_generations = generations
        budget = self.cold_walk_budget if self._cold else self.walk_budget
        now = self._clock()
        self._refresh_pids(now)
        missing = self._look_again(wanted, now)
        # The budget starts here, not with the poll: checking the cache may
        # cost more than a small budget, and the walk must still move on.
        deadline = None if budget is None else self._cpu_clock() + budget
        self._walk.work(wanted, missing, deadline)
        if self._walk.reached_the_end:
            self._end_pass(wanted, now)
        self._last_wanted = wanted
        return self._cache.answer(wanted, self.stats)

    def _look_again(self, wanted: dict[int, int], now: float) -> set[int]:
        """Check the cache unless the poll is quiet; return the sockets to look for."""
        # A quiet poll: the same sockets, every holder still alive, no walk
        # under way and no retry due. Then only a rotating share of the cached
        # (pid, fd) pairs is re-read, without a Python step per socket.
        cache = self._cache
        same = (
            not self._cold
            and not self._walk.looking_for
            and (wanted is self._last_wanted or wanted == self._last_wanted)
            and now < cache.next_retry
            and cache.holder_pids <= self.processes.pids
        )
        if same and cache.verify_share(self.verify_every, self.verify_limit, self.stats):
            return set()
        cache.changed = True
        cache.forget_closed(wanted)
        # The same sockets, but a cached (pid, fd) no longer shows its
        # socket (closed by one of the processes sharing it, or reused):
        # re-read every pair, not only this poll's share, to find which.
        missing = self._check_cached(wanted, now, verify_all=same)
        if missing and self.processes.skipped:
            # A socket to look for: its process must be in the walk even
            # where /proc/loadavg does not show new pids (some containers
            # make up that file).
            self._refresh_pids(now, force=True)
        if self._cold:
            self._cold = False
            # The first pass reads everything: it also learns sockets shared
            # by several processes (a pre-fork server, systemd socket
            # activation). It stops early for this poll once every socket
            # has an owner.
            self.processes.fresh = []
            self._walk.start(missing, complete=True)
        elif missing and not missing <= self._walk.looking_for:
            self._walk.start(missing, complete=False)
        return missing

    def _end_pass(self, wanted: dict[int, int], now: float) -> None:
        """The pass reached the end: what it did not find, nobody we can see holds."""
        self.stats.passes_completed += 1
        reason = OwnerUnknown.KERNEL if self._euid == 0 else OwnerUnknown.NEEDS_PRIVILEGES
        retry_at = now + self.retry_after
        looked_for = self._walk.looking_for
        failure, passes = self._walk.end_pass()
        self.lookup_failure = failure
        if failure is not None:
            # Some fd tables could not be read: "nobody holds it" is not known.
            # Soon again if that may pass (too many open files); a process
            # that keeps refusing root is not walked for again every few seconds.
            reason = OwnerUnknown.LOOKUP_FAILED
            if passes:
                retry_at = now + FAILED_RETRY
        self._cache.mark_unheld(looked_for, wanted, reason, retry_at)

    def _refresh_pids(self, now: float, *, force: bool = False) -> None:
        listing = self.processes
        gone = listing.refresh(
            now, may_reuse=lambda: not force and not self._cold and self._cache.holders_alive()
        )
        if not listing.skipped and listing.failure is not None:
            self._walk.note_failure(listing.failure, passes=True)
        self._walk.forget(gone)

    def _check_cached(
        self, wanted: dict[int, int], now: float, *, verify_all: bool = False
    ) -> set[int]:
        """Re-check cached holders; return the inodes that still need looking for."""
        missing: set[int] = set()
        not_root = self._euid != 0
        # As in quiet polls: about verify_limit readlinks at most.
        pairs = len(self._cache.verify_list)
        every = (
            1 if verify_all else max(1, self.verify_every, -(-pairs // max(1, self.verify_limit)))
        )
        phase = self.stats.polls % every
        holders_of = self._cache.holders
        negative = self._cache.negative
        for inode, uid in wanted.items():
            holders = holders_of.get(inode)
            if holders:
                if self._still_held(inode, holders, verify=inode % every == phase):
                    continue
                del holders_of[inode]
            if inode == 0:
                continue  # no file: a socket the kernel itself holds
            if not_root and uid != self._euid:
                continue  # another user's: their fd tables are closed to us
            unheld = negative.get(inode)
            if unheld is not None:
                if unheld[1] > now:
                    continue
                del negative[inode]
            missing.add(inode)
        return missing

    def _still_held(self, inode: int, holders: dict[int, int], *, verify: bool) -> bool:
        """Drop holders that exited (or, ``verify``: no longer show it); whether any is left.

        That a holder still has the socket on that fd is re-read for a rotating share.
        """
        alive = self.processes.pids
        readlink = os.readlink
        link = f"socket:[{inode}]"
        for pid, fd in list(holders.items()):
            if pid not in alive:
                del holders[pid]
                continue
            if not verify:
                continue
            self.stats.checks += 1
            try:
                ok = readlink(f"{self._proc}/{pid}/fd/{fd}") == link
            except OSError as exc:
                # Closed or gone: look again. Could not read (too many
                # open files …): the holder stays until it can be read.
                ok = exc.errno not in _GONE_OR_CLOSED
                if ok:
                    self._walk.failed(exc)
            if not ok:
                del holders[pid]
                fresh = self.processes.fresh
                if pid in alive and pid not in fresh:
                    # It may hold the socket on another fd (dup2): look there first.
                    fresh.append(pid)
        return bool(holders)


def every_holder(
    sockets: Iterable[KernelSocket], *, proc_root: str = "/proc"
) -> tuple[dict[int, Owner], OwnerStats]:
    """Every holder of each socket by inode, from one complete read of every fd table.

    For a source that reads everything on every poll (psutil's): no cache
    is kept, so it costs one walk of ``/proc/*/fd`` each call (what
    :attr:`OwnerStats.fds_read` counts), about what psutil's own walk costs.
    """
    owners = SocketOwners(
        proc_root=proc_root, walk_budget=None, cold_walk_budget=None, completion_budget=None
    )
    try:
        return owners.resolve(sockets), owners.stats
    finally:
        owners.close()


__all__ = [
    "FAILED_RETRY",
    "VERIFY_LIMIT",
    "Owner",
    "OwnerStats",
    "SocketOwners",
    "every_holder",
]
