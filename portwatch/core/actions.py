"""What a person can do to a port: free it, open it, copy it, export it, find a free one.

Plain Python without Qt: the command line and the window share it. Every
operation returns a value (a dataclass with a message for people); psutil's
exceptions stop here.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import ipaddress
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import psutil

from portwatch.core.child_env import user_environment
from portwatch.core.exposure import is_wildcard, strip_scope
from portwatch.core.files import write_atomic
from portwatch.core.formats import TABLE_HEADERS, table_cells, to_csv, to_json
from portwatch.core.model import Listener, OwnerUnknown, Proto, Snapshot
from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.scanner import Scanner

log = logging.getLogger(__name__)

# How long a graceful terminate gets before we call the process stuck.
TERMINATE_WAIT_SECONDS = 5.0
# After SIGKILL the kernel ends the process at once; this only covers reaping.
KILL_WAIT_SECONDS = 2.0

HTTPS_PORTS = frozenset({443, 8443})

IS_WINDOWS = sys.platform == "win32"


# ---------------------------------------------------------------------------
# Safety rules: who may be ended, and who needs a second "yes".
# ---------------------------------------------------------------------------


def protected_pids() -> dict[int, str]:
    """PIDs that portwatch never ends, each with the reason shown to the user."""
    protected = {
        0: "PID 0 is the operating system's scheduler",
        1: "PID 1 is the system's init process",
    }
    if IS_WINDOWS:
        protected[4] = "PID 4 is the Windows kernel (System)"
    # Ancestors first, so the more specific labels below win for our own
    # process and the shell that started us.
    try:
        for ancestor in psutil.Process().parents():
            protected.setdefault(
                ancestor.pid, f"PID {ancestor.pid} started portwatch (an ancestor of it)"
            )
    except psutil.Error as exc:
        log.debug("cannot read portwatch's ancestors: %s", exc)
    protected[os.getppid()] = f"PID {os.getppid()} is the shell or program that started portwatch"
    protected[os.getpid()] = f"PID {os.getpid()} is portwatch itself"
    return protected


def refusal_reason(pid: int, protected: dict[int, str] | None = None) -> str | None:
    """Why ``pid`` must not be ended, or None when it may be."""
    table = protected if protected is not None else protected_pids()
    return table.get(pid)


_WINDOWS_SERVICE_ACCOUNTS = frozenset({"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE"})
# Linux distributions hand out human accounts from 1000 up; below are
# system accounts (daemons). macOS uses 501 up, with daemons below 500.
_FIRST_HUMAN_UID = {"linux": 1000, "darwin": 500}


def second_confirmation_reason(
    *,
    uid: int | None,
    user: str | None,
    my_uid: int | None,
    my_user: str | None,
    platform: str = sys.platform,
) -> str | None:
    """Why ending this owner deserves a second "are you sure", or None.

    Processes of other users and system services (root and daemon accounts
    on Linux/macOS; SYSTEM, LOCAL SERVICE, NETWORK SERVICE on Windows) do.
    Inputs are passed in so each platform's rule can be tested anywhere.
    """
    label = user or (f"uid {uid}" if uid is not None else "an unknown user")
    if platform == "win32":
        if user is None:
            return "its owner cannot be read"
        account = user.rsplit("\\", 1)[-1].upper()
        if account in _WINDOWS_SERVICE_ACCOUNTS:
            return f"it is a system service (runs as {user})"
        mine = (my_user or "").rsplit("\\", 1)[-1].upper()
        if account != mine:
            return f"it belongs to another user ({user})"
        return None
    if uid is None:
        return "its owner cannot be read"
    if uid == 0:
        return "it runs as root (a system service)"
    first_human = _FIRST_HUMAN_UID.get("darwin" if platform == "darwin" else "linux", 1000)
    if uid < first_human:
        return f"it runs as {label}, a system account (a system service)"
    if uid != my_uid:
        return f"it belongs to another user ({label})"
    return None


def _my_identity() -> tuple[int | None, str | None]:
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):
        user = None
    if IS_WINDOWS and user is not None:
        domain = os.environ.get("USERDOMAIN")
        user = f"{domain}\\{user}" if domain else user
    return uid, user


def _owner_uid(pid: int) -> int | None:
    if IS_WINDOWS:
        return None
    try:
        return int(psutil.Process(pid).uids().real)
    except (psutil.Error, OSError):
        return None


def privilege_hint(port: int | None) -> str:
    """How to do the same with privileges, in words for this platform."""
    command = f"portwatch free {port}" if port is not None else "portwatch free PORT"
    if IS_WINDOWS:
        return (
            "Run portwatch as administrator (right-click → Run as administrator), "
            f"or run `{command}` in an administrator terminal."
        )
    return f"Run it with privileges: `sudo {command}`."


# ---------------------------------------------------------------------------
# Freeing a port: plan (who holds it, may we), then stop (terminate / kill).
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """One process that holds sockets on the port, with what the rules say about it."""

    pid: int
    name: str | None
    user: str | None
    cmdline: tuple[str, ...] | None
    exe: str | None
    started: float | None
    listeners: tuple[Listener, ...]
    # Set when portwatch will not end this process at all.
    refusal: str | None = None
    # Set when the user must confirm a second time (another user, a service).
    second_confirmation: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name or 'unknown process'} (PID {self.pid})"

    @property
    def command_text(self) -> str:
        return command_line_text(self.cmdline) if self.cmdline else (self.exe or "")


@dataclass(frozen=True, slots=True)
class FreePlan:
    """Who holds a port (or a selection of rows), and which of them we may end."""

    port: int | None
    holders: tuple[Holder, ...]
    # Sockets with no visible owner: hidden (needs privileges) or kernel-owned.
    ownerless: tuple[Listener, ...] = ()

    @property
    def allowed(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.holders if h.refusal is None)

    @property
    def refused(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.holders if h.refusal is not None)

    @property
    def needs_second_confirmation(self) -> tuple[Holder, ...]:
        return tuple(h for h in self.allowed if h.second_confirmation is not None)

    @property
    def is_free(self) -> bool:
        return not self.holders and not self.ownerless

    @property
    def hidden(self) -> tuple[Listener, ...]:
        return tuple(
            row for row in self.ownerless if row.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES
        )

    def problems(self) -> list[str]:
        """Sentences about what this plan cannot do, for the confirmation or the end result."""
        lines = [f"Will not end {h.label}: {h.refusal}." for h in self.refused]
        hidden = self.hidden
        if hidden:
            lines.append(
                f"{len(hidden)} socket(s) on this port belong to processes portwatch "
                f"cannot see without privileges. {privilege_hint(self.port)}"
            )
        pending = [r for r in self.ownerless if r.owner_unknown is OwnerUnknown.PENDING]
        if pending:
            lines.append(
                f"The owner of {len(pending)} socket(s) is still being looked up; "
                "try again in a moment."
            )
        failed = [r for r in self.ownerless if r.owner_unknown is OwnerUnknown.LOOKUP_FAILED]
        if failed:
            lines.append(
                f"portwatch could not find out which process holds {len(failed)} socket(s) "
                "on this port (the lookup failed; see the scan's warnings); "
                "try again in a moment."
            )
        kernel = [
            row
            for row in self.ownerless
            if row not in hidden and row not in pending and row not in failed
        ]
        if kernel:
            lines.append(
                f"{len(kernel)} socket(s) have no owning process "
                f"({kernel[0].owner_unknown or OwnerUnknown.NOT_FOUND}); "
                "ending a process cannot free them."
            )
        return lines


def plan_free(
    listeners: Iterable[Listener],
    *,
    port: int | None = None,
    protected: dict[int, str] | None = None,
) -> FreePlan:
    """Group ``listeners`` by owning process and apply the safety rules.

    ``listeners`` are either every row on a port (from a scan) or the rows a
    person selected. ``port`` is used in messages only.
    """
    table = protected if protected is not None else protected_pids()
    my_uid, my_user = _my_identity()
    by_pid: dict[int, list[Listener]] = {}
    ownerless: list[Listener] = []
    for row in listeners:
        if row.pid is None:
            ownerless.append(row)
        else:
            by_pid.setdefault(row.pid, []).append(row)
    holders = []
    for pid, rows in by_pid.items():
        first = rows[0]
        refusal = refusal_reason(pid, table)
        second = None
        if refusal is None:
            second = second_confirmation_reason(
                uid=_owner_uid(pid), user=first.user, my_uid=my_uid, my_user=my_user
            )
        holders.append(
            Holder(
                pid=pid,
                name=first.process,
                user=first.user,
                cmdline=first.cmdline,
                exe=first.exe,
                started=first.started,
                listeners=tuple(rows),
                refusal=refusal,
                second_confirmation=second,
            )
        )
    if port is None:
        ports = {row.port for row in (*ownerless, *(r for h in holders for r in h.listeners))}
        port = ports.pop() if len(ports) == 1 else None
    return FreePlan(port=port, holders=tuple(holders), ownerless=tuple(ownerless))


# A fresh scanner may not have found every socket's owner yet (the Linux
# owner walk runs under a CPU budget per scan and reports PENDING); a
# one-shot command rescans a few times before it decides.
SETTLE_SCANS = 20


def scan_port_settled(scanner: Scanner, port: int, *, scans: int = SETTLE_SCANS) -> list[Listener]:
    """The rows on ``port`` once no owner on it is still being looked up (or after ``scans``)."""
    rows: list[Listener] = []
    for _attempt in range(max(1, scans)):
        rows = scanner.scan().on_port(port)
        if not any(row.owner_unknown is OwnerUnknown.PENDING for row in rows):
            break
    return rows


def plan_free_port(port: int, snapshot: Snapshot) -> FreePlan:
    """Who holds ``port`` (TCP and UDP, every address) in ``snapshot``."""
    return plan_free(snapshot.on_port(port), port=port)


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

    def message(self) -> str:
        if self.plan.is_free:
            return f"Port {self.port} is already free."
        lines = [r.message() for r in self.results]
        if self.cancelled:
            lines.append("Cancelled: nothing more was ended.")
        if self.free_after:
            lines.append(f"Port {self.port} is free now.")
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
) -> FreeOutcome:
    """Scan, apply the rules, ask ``confirm`` (None = yes), terminate; ``force`` kills leftovers.

    When the port is still held afterwards by processes not seen before
    (they shared the socket), ``confirm`` is asked about them in a new round.
    """
    own_scanner = scanner is None
    scanner = scanner or Scanner(connection_owners=False)
    try:
        return _free_port(port, scanner, force=force, timeout=timeout, confirm=confirm)
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
) -> FreeOutcome:
    first = plan = plan_free(scan_port_settled(scanner, port), port=port)
    if plan.is_free:
        return FreeOutcome(port=port, plan=plan, free_after=True, plans=(plan,))
    plans = [plan]
    results: list[StopResult] = []
    handled: set[int] = set()
    cancelled = False
    after: list[Listener] = list(_rows(plan))
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
        if not after or result.alive or result.denied:
            break
        plan = plan_free(after, port=port)
        plans.append(plan)
    return FreeOutcome(
        port=port,
        plan=first,
        results=tuple(results),
        free_after=not after,
        still_held_by=tuple(after),
        cancelled=cancelled,
        plans=tuple(plans),
    )


def _rows(plan: FreePlan) -> tuple[Listener, ...]:
    return (*plan.ownerless, *(row for h in plan.holders for row in h.listeners))


# ---------------------------------------------------------------------------
# Open in a browser.
# ---------------------------------------------------------------------------


def browser_url(listener: Listener) -> str | None:
    """The URL a browser should open for a TCP listener; None for UDP."""
    if listener.proto != "tcp":
        return None
    scheme = "http"
    if listener.port in HTTPS_PORTS or "https" in (listener.service or "").lower():
        scheme = "https"
    return f"{scheme}://{url_host(listener.address)}:{listener.port}/"


def url_host(address: str) -> str:
    """localhost for a wildcard bind, an IPv6 address in brackets (zone as %25)."""
    if is_wildcard(address):
        return "localhost"
    bare = strip_scope(address)
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return address
    if ip.version == 6:
        zone = address[len(bare) + 1 :] if "%" in address else ""
        return f"[{bare}%25{zone}]" if zone else f"[{bare}]"
    return bare


# ---------------------------------------------------------------------------
# Texts to copy.
# ---------------------------------------------------------------------------


def command_line_text(cmdline: Sequence[str], *, windows: bool = IS_WINDOWS) -> str:
    """A command line quoted for the platform's shell, so it can be pasted and run."""
    args = list(cmdline)
    return subprocess.list2cmdline(args) if windows else shlex.join(args)


def endpoints_text(listeners: Sequence[Listener]) -> str:
    return "\n".join(row.endpoint for row in listeners)


def pids_text(listeners: Sequence[Listener]) -> str:
    return "\n".join(_unique(str(row.pid) for row in listeners if row.pid is not None))


def command_lines_text(listeners: Sequence[Listener], *, windows: bool = IS_WINDOWS) -> str:
    lines = (
        command_line_text(row.cmdline, windows=windows)
        for row in _unique_by_pid(listeners)
        if row.cmdline
    )
    return "\n".join(lines)


def rows_text(listeners: Sequence[Listener], *, header: bool = True) -> str:
    """Tab-separated rows (the columns of `portwatch list`), pasteable into a spreadsheet."""

    lines = ["\t".join(TABLE_HEADERS)] if header else []
    lines += ["\t".join(table_cells(row)) for row in listeners]
    return "\n".join(lines)


def kill_command(
    listeners: Sequence[Listener], *, windows: bool = IS_WINDOWS, my_user: str | None = None
) -> str | None:
    """A shell command that frees the port by ending the owning processes.

    On POSIX it is a graceful ``kill PID`` (SIGTERM, so servers close cleanly),
    with ``sudo`` when the process belongs to someone else. On Windows
    ``taskkill`` without ``/F`` only asks windowed programs to close; console
    servers ignore it, so the command is the forced ``taskkill /F``.
    """
    rows = [row for row in _unique_by_pid(listeners) if row.pid is not None]
    if not rows:
        return None
    pids = [str(row.pid) for row in rows]
    if windows:
        return "taskkill /F " + " ".join(f"/PID {pid}" for pid in pids)
    me = my_user if my_user is not None else _my_identity()[1]
    sudo = any(row.user != me for row in rows)
    return ("sudo " if sudo else "") + "kill " + " ".join(pids)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_by_pid(listeners: Sequence[Listener]) -> list[Listener]:
    """The first row of each owning process; rows without an owner are dropped."""
    seen: dict[int, Listener] = {}
    for row in listeners:
        if row.pid is not None:
            seen.setdefault(row.pid, row)
    return list(seen.values())


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def export_format_for(path: str | Path, chosen_filter: str = "") -> ExportFormat:
    """The file's format: a .csv/.json suffix, else the dialog's chosen filter, else CSV."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return ExportFormat(suffix[1:])
    return ExportFormat.JSON if "json" in chosen_filter.lower() else ExportFormat.CSV


def export_text(listeners: Iterable[Listener], fmt: ExportFormat) -> str:

    return to_json(listeners) + "\n" if fmt is ExportFormat.JSON else to_csv(listeners)


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    fmt: ExportFormat
    error: str | None = None

    def message(self) -> str:
        if self.error:
            return f"Could not export to {self.path}: {self.error}"
        return f"Exported {self.rows} rows to {self.path} ({self.fmt.value.upper()})."


def export_listeners(
    listeners: Sequence[Listener], path: str | Path, fmt: ExportFormat | None = None
) -> ExportResult:
    """Write the rows to ``path`` atomically and privately (0600, like every file we write).

    A failed write never leaves half a file; the folder must exist (the user picked it).
    """
    target = Path(path)
    chosen = fmt or export_format_for(target)
    if chosen is ExportFormat.JSON and not target.suffix:
        target = target.with_suffix(".json")
    elif chosen is ExportFormat.CSV and not target.suffix:
        target = target.with_suffix(".csv")
    try:
        write_atomic(target, export_text(listeners, chosen), make_folder=False)
    except OSError as exc:
        return ExportResult(target, len(listeners), chosen, exc.strerror or str(exc))
    return ExportResult(target, len(listeners), chosen)


# ---------------------------------------------------------------------------
# Is port N free? Which free port is nearest?
# ---------------------------------------------------------------------------

# Where a development server binds: "localhost" (127.0.0.1 or ::1 — Node 17+
# tries ::1 first) or every interface (0.0.0.0, ::). Checking the specific
# addresses too matters on Windows, where a wildcard bind succeeds next to a
# socket on 127.0.0.1.
CHECK_ADDRESSES = ("127.0.0.1", "0.0.0.0", "::1", "::")  # noqa: S104 - a probe, closed at once


class BindStatus(StrEnum):
    FREE = "free"
    # Linux only: nothing listens, but connections closed in the last minute
    # (TIME_WAIT) still name the port. Servers that set SO_REUSEADDR (Node,
    # Python's http.server, most dev servers) can bind it; a plain bind cannot.
    LINGERING = "lingering"
    IN_USE = "in use"
    NOT_PERMITTED = "not permitted"
    UNAVAILABLE = "unavailable"  # e.g. no IPv6 on this machine


def try_bind(address: str, port: int, proto: Proto = "tcp") -> BindStatus:
    """Bind ``address:port`` once and release it at once.

    SO_REUSEADDR stays off: with it, BSD and macOS let a wildcard bind share
    a port a specific address listens on, and Windows lets it steal the port.
    On Linux, where SO_REUSEADDR still refuses a port something listens on,
    a refused port is probed again with it to tell TIME_WAIT leftovers
    (LINGERING) from a real holder.
    """
    status = _bind_once(address, port, proto, reuse=False)
    if status is BindStatus.IN_USE and proto == "tcp" and sys.platform.startswith("linux"):
        if _bind_once(address, port, proto, reuse=True) is BindStatus.FREE:
            return BindStatus.LINGERING
    return status


def _bind_once(address: str, port: int, proto: Proto, *, reuse: bool) -> BindStatus:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        sock = socket.socket(family, kind)
    except OSError:
        return BindStatus.UNAVAILABLE
    with sock:
        if family == socket.AF_INET6:
            # Test the IPv6 side alone; 0.0.0.0 tests the IPv4 side.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif IS_WINDOWS:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined,unused-ignore]
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                return BindStatus.IN_USE
            if exc.errno in (errno.EACCES, errno.EPERM, getattr(errno, "WSAEACCES", -1)):
                return BindStatus.NOT_PERMITTED
            return BindStatus.UNAVAILABLE
    return BindStatus.FREE


def bind_statuses(port: int, proto: Proto = "tcp") -> dict[str, BindStatus]:
    return {address: try_bind(address, port, proto) for address in CHECK_ADDRESSES}


def is_bindable(port: int, proto: Proto = "tcp") -> bool:
    """True when a server could bind ``port`` on localhost and on every interface."""
    statuses = bind_statuses(port, proto).values()
    return all(s in (BindStatus.FREE, BindStatus.UNAVAILABLE) for s in statuses) and any(
        s is BindStatus.FREE for s in statuses
    )


def validate_port(text: str) -> tuple[int | None, str | None]:
    """(port, None) for "1".."65535", else (None, a sentence that says what is wrong).

    The rule is :func:`portwatch.core.portspec.parse_port`'s, as for every command.
    """
    if not text.strip():
        return None, "Enter a port number (1-65535)."
    try:
        return parse_port(text), None
    except PortSpecError as exc:
        message = str(exc)
        return None, f"{message[:1].upper()}{message[1:]}."


@dataclass(frozen=True, slots=True)
class Suggestion:
    start: int
    port: int | None
    proto: Proto = "tcp"

    def message(self) -> str:
        if self.port is None:
            return f"No free {self.proto.upper()} port between {self.start} and 65535."
        return f"{self.port}"


def suggest_free_port(
    start: int = 8000,
    proto: Proto = "tcp",
    *,
    skip: Iterable[int] = (),
    bindable: Callable[[int, Proto], bool] = is_bindable,
) -> Suggestion:
    """The nearest port at or above ``start`` that binds on every check address.

    Stops at 65535 rather than wrapping: a suggestion below what was asked
    would surprise more than "none". Ports in ``skip`` (e.g. ones a scan shows
    in use) are passed over without a bind.
    """
    if not 1 <= start <= 65535:
        raise ValueError(f"port {start} is out of range: ports are 1-65535")
    skipped = set(skip)
    for port in range(start, 65536):
        if port not in skipped and bindable(port, proto):
            return Suggestion(start=start, port=port, proto=proto)
    return Suggestion(start=start, port=None, proto=proto)


@dataclass(frozen=True, slots=True)
class PortCheck:
    """The answer to "is port N free?"."""

    port: int
    proto: Proto
    statuses: dict[str, BindStatus] = field(default_factory=dict)
    holders: tuple[Listener, ...] = ()
    suggestion: Suggestion | None = None

    @property
    def free(self) -> bool:
        """Free for a development server: nothing holds it, it binds (SO_REUSEADDR allowed)."""
        usable = (BindStatus.FREE, BindStatus.LINGERING)
        values = self.statuses.values()
        return (
            not any(r.proto == self.proto for r in self.holders)
            and all(s in (*usable, BindStatus.UNAVAILABLE) for s in values)
            and any(s in usable for s in values)
        )

    @property
    def lingering(self) -> bool:
        return any(s is BindStatus.LINGERING for s in self.statuses.values())

    @property
    def not_permitted(self) -> bool:
        return any(s is BindStatus.NOT_PERMITTED for s in self.statuses.values())

    def held_by(self) -> list[str]:
        """'node (PID 1234) on 127.0.0.1:3000' per holder of this protocol."""
        out = []
        for row in self.holders:
            if row.proto != self.proto:
                continue
            who = (
                f"{row.process or 'unknown process'} (PID {row.pid})"
                if row.pid
                else (row.owner_label)
            )
            out.append(f"{who} on {row.endpoint}")
        return _unique(out)

    def message(self) -> str:
        name = f"{self.proto.upper()} port {self.port}"
        if self.free and self.lingering:
            return (
                f"{name} is free for servers that set SO_REUSEADDR (Node, Python and most "
                "development servers do): only connections closed in the last minute "
                "(TIME_WAIT) remain on it."
            )
        if self.free:
            return f"{name} is free."
        if not any(s is not BindStatus.UNAVAILABLE for s in self.statuses.values()):
            return f"Could not test {name}: no address could be bound (is networking up?)."
        held = self.held_by()
        if held:
            text = f"{name} is in use by " + "; ".join(held) + "."
        elif self.not_permitted and not any(s is BindStatus.IN_USE for s in self.statuses.values()):
            text = (
                f"Nothing listens on {name}, but binding it needs privileges "
                "(ports below 1024 are reserved for root/administrators)."
            )
        else:
            busy = [a for a, s in self.statuses.items() if s is BindStatus.IN_USE]
            text = (
                f"{name} cannot be bound on {', '.join(busy)} although no listener holds it: "
                "recently closed connections (TIME_WAIT) or another network namespace/container "
                "may still use it."
            )
        if self.suggestion is not None and self.suggestion.port is not None:
            text += f" Nearest free port: {self.suggestion.port}."
        elif self.suggestion is not None:
            text += " " + self.suggestion.message()
        return text


def check_port(
    port: int,
    proto: Proto = "tcp",
    *,
    snapshot: Snapshot | None = None,
    suggest: bool = True,
) -> PortCheck:
    """Bind-check ``port``, name its holders from ``snapshot`` (or a scan), suggest another."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range: ports are 1-65535")
    statuses = bind_statuses(port, proto)
    in_use = any(s is not BindStatus.FREE for s in statuses.values())
    rows: list[Listener] = []
    if snapshot is None and in_use:
        scanner = Scanner(connection_owners=False)
        try:
            rows = scan_port_settled(scanner, port)
        finally:
            scanner.close()
    elif snapshot is not None:
        rows = snapshot.on_port(port)
    holders = tuple(row for row in rows if row.proto == proto)
    check = PortCheck(port=port, proto=proto, statuses=statuses, holders=holders)
    if check.free or not suggest:
        return check
    # Ports the window's snapshot shows in use are passed over without a bind.
    busy = {row.port for row in snapshot.listeners if row.proto == proto} if snapshot else set()
    start = port + 1 if port < 65535 else port
    suggestion = (
        suggest_free_port(start, proto, skip=busy)
        if port < 65535
        else Suggestion(start=port, port=None, proto=proto)
    )
    return PortCheck(
        port=port, proto=proto, statuses=statuses, holders=holders, suggestion=suggestion
    )


# ---------------------------------------------------------------------------
# Reveal an executable in the file manager.
# ---------------------------------------------------------------------------


def reveal_commands(
    path: str,
    *,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[list[str]]:
    """The commands that show ``path`` selected in the file manager, best first.

    Linux has no single answer: the FileManager1 D-Bus interface (Nautilus,
    Dolphin, Nemo, Thunar …) selects the file; xdg-open on the folder is the
    fallback every desktop has.
    """
    if platform == "darwin":
        return [["open", "-R", path]]
    if platform == "win32":
        return [["explorer", f"/select,{path}"]]
    commands = []
    if which("dbus-send"):
        commands.append(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--reply-timeout=2000",
                "--dest=org.freedesktop.FileManager1",
                "--type=method_call",
                "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1.ShowItems",
                f"array:string:{Path(path).as_uri()}",
                "string:",
            ]
        )
    if which("xdg-open"):
        commands.append(["xdg-open", str(Path(path).parent)])
    return commands


@dataclass(frozen=True, slots=True)
class RevealResult:
    command: tuple[str, ...] | None
    error: str | None = None


def reveal_in_file_manager(path: str | None) -> RevealResult:
    """Run the first reveal command that works; the file manager runs detached."""
    if not path:
        return RevealResult(None, "The executable's path is not known (it may need privileges).")
    if not Path(path).exists():
        return RevealResult(None, f"{path} does not exist any more (deleted or replaced).")
    commands = reveal_commands(path)
    if not commands:
        return RevealResult(None, "No file manager opener found (install xdg-utils).")
    errors = []
    for argv in commands:
        if argv[0] == "dbus-send":
            # A quick call that answers at once (an error when no file
            # manager provides FileManager1), so falling back is reliable.
            try:
                done = subprocess.run(
                    argv, capture_output=True, timeout=5, check=False, env=user_environment()
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
                continue
            if done.returncode == 0:
                return RevealResult(tuple(argv))
            errors.append(done.stderr.decode(errors="replace").strip())
            continue
        try:
            run_detached(argv)
        except OSError as exc:
            errors.append(f"{argv[0]}: {exc.strerror or exc}")
            continue
        return RevealResult(tuple(argv))
    return RevealResult(None, "Could not open the file manager: " + "; ".join(errors))


def run_detached(argv: Sequence[str]) -> None:
    """Start a program that outlives nothing of ours: own session, no inherited output."""
    if IS_WINDOWS:
        flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(
            subprocess, "CREATE_NEW_PROCESS_GROUP", 0
        )
        subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=flags,
            env=user_environment(),
        )
        return
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=user_environment(),
    )
    # Reap it when it ends (openers exit at once; a file manager may stay), so
    # no zombie is left behind for the life of the app.
    threading.Thread(target=proc.wait, name=f"reap-{argv[0]}", daemon=True).start()
