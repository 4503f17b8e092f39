"""The tray app left alone: its RSS and CPU over a long run, with the window closed.

    python3 benchmarks/soak_app.py --minutes 60 --interval 1

Starts a private X server, session bus, tray host and notification daemon
(tests/support/desktop.py), then `python -m portwatch --interval S` with
private XDG folders (its own settings and history), and samples the app's RSS
and CPU time once a minute from /proc. Prints one line per sample and a
summary: RSS at the first and last sample, the largest, the growth from the
5-minute mark to the end (after start-up caches settle), and the CPU share.
Linux only. Ends the app with SIGTERM and checks that it exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return kb / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the name).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0, help="the app's scan interval")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    args = parser.parse_args()

    from tests.support.desktop import desktop_session, private_user_dirs

    with (
        desktop_session(tray="sni", notifications=True) as session,
        tempfile.TemporaryDirectory() as home,
    ):
        env = private_user_dirs(session.env, Path(home))
        log = (Path(home) / "app.log").open("w")
        app = subprocess.Popen(
            [sys.executable, "-m", "portwatch", "--interval", str(args.interval)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        samples: list[tuple[float, float, float]] = []  # (minutes, rss MB, cpu s)
        start = time.monotonic()
        try:
            time.sleep(min(args.sample, 10.0))
            while True:
                if app.poll() is not None:
                    print(f"the app ended early with {app.returncode}", file=sys.stderr)
                    return 1
                elapsed = (time.monotonic() - start) / 60
                sample = (elapsed, rss_mb(app.pid), cpu_seconds(app.pid))
                samples.append(sample)
                print(
                    f"{sample[0]:6.1f} min  RSS {sample[1]:6.1f} MB  CPU {sample[2]:7.2f} s",
                    flush=True,
                )
                if elapsed >= args.minutes:
                    break
                time.sleep(args.sample)
        finally:
            app.send_signal(signal.SIGTERM)
            code = app.wait(timeout=30)
            log.close()
        settled = [s for s in samples if s[0] >= 5] or samples
        first, last = samples[0], samples[-1]
        cpu_share = (
            (last[2] - first[2]) / ((last[0] - first[0]) * 60) * 100 if last[0] > first[0] else 0.0
        )
        print(
            f"summary: {last[0]:.0f} min at {args.interval:g} s; RSS first {first[1]:.1f} MB, "
            f"last {last[1]:.1f} MB, max {max(s[1] for s in samples):.1f} MB, "
            f"growth from {settled[0][0]:.0f} min to the end {last[1] - settled[0][1]:+.1f} MB; "
            f"CPU {cpu_share:.2f} % of one core; exit {code}"
        )
        return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
