"""The tray app as a real child process, probed over its single-instance socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from portwatch.ui.single_instance import send_request

ROOT = Path(__file__).resolve().parent.parent.parent


def portwatch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "portwatch", *args]


class AppProcess:
    """``python -m portwatch [args]``; output goes to files so pipes never fill."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"app-{time.monotonic_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                portwatch_command(*args),
                cwd=ROOT,
                env=env if env is not None else dict(os.environ),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self.pid = self.proc.pid

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def status(self) -> dict[str, Any] | None:
        """The running instance's status, or None if none answers."""
        reply = send_request("status", timeout_ms=2000)
        if not reply or not reply.startswith("{"):
            return None
        data: dict[str, Any] = json.loads(reply)
        return data

    def wait_status(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the status until ``predicate(status)``; fail with the app's stderr."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited {self.proc.returncode}:\n{self.stderr}")
            last = self.status()
            if last is not None and last.get("pid") == self.pid and predicate(last):
                return last
            time.sleep(0.1)
        raise AssertionError(f"status never matched; last {last}\n{self.stderr[-3000:]}")

    def signal(self, number: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        self.proc.send_signal(number)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Clean-up for tests that failed half-way: TERM, then KILL."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
