"""The tray app under socket churn: RSS, CPU, and whether the history and alerts stay right.

    python3 benchmarks/soak_churn.py --minutes 10 --interval 1

Starts a private desktop (Xvfb, session bus, SNI tray host, dunst; see
tests/support/desktop.py) and `python -m portwatch --interval S` with private
XDG folders whose settings watch ports 41000-41019. Then runs
benchmarks/churn.py beside it: 200 loopback connections opened and closed a
second and 10 listening processes a second (lives 0.3-6 s, a tenth of them on
the watched ports). Samples the app's RSS and CPU time every ``--sample``
seconds from /proc. At the end it stops the churn, lets the app see the last
frees, ends the app with SIGTERM, and reads the history with
`portwatch history --json` (the command a user runs), then checks:

- every bind held longer than two scan intervals is in the history
  (a holding with the same port and pid);
- no alert was raised twice for the same thing (kind, port, pid, title, body);
- RSS growth from the end of the first minute to the end.

Prints one line per sample and a summary line; exit status 1 if the app ended
early or did not exit 0, or a check failed. Linux only; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.soak_app import cpu_seconds, rss_mb  # noqa: E402

if TYPE_CHECKING:
    from tests.support.desktop import Desktop

WATCHED = "41000-41019"


@dataclass
class SoakResult:
    samples: list[tuple[float, float, float]]  # (minutes, RSS MB, CPU s)
    binds: int
    long_binds: int
    missing: list[dict[str, Any]]
    alerts: int
    duplicates: list[tuple[Any, ...]]
    exit_code: int | None
    ended_early: bool

    @property
    def rss_growth_after_first_minute(self) -> float:
        after = [s for s in self.samples if s[0] >= 1.0] or self.samples
        return self.samples[-1][1] - after[0][1]

    @property
    def cpu_percent(self) -> float:
        first, last = self.samples[0], self.samples[-1]
        if last[0] <= first[0]:
            return 0.0
        return (last[2] - first[2]) / ((last[0] - first[0]) * 60) * 100

    @property
    def ok(self) -> bool:
        return (
            not self.ended_early
            and self.exit_code == 0
            and not self.missing
            and not self.duplicates
        )

    def summary(self, interval: float) -> str:
        first, last = self.samples[0], self.samples[-1]
        return (
            f"summary: {last[0]:.1f} min at {interval:g} s under churn; RSS first "
            f"{first[1]:.1f} MB, last {last[1]:.1f} MB, max {max(s[1] for s in self.samples):.1f}"
            f" MB, growth after the first minute {self.rss_growth_after_first_minute:+.1f} MB; "
            f"CPU {self.cpu_percent:.1f} % of one core; binds {self.binds}, held > 2 intervals "
            f"{self.long_binds}, missing from the history {len(self.missing)}; alerts "
            f"{self.alerts}, duplicates {len(self.duplicates)}; exit {self.exit_code}"
        )


def _portwatch(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def _write_settings(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "portwatch", "watch-port", "add", WATCHED],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )


def soak(
    *, minutes: float, interval: float, sample: float, connections: float, listeners: float
) -> SoakResult:
    """Run the soak on a private desktop of its own."""
    from tests.support.desktop import desktop_session

    with desktop_session(tray="sni", notifications=True) as session:
        return soak_on(
            session,
            minutes=minutes,
            interval=interval,
            sample=sample,
            connections=connections,
            listeners=listeners,
        )


def soak_on(
    session: Desktop,
    *,
    minutes: float,
    interval: float,
    sample: float,
    connections: float,
    listeners: float,
    lives: str = "0.3,0.5,0.8,4,6",
) -> SoakResult:
    """Run the soak on ``session`` (a tests.support.desktop session)."""
    from tests.support.desktop import private_user_dirs

    seconds = minutes * 60
    with tempfile.TemporaryDirectory() as home_name:
        home = Path(home_name)
        env = private_user_dirs(session.env, home)
        _write_settings(env)
        binds_log = home / "binds.jsonl"
        with (home / "app.log").open("w") as app_log:
            app = subprocess.Popen(
                [sys.executable, "-m", "portwatch", "--interval", str(interval)],
                cwd=ROOT,
                env=env,
                stdout=app_log,
                stderr=subprocess.STDOUT,
            )
            churn: subprocess.Popen[bytes] | None = None
            samples: list[tuple[float, float, float]] = []
            ended_early = False
            code: int | None = None
            try:
                time.sleep(3.0)  # the app's first complete picture, before the churn
                churn = subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "benchmarks" / "churn.py"),
                        f"--connections={connections}",
                        f"--listeners={listeners}",
                        f"--seconds={seconds}",
                        f"--watched={WATCHED}",
                        f"--lives={lives}",
                        f"--log={binds_log}",
                        f"--timeout={seconds + 60}",
                    ],
                    stdout=subprocess.DEVNULL,
                )
                start = time.monotonic()
                while True:
                    if app.poll() is not None:
                        ended_early = True
                        break
                    elapsed = (time.monotonic() - start) / 60
                    samples.append((elapsed, rss_mb(app.pid), cpu_seconds(app.pid)))
                    s = samples[-1]
                    print(f"{s[0]:6.2f} min  RSS {s[1]:6.1f} MB  CPU {s[2]:7.2f} s", flush=True)
                    if elapsed >= minutes:
                        break
                    time.sleep(min(sample, max(0.5, seconds - elapsed * 60)))
            finally:
                if churn is not None:
                    churn.send_signal(signal.SIGTERM)
                    churn.wait(timeout=60)
                if app.poll() is None:
                    time.sleep(3 * interval)  # the last frees reach the history
                    app.send_signal(signal.SIGTERM)
                    code = app.wait(timeout=60)
                else:
                    code = app.returncode
        holdings = _portwatch(env, "history", "--json", "--limit", "1000000")
        events = _portwatch(env, "history", "--events", "--json", "--limit", "1000000")
        binds = [json.loads(line) for line in binds_log.read_text().splitlines() if line]
    held = {(h["port"], h["pid"]) for h in holdings}
    long_binds = [b for b in binds if b["end"] - b["start"] > 2 * interval]
    missing = [b for b in long_binds if (b["port"], b["pid"]) not in held]
    alerts = [e for e in events if e["kind"] == "alert"]
    seen = collections.Counter(
        (
            json.loads(e["detail"])["alert"],
            e["port"],
            e["pid"],
            json.loads(e["detail"])["title"],
            json.loads(e["detail"])["body"],
        )
        for e in alerts
    )
    duplicates = [key for key, count in seen.items() if count > 1]
    return SoakResult(
        samples, len(binds), len(long_binds), missing, len(alerts), duplicates, code, ended_early
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0, help="the app's scan interval")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--connections", type=float, default=200.0, help="opens+closes a second")
    parser.add_argument("--listeners", type=float, default=10.0, help="listening processes/s")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("soak_churn.py runs on Linux only", file=sys.stderr)
        return 2
    result = soak(
        minutes=args.minutes,
        interval=args.interval,
        sample=args.sample,
        connections=args.connections,
        listeners=args.listeners,
    )
    for bind in result.missing[:10]:
        print(f"missing from the history: {bind}")
    for key in result.duplicates[:10]:
        print(f"alert raised more than once: {key}")
    print(result.summary(args.interval))
    return 0 if result.ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
