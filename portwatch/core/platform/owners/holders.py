"""The holder cache: each socket's (pid, fd) holders, the sockets nobody holds, the answer."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from portwatch.core.generation import next_generation
from portwatch.core.model import OwnerUnknown
from portwatch.core.platform.owners.stats import OwnerStats

Owner = tuple[int, ...] | OwnerUnknown


class HolderCache:
    """inode → {pid: fd} for sockets found, inode → why for sockets nobody visible holds.

    :meth:`answer` turns it into each wanted socket's :data:`Owner`; the
    answer is made again only when something was recorded (:attr:`changed`)
    and keeps its object and :attr:`generation` while it comes out the same.
    """

    def __init__(self, proc_root: str, euid: int | None) -> None:
        self._proc = proc_root
        self._euid = euid
        self.holders: dict[int, dict[int, int]] = {}  # inode -> {pid: fd}
        self.negative: dict[int, tuple[OwnerUnknown, float]] = {}  # inode -> (why, retry at)
        #: Something was recorded since the last answer: make it again.
        self.changed = True
        self.last_answer: dict[int, Owner] = {}
        #: Goes up only when the answer differs from the last one.
        self.generation = 0
        #: The pids holding a cached socket, as of the last answer.
        self.holder_pids: set[int] = set()
        # Each cached (pid, fd) as the path to read and the link it must show.
        self.verify_list: list[tuple[str, str]] = []
        self._verify_at = 0  # where the next quiet poll's share starts
        #: When the first socket in the negative cache is due to be looked for again.
        self.next_retry = math.inf

    def pids(self) -> set[int]:
        """The pids holding a cached socket now."""
        return {pid for holders in self.holders.values() for pid in holders}

    def forget_closed(self, wanted: dict[int, int]) -> None:
        """Drop sockets no longer wanted, so the caches follow the tables."""
        for cache in (self.holders, self.negative):
            for inode in [i for i in cache if i not in wanted]:
                del cache[inode]

    def holders_alive(self) -> bool:
        """Every pid of the last answer's holders still exists."""
        stat = os.stat
        proc = self._proc
        for pid in self.holder_pids:
            try:
                stat(f"{proc}/{pid}")
            except OSError:
                return False
        return True

    def verify_share(self, every: int, limit: int, stats: OwnerStats) -> bool:
        """Re-read this poll's share of the cached (pid, fd) pairs; False if one moved."""
        pairs = self.verify_list
        if not pairs:
            return True
        count = min(-(-len(pairs) // max(1, every)), max(1, limit))
        start = self._verify_at % len(pairs)
        share = pairs[start : start + count]
        if len(share) < count:
            share += pairs[: count - len(share)]  # wrap around
        self._verify_at = start + count
        stats.checks += len(share)
        readlink = os.readlink
        for path, link in share:
            try:
                if readlink(path) != link:
                    return False
            except OSError:
                return False
        return True

    def mark_unheld(
        self, inodes: Iterable[int], wanted: dict[int, int], reason: OwnerUnknown, retry_at: float
    ) -> None:
        """A pass ended without finding these: nobody we can see holds them, until ``retry_at``."""
        for inode in inodes:
            if inode in wanted and inode not in self.holders:
                self.negative[inode] = (reason, retry_at)
        self.changed = True

    def answer(self, wanted: dict[int, int], stats: OwnerStats) -> dict[int, Owner]:
        """Each wanted socket's owner; the last answer's object while nothing changed."""
        if not self.changed:
            return self.last_answer
        self.changed = False
        answer = self._make_answer(wanted, stats)
        if not self.generation or answer != self.last_answer:
            self.last_answer = answer
            self.generation = next_generation()
        self.holder_pids = self.pids()
        proc = self._proc
        self.verify_list = [
            (f"{proc}/{pid}/fd/{fd}", f"socket:[{inode}]")
            for inode, holders in self.holders.items()
            for pid, fd in holders.items()
        ]
        self.next_retry = min((at for _, at in self.negative.values()), default=math.inf)
        return self.last_answer

    def _make_answer(self, wanted: dict[int, int], stats: OwnerStats) -> dict[int, Owner]:
        answer: dict[int, Owner] = {}
        pending = failed = 0
        not_root = self._euid != 0
        for inode, uid in wanted.items():
            holders = self.holders.get(inode)
            if holders:
                answer[inode] = tuple(sorted(holders)) if len(holders) > 1 else (*holders,)
            elif inode == 0:
                answer[inode] = OwnerUnknown.KERNEL
            elif inode in self.negative:
                answer[inode] = why = self.negative[inode][0]
                failed += why is OwnerUnknown.LOOKUP_FAILED
            elif not_root and uid != self._euid:
                answer[inode] = OwnerUnknown.NEEDS_PRIVILEGES
            else:
                answer[inode] = OwnerUnknown.PENDING
                pending += 1
        stats.pending = pending
        stats.failed = failed
        return answer


__all__ = ["HolderCache", "Owner"]
