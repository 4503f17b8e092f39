"""What the owner lookups cost so far: counters for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


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


__all__ = ["OwnerStats"]
