"""portwatch's scanner against psutil.net_connections('inet'), side by side.

    python3 benchmarks/bench_scan.py            # the full run (~15 minutes)
    python3 benchmarks/bench_scan.py --quick    # a small run (~1 minute)
    python3 benchmarks/bench_scan.py --scale 10k --no-churn --no-model --out /tmp/r.md

For each scale the load generator (``loadgen.py``) holds the sockets and the
idle processes with their open files; then, in this one process, the two are
timed alternately in steady state (after a warm-up): ``Scanner()`` with the
default Linux source, and ``psutil.net_connections('inet')``. Also measured:
the cold first poll, the CPU share of a real 1 Hz polling loop, the RSS of a
process that only scans, and a churn scenario (short-lived listening
processes) with its p95 poll time. Results go to a markdown table (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loadgen import LoadGen, raise_fd_limit
from portwatch.core.model import OwnerUnknown, Snapshot
from portwatch.core.platform.linux import LinuxPsutilSource
from portwatch.core.platform.netlink.sock_diag import SockDiag
from portwatch.core.scanner import WARM_UP_DELAY, Scanner


@dataclass(frozen=True)
class Scale:
    name: str
    listeners: int
    udp: int
    established: int  # pairs: two sockets each
    procs: int
    fds: int

    @property
    def sockets(self) -> int:
        return self.listeners + self.udp + 2 * self.established


FULL = (
    Scale("100 sockets, 50 procs × 10 fds", 40, 20, 20, 50, 10),
    Scale("1k sockets, 50 procs × 10 fds", 300, 100, 300, 50, 10),
    Scale("1k sockets, 500 procs × 200 fds", 300, 100, 300, 500, 200),
    Scale("desktop: 48 listeners, 2k conns, 300 × 100 fds", 48, 16, 1000, 300, 100),
    Scale("10k sockets, 500 procs × 200 fds", 1000, 1000, 4000, 500, 200),
)
QUICK = (
    Scale("100 sockets, 50 procs × 10 fds", 40, 20, 20, 50, 10),
    Scale("1k sockets, 100 procs × 100 fds", 300, 100, 300, 100, 100),
)


def system_fds() -> tuple[int, int]:
    """(processes, open fds) on the machine right now."""
    procs = fds = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            procs += 1
            with contextlib.suppress(OSError):
                fds += sum(1 for _ in (entry / "fd").iterdir())
    return procs, fds


def tcp_sockets_in_any_state() -> int:
    """Every TCP socket, TIME_WAIT included: psutil parses all of them, we do not."""
    diag = SockDiag()
    try:
        return len(diag.dump("tcp", 0xFFF))
    finally:
        diag.close()


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    call()
    return time.perf_counter() - wall, time.thread_time() - cpu


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def p95_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def settle(scanner: Scanner, limit: float = 60.0) -> int:
    """Poll until the owner walk has nothing left (the steady state); return polls."""
    owners = getattr(scanner.source, "owners", None)
    polls = 0
    deadline = time.monotonic() + limit
    while True:
        scanner.scan()
        polls += 1
        if owners is None or not owners.busy or time.monotonic() > deadline:
            return polls


def quick_start() -> tuple[float, float]:
    """A new scanner as the tray app starts one: (first table, every owner known), seconds.

    The first scan returns with the owners found within its walk budget; the
    app then scans again every WARM_UP_DELAY until none is pending.
    """
    started = time.perf_counter()
    scanner = Scanner(connection_owners=False, quick_start=True)
    snapshot = scanner.scan()
    first = time.perf_counter() - started
    deadline = started + 60
    while snapshot.warming_up and time.perf_counter() < deadline:
        time.sleep(WARM_UP_DELAY)
        snapshot = scanner.scan()
    scanner.close()
    return first, time.perf_counter() - started


def cold_polls(repeats: int) -> dict[str, float]:
    """Medians over alternating cold starts: complete on each backend, and the app's quick start."""
    complete: list[float] = []
    psutil_complete: list[float] = []
    app_first: list[float] = []
    app_settled: list[float] = []
    for _ in range(repeats):
        # Both complete polls include reading the owners' details (name,
        # command line, user), which net_connections() alone does not.
        complete.append(timed(lambda: Scanner(connection_owners=False).scan())[0])
        psutil_complete.append(
            timed(lambda: Scanner(LinuxPsutilSource(), connection_owners=False).scan())[0]
        )
        first, settled = quick_start()
        app_first.append(first)
        app_settled.append(settled)
    return {
        "cold_ours_ms": median_ms(complete),
        "cold_psutil_ms": median_ms(psutil_complete),
        "app_first_ms": median_ms(app_first),
        "app_settled_ms": median_ms(app_settled),
    }


def one_hz_cpu(scanner: Scanner, polls: int) -> float:
    """CPU share of one core while polling once a second (process CPU / wall)."""
    start_wall, start_cpu = time.monotonic(), time.process_time()
    next_tick = start_wall
    for _ in range(polls):
        scanner.scan()
        next_tick += 1.0
        time.sleep(max(0.0, next_tick - time.monotonic()))
    return 100 * (time.process_time() - start_cpu) / (time.monotonic() - start_wall)


RSS_PROBE = """
import json, sys, time
sys.path.insert(0, {root!r})
from portwatch.core.scanner import Scanner
scanner = Scanner(connection_owners=False)
for _ in range(10):
    scanner.scan()
status = open("/proc/self/status").read()
rss = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmRSS:")))
print(json.dumps({{"rss_kb": rss, "backend": scanner.source.name}}))
"""


def scanner_rss_mb() -> float:
    out = subprocess.run(
        [sys.executable, "-c", RSS_PROBE.format(root=str(Path(__file__).resolve().parents[1]))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)["rss_kb"] / 1024


def bench_scale(scale: Scale, polls: int, hz_polls: int, cold_repeats: int) -> dict[str, Any]:
    print(f"== {scale.name}: starting load", flush=True)
    with LoadGen(
        listeners=scale.listeners,
        udp=scale.udp,
        established=scale.established,
        procs=scale.procs,
        fds=scale.fds,
        timeout=900,
    ):
        procs, fds = system_fds()
        tcp_total = tcp_sockets_in_any_state()
        # Cold first polls: new scanners (empty caches).
        cold = cold_polls(cold_repeats)
        scanner = Scanner(connection_owners=False)
        warm = settle(scanner)
        psutil.net_connections("inet")
        ours_wall: list[float] = []
        ours_cpu: list[float] = []
        theirs_wall: list[float] = []
        theirs_cpu: list[float] = []
        snapshots: list[Snapshot] = []
        # Polls that found a listener changed (other programs on a shared machine).
        changed_polls = 0
        rows = scanner.scan().listeners
        for _ in range(polls):
            wall, cpu = timed(lambda: psutil.net_connections("inet"))
            theirs_wall.append(wall)
            theirs_cpu.append(cpu)
            wall, cpu = timed(lambda: snapshots.append(scanner.scan()))
            ours_wall.append(wall)
            ours_cpu.append(cpu)
            changed_polls += snapshots[-1].listeners is not rows
            rows = snapshots.pop().listeners
        snapshot = scanner.scan()
        pending = sum(1 for r in snapshot.listeners if r.owner_unknown is OwnerUnknown.PENDING)
        cpu_share = one_hz_cpu(scanner, hz_polls)
        rss = scanner_rss_mb()
    result: dict[str, Any] = {
        "scale": scale.name,
        "sockets": scale.sockets,
        "procs": procs,
        "tcp_total": tcp_total,
        "fds": fds,
        "psutil_ms": median_ms(theirs_wall),
        "ours_ms": median_ms(ours_wall),
        "psutil_cpu_ms": median_ms(theirs_cpu),
        "ours_cpu_ms": median_ms(ours_cpu),
        **cold,
        "one_hz_cpu_pct": cpu_share,
        "psutil_one_hz_cpu_pct_est": median_ms(theirs_cpu) / 10,
        "rss_mb": rss,
        "warmup_polls": warm,
        "pending_after_warmup": pending,
        "changed_polls": changed_polls,
        "backend": snapshot.backend,
    }
    result["ratio"] = result["psutil_ms"] / result["ours_ms"]
    print(json.dumps(result, indent=None), flush=True)
    return result


def bench_churn(rate: float, seconds: float, interval: float) -> dict[str, Any]:
    """Short-lived listening processes: p95 poll time, and owners found at once."""
    print(f"== churn: {rate:g} listening processes/s for {seconds:g} s", flush=True)
    base = Scale("churn", 300, 100, 300, 300, 100)
    with LoadGen(
        listeners=base.listeners,
        udp=base.udp,
        established=base.established,
        procs=base.procs,
        fds=base.fds,
        churn=rate,
        churn_life=1.0,
        timeout=seconds + 120,
    ) as load:
        scanner = Scanner(connection_owners=False)
        settle(scanner)
        ours: list[float] = []
        theirs: list[float] = []
        seen = resolved = 0
        previous: set[int] | None = None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            wall, _ = timed(lambda: psutil.net_connections("inet"))
            theirs.append(wall)
            started = time.perf_counter()
            snapshot = scanner.scan()
            ours.append(time.perf_counter() - started)
            # New TCP listeners on 127.0.0.1 (the churn's): do they have their
            # owner in the first poll that shows them?
            if previous is not None:
                for row in snapshot.listeners:
                    fresh = row.port not in previous
                    if fresh and row.proto == "tcp" and row.address == "127.0.0.1":
                        seen += 1
                        resolved += row.pid is not None
            previous = {r.port for r in snapshot.listeners if r.proto == "tcp"}
            time.sleep(interval)
        assert load.info["churn_pid"]
    result = {
        "rate": rate,
        "polls": len(ours),
        "p95_ms": p95_ms(ours),
        "median_ms": median_ms(ours),
        "psutil_p95_ms": p95_ms(theirs),
        "new_listeners": seen,
        "owner_in_first_poll": resolved,
    }
    print(json.dumps(result), flush=True)
    return result


def bench_models(quick: bool) -> list[dict[str, Any]] | str:
    try:
        from benchmarks.bench_model import run as run_model_bench
    except ImportError as exc:
        return f"model benchmark not run: {exc}"
    return run_model_bench(sizes=(1000,) if quick else (1000, 10000), repeats=5 if quick else 15)


def write_markdown(
    path: Path,
    results: list[dict[str, Any]],
    churn: dict[str, Any] | None,
    models: list[dict[str, Any]] | str | None,
    meta: dict[str, Any],
) -> None:
    lines = [
        "# Scan benchmark results",
        "",
        f"Measured {meta['when']} on {meta['machine']} ({meta['cpus']} cores, "
        f"Python {meta['python']}, psutil {meta['psutil']}, Linux {meta['kernel']}); "
        f"backend `{meta['backend']}`. Load average at start {meta['load_start']}, "
        f"at end {meta['load_end']}: the machine was shared with other work, so "
        "these are medians of alternating runs in one process, not best cases.",
        "",
        "Steady state, medians of alternating polls (wall time):",
        "",
        "| scale | sockets | TCP sockets in any state | procs | open fds | psutil ms"
        " | portwatch ms | psutil / portwatch"
        " | portwatch CPU ms | CPU % at 1 Hz (portwatch) | CPU % at 1 Hz (psutil, est.)"
        " | cold first poll ms, complete (netlink / psutil)"
        " | app start ms: first table / every owner | scanner RSS MB |",
        "| --- " + "| ---: " * 13 + "|",
    ]
    lines.extend(
        f"| {r['scale']} | {r['sockets']:,} | {r['tcp_total']:,} | {r['procs']:,} "
        f"| {r['fds']:,} "
        f"| {r['psutil_ms']:.1f} | {r['ours_ms']:.2f} | {r['ratio']:.0f}× "
        f"| {r['ours_cpu_ms']:.2f} | {r['one_hz_cpu_pct']:.2f} "
        f"| {r['psutil_one_hz_cpu_pct_est']:.1f} "
        f"| {r['cold_ours_ms']:.0f} / {r['cold_psutil_ms']:.0f} "
        f"| {r['app_first_ms']:.0f} / {r['app_settled_ms']:.0f} | {r['rss_mb']:.0f} |"
        for r in results
    )
    lines += [
        "",
        "CPU % at 1 Hz (portwatch) is the benchmark process's CPU time over wall time "
        "while it polls once a second; psutil's is estimated as its CPU time per call "
        "over one second. The cold first poll is a new `Scanner()` on each backend "
        "(owners' details included; median of 3 alternating) whose owner walk runs "
        "to the end: what a one-shot command such as `portwatch list` gets. The app "
        "starts its scanner with `quick_start`: the first table comes after one "
        "walk budget (50 ms of CPU) with the owners found so far, then scans follow "
        f"every {WARM_UP_DELAY * 1000:.0f} ms until every owner is known. TCP sockets in any state "
        "include other programs' and TIME_WAIT leftovers of earlier runs: psutil "
        "parses every one of them from /proc/net, the kernel filters them for us.",
    ]
    if churn is not None:
        lines += [
            "",
            f"Churn: {churn['rate']:g} short-lived listening processes a second on the "
            "1k-socket load, polled about 4 times a second:",
            "",
            "| polls | portwatch p95 ms | portwatch median ms | psutil p95 ms "
            "| new listeners seen | with owner in their first poll |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {churn['polls']} | {churn['p95_ms']:.1f} | {churn['median_ms']:.1f} "
            f"| {churn['psutil_p95_ms']:.1f} | {churn['new_listeners']} "
            f"| {churn['owner_in_first_poll']} |",
        ]
    if models is not None:
        lines += ["", "Model updates (`portwatch/ui/tables/`, offscreen Qt):", ""]
        if isinstance(models, str):
            lines.append(models)
        else:
            from benchmarks.bench_model import markdown_rows

            lines += markdown_rows(models)
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small scales, fewer polls")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name("results.md"),
        help="markdown file to write (default: benchmarks/results.md)",
    )
    parser.add_argument("--no-churn", action="store_true", help="skip the churn scenario")
    parser.add_argument("--no-model", action="store_true", help="skip the model benchmark")
    parser.add_argument(
        "--scale",
        action="append",
        metavar="TEXT",
        help="only the scales whose name contains TEXT (repeatable), e.g. --scale 10k",
    )
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        parser.error("the load generator and the comparison are Linux-only")
    raise_fd_limit(4096)
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "psutil": psutil.__version__,
        "kernel": platform.release(),
        "backend": Scanner().source.name,
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    scales: tuple[Scale, ...] = QUICK if args.quick else FULL
    if args.scale:
        scales = tuple(s for s in scales if any(text in s.name for text in args.scale))
        if not scales:
            parser.error(f"no scale matches {args.scale}")
    polls = 7 if args.quick else 15
    # 30 s at 1 Hz: includes the established table's periodic re-dump (10 s).
    hz_polls = 5 if args.quick else 30
    results = [bench_scale(scale, polls, hz_polls, 1 if args.quick else 3) for scale in scales]
    churn = None
    if not args.no_churn:
        churn = bench_churn(10.0, 8.0 if args.quick else 30.0, 0.25)
    models = None if args.no_model else bench_models(args.quick)
    meta["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    write_markdown(args.out, results, churn, models, meta)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
