"""Stopping processes: terminate (or kill) the holders and wait for them to exit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

from portwatch.core.free.plan import Holder
from portwatch.core.free.safety import privilege_hint, protected_pids, refusal_reason

# How long a graceful terminate gets before we call the process stuck.
TERMINATE_WAIT_SECONDS = 5.0
# After SIGKILL the kernel ends the process at once; this only covers reaping.
KILL_WAIT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class StopResult:
    """What happened when we asked processes to end."""

    force: bool
    ended: tuple[int, ...] = ()  # gone, including those that vanished by themselves
    alive: tuple[int, ...] = ()  # still running after the wait
    denied: tuple[int, ...] = ()  # the OS refused: needs privileges
    refused: tuple[tuple[int, str], ...] = ()  # our own safety rules said no
    errors: tuple[tuple[int, str], ...] = ()
    port: int | None = None

    @property
    def ok(self) -> bool:
        return not (self.alive or self.denied or self.refused or self.errors)

    def message(self) -> str:
        parts = []
        if self.ended:
            verb = "killed" if self.force else "ended"
            parts.append(f"{_pids(self.ended)} {verb}.")
        if self.alive:
            parts.append(
                f"{_pids(self.alive)} still running"
                + (" after a kill." if self.force else "; it can be killed (force).")
            )
        if self.denied:
            parts.append(
                f"Permission refused to end {_pids(self.denied)}. {privilege_hint(self.port)}"
            )
        parts += [f"Will not end PID {pid}: {why}." for pid, why in self.refused]
        parts += [f"PID {pid}: {why}" for pid, why in self.errors]
        return " ".join(parts) or "Nothing to end."


def _pids(pids: Sequence[int]) -> str:
    return ("PID " if len(pids) == 1 else "PIDs ") + ", ".join(str(p) for p in pids)


def stop_processes(
    holders: Iterable[Holder],
    *,
    force: bool = False,
    timeout: float | None = None,
    port: int | None = None,
    protected: dict[int, str] | None = None,
) -> StopResult:
    """Terminate (or with ``force`` kill) the holders and wait for them to exit.

    Blocks up to ``timeout`` seconds: the window runs it off the UI thread.
    The safety rules are applied again here, so no caller can skip them.
    """
    table = protected if protected is not None else protected_pids()
    wait = (
        timeout if timeout is not None else (KILL_WAIT_SECONDS if force else TERMINATE_WAIT_SECONDS)
    )
    ended: list[int] = []
    denied: list[int] = []
    refused: list[tuple[int, str]] = []
    errors: list[tuple[int, str]] = []
    signalled: list[psutil.Process] = []
    for holder in holders:
        reason = refusal_reason(holder.pid, table)
        if reason is not None:
            refused.append((holder.pid, reason))
            continue
        try:
            proc = psutil.Process(holder.pid)
            if holder.started is not None and abs(proc.create_time() - holder.started) > 0.5:
                # The PID now belongs to a new process: the one we meant has exited.
                ended.append(holder.pid)
                continue
            if force:
                proc.kill()
            else:
                proc.terminate()
            signalled.append(proc)
        except psutil.NoSuchProcess:  # includes zombies: their sockets are closed
            ended.append(holder.pid)
        except psutil.AccessDenied:
            denied.append(holder.pid)
        except (psutil.Error, OSError) as exc:
            errors.append((holder.pid, str(exc) or type(exc).__name__))
    alive: list[int] = []
    if signalled:
        gone, still = psutil.wait_procs(signalled, timeout=wait)
        ended += [p.pid for p in gone]
        for proc in still:
            # A zombie has closed its sockets; only its parent can reap it.
            if _is_zombie(proc):
                ended.append(proc.pid)
            else:
                alive.append(proc.pid)
    return StopResult(
        force=force,
        ended=tuple(ended),
        alive=tuple(alive),
        denied=tuple(denied),
        refused=tuple(refused),
        errors=tuple(errors),
        port=port,
    )


def _is_zombie(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
