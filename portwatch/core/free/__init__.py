"""Freeing a port: the safety rules, the plan, stopping processes and the rounds.

The modules depend on each other in that order; this package only names
their public parts in one place.
"""

from portwatch.core.free.plan import FreePlan, Holder, plan_free, plan_free_port
from portwatch.core.free.rounds import MAX_FREE_ROUNDS, FreeOutcome, free_port
from portwatch.core.free.safety import (
    privilege_hint,
    protected_pids,
    refusal_reason,
    second_confirmation_reason,
)
from portwatch.core.free.stop import (
    KILL_WAIT_SECONDS,
    TERMINATE_WAIT_SECONDS,
    StopResult,
    stop_processes,
)
from portwatch.core.settled import SETTLE_SCANS, scan_port_settled

__all__ = [
    "KILL_WAIT_SECONDS",
    "MAX_FREE_ROUNDS",
    "SETTLE_SCANS",
    "TERMINATE_WAIT_SECONDS",
    "FreeOutcome",
    "FreePlan",
    "Holder",
    "StopResult",
    "free_port",
    "plan_free",
    "plan_free_port",
    "privilege_hint",
    "protected_pids",
    "refusal_reason",
    "scan_port_settled",
    "second_confirmation_reason",
    "stop_processes",
]
