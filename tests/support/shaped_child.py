"""Real child processes whose command lines have the shapes real servers have.

A small Python listener (127.0.0.1, port 0) is written to a file with the
name the real tool's script has (``node_modules/.bin/vite``, ``server.js``,
``venv/bin/uvicorn``) and started with ``exec -a`` where the real program
name differs (``node``, ``ruby``), so ``/proc/PID/cmdline`` reads exactly as
it would for the real thing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

LISTENER_CODE = """\
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
print(server.getsockname()[1], flush=True)
sys.stdin.read()
"""


class ShapedChild:
    """A listening child started as ``arg0 script args...`` in ``cwd``; ``stop()`` ends it."""

    def __init__(
        self, arg0: str, script: Path | None, args: list[str], cwd: Path, code: str = LISTENER_CODE
    ) -> None:
        words = [sys.executable] if script is None else [sys.executable, str(script)]
        if script is not None:
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(code)
        line = f"exec -a {shlex.quote(arg0)} {shlex.join([*words, *args])}"
        # Python finds its library from argv[0]; under another name it is told where.
        env = {**os.environ, "PYTHONHOME": sys.base_prefix}
        self.proc = subprocess.Popen(
            ["bash", "-c", line],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        port = self.proc.stdout.readline().strip()
        if not port:
            self.stop()
            raise RuntimeError(f"shaped child did not start: {line}")
        self.port = int(port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)

    def __enter__(self) -> ShapedChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
