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
"""

from __future__ import annotations

import errno
import io
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from portwatch.core.generation import next_generation
from portwatch.core.model import OwnerUnknown
from portwatch.core.platform.base import os_reason
from portwatch.core.platform.linux_procfs import KernelSocket

Owner = tuple[int, ...] | OwnerUnknown

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
# Cached (pid, fd) pairs re-read in a quiet poll at most: a readlink of
# /proc/PID/fd/N costs ~3-5 µs, and 2,000 listeners would otherwise take
# 500 of them a poll. Beyond it a full round takes more than verify_every polls.
VERIFY_LIMIT = 256
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# /proc is listed at least this often (seconds) even while /proc/loadavg says
# no process was made: a forked child sharing a listener is then seen in time.
LISTING_MAX_AGE = 30.0
# Seconds before sockets whose lookup failed (too many open files …) are
# looked for again; sockets nobody holds wait ``retry_after``.
FAILED_RETRY = 5.0
# errno values of a lookup that failed for a passing reason, not because the
# process or the fd is gone or closed to us: the answer is "could not read".
_PASSING = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.EINTR})
_GONE_OR_CLOSED = frozenset({errno.ENOENT, errno.ESRCH, errno.EACCES, errno.EPERM})


@dataclass(slots=True)
class OwnerStats:
    """Counters for tests and benchmarks: what the lookups cost so far."""

    polls: int = 0
    checks: int = 0  # readlinks of cached (pid, fd) pairs
    listings: int = 0  # reads of the /proc directory
    pids_scanned: int = 0  # fd tables listed
    fds_read: int = 0  # readlinks while scanning fd tables
    passes_completed: int = 0  # walks over every process that ran to the end
    pending: int = 0  # sockets reported as still being looked up, last poll
    failed: int = 0  # sockets whose lookup failed (OwnerUnknown.LOOKUP_FAILED), last poll


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
    ) -> None:
        self._proc = proc_root
        self.walk_budget = walk_budget
        self.cold_walk_budget = cold_walk_budget
        self.retry_after = retry_after
        # Each cached (pid, fd) is re-read every this many polls (1 = every poll).
        self.verify_every = verify_every
        self.verify_limit = verify_limit
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._euid = os.geteuid()
        self._holders: dict[int, dict[int, int]] = {}  # inode -> {pid: fd}
        self._negative: dict[int, tuple[OwnerUnknown, float]] = {}  # inode -> (why, retry at)
        self._pids: set[int] = set()  # the /proc listing of the previous poll
        self._listing: list[str] = []  # that listing as read
        self._unreadable: set[int] = set()  # fd tables we may not list (other users)
        self._fresh: list[int] = []  # appeared since they were last looked at; pop() = newest
        self._walk: list[int] = []  # the current pass over older processes
        self._walk_for: set[int] = set()  # the inodes that pass looks for
        self._walked: list[int] = []  # read by that pass so far
        self._walk_complete = False  # the pass must run to the end (the cold one)
        self._walk_ordered = True  # the walk is in _order_walk's order (or needs none)
        self._fd_counts: dict[int, int] = {}  # pid -> open files when last counted
        # stat() of /proc/PID/fd gives the number of open files (Linux 6.2+):
        # this process has some, so a size of 0 means an older kernel.
        try:
            self._stat_counts_files = Path(proc_root, "self", "fd").stat().st_size > 0
        except OSError:
            self._stat_counts_files = False
        # A pid read halfway: its fds left, and whether the walk was reading it.
        self._partial: tuple[int, list[str], bool] | None = None
        self._refusals: dict[int, int] = {}  # pid -> fd tables refused so far
        # Why the current pass could not read everything it should (None: it could).
        self._pass_failure: str | None = None
        self._pass_failure_passes = False  # that failure may pass (EMFILE …): retry soon
        self._listing_failure: str | None = None  # the last listing of /proc failed
        #: Why the last completed pass failed to read some processes, for warnings.
        self.lookup_failure: str | None = None
        # For quiet polls: what the last answer was made of.
        self._changed = True
        self._last_sockets: list[KernelSocket] = []
        self._last_wanted: dict[int, int] = {}
        self._last_answer: dict[int, Owner] = {}
        #: Goes up only when :meth:`resolve` answers differently from the last time.
        self.generation = 0
        self._holder_pids: set[int] = set()
        # Each cached (pid, fd) as the path to read and the link it must show.
        self._verify_list: list[tuple[str, str]] = []
        self._verify_at = 0  # where the next quiet poll's share starts
        self._next_retry = math.inf
        self._retry: list[int] = []  # refused once: read again next poll
        self._cold = True
        self.stats = OwnerStats()
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
        self._listing_skipped = False  # this poll reused the last listing

    @property
    def first_pass_running(self) -> bool:
        """The first walk over every process has not reached its end yet."""
        return self._cold or self._walk_complete

    @property
    def busy(self) -> bool:
        """Work is left for later polls (a walk in progress, new processes unread)."""
        return bool(self._fresh or self._walk or self._partial)

    def resolve(self, sockets: Iterable[KernelSocket]) -> dict[int, Owner]:
        """Owner of each socket by inode: holder pids, or why there are none.

        The answer is shared with the next polls while nothing changes: do not
        modify it.
        """
        self.stats.polls += 1
        sockets = list(sockets)
        if sockets == self._last_sockets:
            wanted = self._last_wanted  # the same sockets (identity checks, in C)
        else:
            wanted = {ks.inode: ks.uid for ks in sockets}
            self._last_sockets = sockets
        budget = self.cold_walk_budget if self._cold else self.walk_budget
        now = self._clock()
        self._refresh_pids(now)

        # A quiet poll: the same sockets, every holder still alive, no walk
        # under way and no retry due. Then only a rotating share of the cached
        # (pid, fd) pairs is re-read, without a Python step per socket.
        same = (
            not self._cold
            and not self._walk_for
            and (wanted is self._last_wanted or wanted == self._last_wanted)
            and now < self._next_retry
            and self._holder_pids <= self._pids
        )
        quiet = same and self._verify_share()
        missing: set[int] = set()
        if not quiet:
            self._changed = True
            # Forget sockets that closed, so the caches follow the tables.
            for cache in (self._holders, self._negative):
                for inode in [i for i in cache if i not in wanted]:
                    del cache[inode]
            # The same sockets, but a cached (pid, fd) no longer shows its
            # socket (closed by one of the processes sharing it, or reused):
            # re-read every pair, not only this poll's share, to find which.
            missing = self._check_cached(wanted, now, verify_all=same)
            if missing and self._listing_skipped:
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
                self._fresh = []
                self._start_walk(missing, complete=True)
            elif missing and not missing <= self._walk_for:
                self._start_walk(missing, complete=False)
        # The budget starts here, not with the poll: checking the cache may
        # cost more than a small budget, and the walk must still move on.
        deadline = None if budget is None else self._cpu_clock() + budget
        self._work(wanted, missing, deadline)
        if not self._walk and not self._partial and self._walk_for:
            # The pass reached the end: what it did not find, nobody we can see holds.
            self.stats.passes_completed += 1
            reason = OwnerUnknown.KERNEL if self._euid == 0 else OwnerUnknown.NEEDS_PRIVILEGES
            retry_at = now + self.retry_after
            self.lookup_failure = self._pass_failure
            if self._pass_failure is not None:
                # Some fd tables could not be read: "nobody holds it" is not known.
                # Soon again if that may pass (too many open files); a process
                # that keeps refusing root is not walked for again every few seconds.
                reason = OwnerUnknown.LOOKUP_FAILED
                if self._pass_failure_passes:
                    retry_at = now + FAILED_RETRY
                self._pass_failure = None
                self._pass_failure_passes = False
            for inode in self._walk_for:
                if inode in wanted and inode not in self._holders:
                    self._negative[inode] = (reason, retry_at)
            self._walk_for = set()
            self._walked = []
            self._walk_complete = False
            self._changed = True
        self._last_wanted = wanted
        if self._changed:
            self._changed = False
            answer = self._answer(wanted)
            if not self.generation or answer != self._last_answer:
                self._last_answer = answer
                self.generation = next_generation()
            self._holder_pids = {pid for holders in self._holders.values() for pid in holders}
            proc = self._proc
            self._verify_list = [
                (f"{proc}/{pid}/fd/{fd}", f"socket:[{inode}]")
                for inode, holders in self._holders.items()
                for pid, fd in holders.items()
            ]
            self._next_retry = min((at for _, at in self._negative.values()), default=math.inf)
        return self._last_answer

    def _verify_share(self) -> bool:
        """Re-read this poll's share of the cached (pid, fd) pairs; False if one moved."""
        pairs = self._verify_list
        if not pairs:
            return True
        count = min(-(-len(pairs) // max(1, self.verify_every)), max(1, self.verify_limit))
        start = self._verify_at % len(pairs)
        share = pairs[start : start + count]
        if len(share) < count:
            share += pairs[: count - len(share)]  # wrap around
        self._verify_at = start + count
        self.stats.checks += len(share)
        readlink = os.readlink
        for path, link in share:
            try:
                if readlink(path) != link:
                    return False
            except OSError:
                return False
        return True

    # -- steps of one poll --------------------------------------------------------

    def close(self) -> None:
        if self._loadavg is not None:
            self._loadavg.close()
            self._loadavg = None

    def _read_newest_pid(self) -> bytes:
        if self._loadavg is None:
            return b""
        try:
            return os.pread(self._loadavg.fileno(), 256, 0).rsplit(None, 1)[-1]
        except (OSError, ValueError, IndexError):
            return b""

    def _holders_alive(self) -> bool:
        stat = os.stat
        proc = self._proc
        for pid in self._holder_pids:
            try:
                stat(f"{proc}/{pid}")
            except OSError:
                return False
        return True

    def _refresh_pids(self, now: float, *, force: bool = False) -> None:
        # Read before the listing: a process made after it moves it for the next poll.
        newest = self._read_newest_pid()
        if (
            not force
            and newest
            and newest == self._newest_pid
            and now - self._listed_at < LISTING_MAX_AGE
            and not self._cold
            and self._holders_alive()
        ):
            # No new process since the last listing, and every holder is alive:
            # the listing would only lose processes that hold nothing we want.
            names = self._listing
            self._listing_skipped = True
        else:
            self._listing_skipped = False
            self._listed_at = now
            self.stats.listings += 1
            try:
                names = os.listdir(self._proc)  # noqa: PTH208 - hot path: plain strings
            except OSError as exc:
                # Not "every process exited": keep the last listing, say why.
                self._listing_failure = os_reason(exc)
                self._pass_failure = self._pass_failure or self._listing_failure
                self._pass_failure_passes = True
                names = self._listing
            else:
                self._listing_failure = None
        self._newest_pid = newest
        new: set[int] = set()
        if names != self._listing:  # processes came or went (else nothing to redo)
            self._listing = names
            pids = {int(n) for n in names if n.isdigit()}
            new = pids - self._pids
            gone = self._pids - pids
            self._pids = pids
            if gone:
                self._unreadable -= gone
                for pid in gone & self._refusals.keys():
                    del self._refusals[pid]
                for pid in gone & self._fd_counts.keys():
                    del self._fd_counts[pid]
        if self._retry:
            self._fresh.extend(pid for pid in self._retry if pid in self._pids)
            self._retry = []
        if new:
            self._fresh.extend(sorted(new))

    def _check_cached(
        self, wanted: dict[int, int], now: float, *, verify_all: bool = False
    ) -> set[int]:
        """Re-check cached holders; return the inodes that still need looking for."""
        missing: set[int] = set()
        readlink = os.readlink
        proc = self._proc
        not_root = self._euid != 0
        alive = self._pids
        # As in quiet polls: about verify_limit readlinks at most.
        every = (
            1
            if verify_all
            else max(1, self.verify_every, -(-len(self._verify_list) // max(1, self.verify_limit)))
        )
        phase = self.stats.polls % every
        checks = 0
        for inode, uid in wanted.items():
            holders = self._holders.get(inode)
            if holders:
                # A holder that exited is dropped at once; that it still has
                # the socket on that fd is re-read for a rotating share.
                verify = inode % every == phase
                for pid, fd in list(holders.items()):
                    if pid not in alive:
                        del holders[pid]
                        continue
                    if not verify:
                        continue
                    checks += 1
                    try:
                        ok = readlink(f"{proc}/{pid}/fd/{fd}") == f"socket:[{inode}]"
                    except OSError as exc:
                        # Closed or gone: look again. Could not read (too many
                        # open files …): the holder stays until it can be read.
                        ok = exc.errno not in _GONE_OR_CLOSED
                        if ok:
                            self._failed(exc)
                    if not ok:
                        del holders[pid]
                        if pid in self._pids and pid not in self._fresh:
                            # It may hold the socket on another fd (dup2): look there first.
                            self._fresh.append(pid)
                if holders:
                    continue
                del self._holders[inode]
            if inode == 0:
                continue  # no file: a socket the kernel itself holds
            if not_root and uid != self._euid:
                continue  # another user's: their fd tables are closed to us
            negative = self._negative.get(inode)
            if negative is not None:
                if negative[1] > now:
                    continue
                del self._negative[inode]
            missing.add(inode)
        self.stats.checks += checks
        return missing

    def _start_walk(self, missing: set[int], *, complete: bool) -> None:
        # The order a first pass is read in (each pass orders itself again by
        # _order_walk before its first read).
        if not missing and not complete:
            return
        if self._walk_for or self._walk_complete:
            # A pass is under way: extend it rather than start over (sockets
            # that keep appearing would otherwise restart it for ever). The
            # processes it already read are read again, after the others.
            self._walk = self._walked + self._walk
            self._walked = []
            self._walk_for |= missing
            self._walk_complete = complete or self._walk_complete
            self._walk_ordered = self._walk_complete
            return
        holder_pids = {pid for holders in self._holders.values() for pid in holders}
        order = sorted(self._pids - holder_pids) + sorted(holder_pids & self._pids)
        self._pass_failure = self._listing_failure
        self._pass_failure_passes = self._listing_failure is not None
        self._walk = order
        self._walk_for = set(missing) | self._walk_for
        self._walk_complete = complete or self._walk_complete
        self._walk_ordered = self._walk_complete  # the first pass reads everyone anyway
        self._walked = []

    def _order_walk(self) -> None:
        """Order the walk by how likely a process opened the socket over what reading it costs.

        Reading fd tables is the walk's cost (~5 µs a link: a server holding
        10,000 sockets takes ~50 ms), so first come the processes whose number
        of open files changed since it was last counted (one of them opened
        it), then the rest by likelihood per file to read: a process holding
        sockets counts HOLDER_WEIGHT times (servers open more); newest first
        among equals. stat() of /proc/PID/fd gives the number of open files
        (Linux 6.2+; 0 before, where the count from its last read stands in).
        """
        self._walk_ordered = True
        counts = self._fd_counts
        holders = {pid for held in self._holders.values() for pid in held}
        stat = os.stat
        proc = self._proc
        keyed: list[tuple[bool, float, int]] = []
        for pid in self._walk:
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
        self._walk = [pid for _, _, pid in keyed]  # pop() takes the likeliest first

    def _work(self, wanted: dict[int, int], missing: set[int], deadline: float | None) -> None:
        looking = set(missing)
        holder_pids: set[int] | None = None
        finishing: float | None = None
        while True:
            if not looking and self._walk_complete and finishing is None:
                # Every owner is known: the rest of the first pass only looks
                # for more holders of shared sockets, a few ms per poll.
                finishing = self._cpu_clock() + COMPLETION_BUDGET
                deadline = finishing if deadline is None else min(deadline, finishing)
            if deadline is not None and self._cpu_clock() >= deadline:
                return
            from_walk = False
            if self._partial is not None:
                pid, names, from_walk = self._partial
                self._partial = None
                if from_walk and not looking and not self._walk_complete:
                    continue  # what the walk looked for is found or gone: no need to finish
            elif self._fresh:
                pid, names = self._fresh.pop(), None
                if not looking and not self._walk_complete:
                    # Nothing unexplained: a new process matters only if it
                    # inherited a socket, i.e. its parent holds one (a fork).
                    if holder_pids is None:
                        holder_pids = {p for h in self._holders.values() for p in h}
                    if self._parent(pid) not in holder_pids:
                        continue
            elif self._walk and (looking or self._walk_complete):
                if not self._walk_ordered:
                    self._order_walk()
                pid, names, from_walk = self._walk.pop(), None, True
                self._walked.append(pid)
            else:
                if self._walk and not looking and not self._walk_complete:
                    # Everything found: this pass is over before its end.
                    self._walk = []
                    self._walked = []
                    self._walk_for = set()
                return
            self._scan(pid, names, wanted, looking, deadline, from_walk=from_walk)

    def _parent(self, pid: int) -> int | None:
        try:
            with open(f"{self._proc}/{pid}/stat", "rb") as f:  # noqa: PTH123 - hot path
                data = f.read()
            return int(data[data.rindex(b")") + 2 :].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
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
        if pid in self._unreadable:
            if self._euid == 0:
                self._pass_failure = self._pass_failure or "permission denied"
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
                self.stats.pids_scanned += 1
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

    def _failed(self, exc: OSError) -> None:
        """A read of /proc failed for a reason other than a process that is gone."""
        self._pass_failure = self._pass_failure or os_reason(exc)
        self._pass_failure_passes |= exc.errno in _PASSING or exc.errno is None

    def _refused(self, pid: int, exc: OSError) -> None:
        if exc.errno in _PASSING or exc.errno is None:
            # Not this process's doing (too many open files …): read it again
            # next poll, and this pass cannot say that nobody holds a socket.
            self._failed(exc)
            self._retry.append(pid)
            return
        if self._euid == 0:
            self._failed(exc)  # root refused (an LSM, hidepid): cannot tell either
        # Another user's process when we are not root. A process in the middle
        # of execve() can refuse for a moment too, so a few more tries on the
        # next polls before giving up.
        tries = self._refusals.get(pid, 0) + 1
        self._refusals[pid] = tries
        if tries < 3:
            self._retry.append(pid)
        else:
            self._unreadable.add(pid)

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
        holders = self._holders
        negative = self._negative
        while names:
            # A batch between two looks at the clock, read from the end.
            batch = names[-_FDS_PER_CLOCK_CHECK:]
            del names[-_FDS_PER_CLOCK_CHECK:]
            self.stats.fds_read += len(batch)
            for name in reversed(batch):
                try:
                    link = readlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    continue  # closed meanwhile
                except OSError as exc:
                    if exc.errno != errno.ESRCH:
                        # Listed but not readable (root without CAP_SYS_PTRACE
                        # reading a more privileged process …): cannot tell.
                        self._failed(exc)
                    continue
                if link.startswith("socket:["):
                    inode = int(link[8:-1])
                    if inode in wanted:
                        holders.setdefault(inode, {})[pid] = int(name)
                        self._changed = True
                        negative.pop(inode, None)
                        looking.discard(inode)
            if names and deadline is not None and self._cpu_clock() >= deadline:
                self._partial = (pid, names, from_walk)
                return

    def _answer(self, wanted: dict[int, int]) -> dict[int, Owner]:
        answer: dict[int, Owner] = {}
        pending = failed = 0
        not_root = self._euid != 0
        for inode, uid in wanted.items():
            holders = self._holders.get(inode)
            if holders:
                answer[inode] = tuple(sorted(holders)) if len(holders) > 1 else (*holders,)
            elif inode == 0:
                answer[inode] = OwnerUnknown.KERNEL
            elif inode in self._negative:
                answer[inode] = why = self._negative[inode][0]
                failed += why is OwnerUnknown.LOOKUP_FAILED
            elif not_root and uid != self._euid:
                answer[inode] = OwnerUnknown.NEEDS_PRIVILEGES
            else:
                answer[inode] = OwnerUnknown.PENDING
                pending += 1
        self.stats.pending = pending
        self.stats.failed = failed
        return answer


__all__ = ["Owner", "OwnerStats", "SocketOwners"]
