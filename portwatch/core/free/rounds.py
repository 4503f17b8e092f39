"""Freeing a port from start to end: scan, plan, ask, stop, scan again, in rounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portwatch.core.free.plan import FreePlan, plan_free
from portwatch.core.free.recheck import RESTART_GRACE, Recheck, recheck_rows, taken_again
from portwatch.core.free.stop import StopResult, stop_processes
from portwatch.core.model import Listener
from portwatch.core.scanner import Scanner
from portwatch.core.settled import scan_port_settled


@dataclass(frozen=True, slots=True)
class FreeOutcome:
    """The end of `free PORT`: the plans, each stop round, and whether the port is free now."""

    port: int
    plan: FreePlan  # the first plan: who held the port when we started
    results: tuple[StopResult, ...] = ()
    free_after: bool = False
    still_held_by: tuple[Listener, ...] = ()
    cancelled: bool = False
    # One per round; a later round finds processes that shared the socket.
    plans: tuple[FreePlan, ...] = ()
    # The port at the end: free, held again by a restarted server, or still held.
    recheck: Recheck | None = None

    def message(self) -> str:
        if self.plan.is_free:
            if self.recheck is not None and not self.recheck.free:
                return self.recheck.message()
            return f"Port {self.port} is already free."
        lines = [r.message() for r in self.results]
        if self.cancelled:
            lines.append("Cancelled: nothing more was ended.")
        if self.recheck is not None and not self.recheck.still:
            lines.append(self.recheck.message())
        else:
            last = self.plans[-1] if self.plans else self.plan
            lines += last.problems()
            owners = sorted({row.owner_label for row in self.still_held_by})
            lines.append(f"Port {self.port} is still in use ({', '.join(owners)}).")
        return "\n".join(line for line in lines if line)


# A listening socket can be shared by several processes (a pre-fork server's
# master and workers); a scan names only one of them, so freeing takes rounds.
MAX_FREE_ROUNDS = 3


def free_port(
    port: int,
    *,
    force: bool = False,
    timeout: float | None = None,
    confirm: Callable[[FreePlan], bool] | None = None,
    scanner: Scanner | None = None,
    restart_grace: float = RESTART_GRACE,
) -> FreeOutcome:
    """Scan, apply the rules, ask ``confirm`` (None = yes), terminate; ``force`` kills leftovers.

    When the port is still held afterwards by processes not seen before
    (they shared the socket), ``confirm`` is asked about them in a new round.
    A port freed is watched for ``restart_grace`` seconds more: a server that
    something starts again takes it within that (systemd waits 100 ms).
    """
    own_scanner = scanner is None
    scanner = scanner or Scanner(connection_owners=False)
    try:
        return _free_port(
            port, scanner, force=force, timeout=timeout, confirm=confirm, grace=restart_grace
        )
    finally:
        if own_scanner:
            scanner.close()


def _free_port(
    port: int,
    scanner: Scanner,
    *,
    force: bool,
    timeout: float | None,
    confirm: Callable[[FreePlan], bool] | None,
    grace: float,
) -> FreeOutcome:
    first = plan = plan_free(scan_port_settled(scanner, port), port=port)
    if plan.is_free:
        # Nothing listens: free only if a server can bind it (TIME_WAIT may refuse it).
        check = recheck_rows(port, (), ())
        return FreeOutcome(
            port=port, plan=plan, free_after=check.free, plans=(plan,), recheck=check
        )
    plans = [plan]
    results: list[StopResult] = []
    handled: set[int] = set()
    cancelled = False
    after: list[Listener] = list(_rows(plan))
    # Every process that held the port, workers included: a process not among them
    # holding it later was started again by something else.
    before = {pid for row in after for pid in row.holder_pids}
    for _round in range(MAX_FREE_ROUNDS):
        targets = [h for h in plan.allowed if h.pid not in handled]
        if not targets:
            break
        if confirm is not None and not confirm(plan):
            cancelled = True
            break
        handled.update(h.pid for h in targets)
        result = stop_processes(targets, force=False, timeout=timeout, port=port)
        results.append(result)
        if result.alive and force:
            leftovers = [h for h in targets if h.pid in result.alive]
            result = stop_processes(leftovers, force=True, port=port)
            results.append(result)
        after = scan_port_settled(scanner, port)
        if not after and not result.alive:
            after = taken_again(scanner, port, grace)
        if not after or result.alive or result.denied:
            break
        if recheck_rows(port, after, before).again:
            break  # restarted by something else: ending the new one would only repeat
        plan = plan_free(after, port=port)
        plans.append(plan)
    check = recheck_rows(port, after, before)
    return FreeOutcome(
        port=port,
        plan=first,
        results=tuple(results),
        free_after=check.free,
        recheck=check,
        still_held_by=tuple(after),
        cancelled=cancelled,
        plans=tuple(plans),
    )


def _rows(plan: FreePlan) -> tuple[Listener, ...]:
    return (*plan.ownerless, *(row for h in plan.holders for row in h.listeners))
