"""Believable apps for the README screenshots: what a developer's laptop runs.

- a dev server started inside a project folder (``python3 -m http.server``
  in ``shop-frontend/src``, whose ``package.json`` names the project),
- a folder shared with every network (``http.server`` serving ``Downloads``),
- a pre-fork server (nginx, a master and two workers, on IPv4 and IPv6),
- a service with a systemd-shaped unit (redis in ``redis-server.service``),
- a UDP server on a port usually used by something else (5353, mDNS's).

nginx and redis are used where installed (``apt install nginx-light
redis-server``); otherwise a Python child holds their ports. Every process
is ended by PID in :meth:`DemoApps.stop`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.procs import ListenerProcess, connect_clients  # noqa: E402

NGINX_CONF = """\
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  server {{
    listen 0.0.0.0:{port};
    listen [::]:{port} ipv6only=on;
    location / {{ return 200 "portwatch demo\\n"; }}
  }}
}}
"""
# Where a unit's processes go: a cgroup named like systemd's, on whichever
# hierarchy systemd would use here (cgroup v2, or v1's name=systemd).
CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
UNIT_PATH = "system.slice/redis-server.service"


class DemoApps:
    """Starts the demo apps in ``folder``; :attr:`ports` names the port each one got."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports: dict[str, int] = {}
        self._procs: list[subprocess.Popen[str]] = []
        self._children: list[ListenerProcess] = []
        self._clients: list[socket.socket] = []
        self._nginx_pid: int | None = None
        self._cgroup: Path | None = None

    def start(self) -> DemoApps:
        project = self.folder / "shop-frontend"
        (project / "src").mkdir(parents=True, exist_ok=True)
        (project / "package.json").write_text(json.dumps({"name": "shop-frontend"}))
        downloads = self.folder / "Downloads"
        downloads.mkdir(exist_ok=True)
        self.ports["shop"] = self._http_server(project / "src", 3000, "127.0.0.1")
        self.ports["downloads"] = self._http_server(downloads, 8000, "0.0.0.0")  # noqa: S104
        self.ports["nginx"] = self._nginx(8080)
        self.ports["redis"] = self._redis(6379)
        udp = self._child(["udp:0.0.0.0:5353"])
        self.ports["udp"] = udp.ports[0]
        self._clients.extend(connect_clients("127.0.0.1", self.ports["shop"], 1))
        self._clients.extend(connect_clients("127.0.0.1", self.ports["nginx"], 2))
        self._clients.extend(connect_clients("::1", self.ports["redis"], 2))
        return self

    def _http_server(self, folder: Path, port: int, address: str) -> int:
        for wanted in (port, 0):
            proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "http.server", str(wanted), "--bind", address],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "Serving HTTP on 0.0.0.0 port 8000 (...)"
            found = re.search(r" port (\d+) ", line)
            if found:
                self._procs.append(proc)
                return int(found.group(1))
            proc.wait(5)
        raise RuntimeError(f"http.server did not start in {folder}")

    def _child(self, specs: list[str]) -> ListenerProcess:
        try:
            child = ListenerProcess(specs)
        except RuntimeError:  # the port is taken here: let the OS choose
            child = ListenerProcess([spec.rsplit(":", 1)[0] + ":0" for spec in specs])
        self._children.append(child)
        return child

    def _nginx(self, port: int) -> int:
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if nginx is None or os.geteuid() != 0:
            return self._child([f"tcp:0.0.0.0:{port}", f"tcp6only:::{port}"]).ports[0]
        folder = self.folder / "nginx"
        folder.mkdir(exist_ok=True)
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, port=port))
        # A service starts in "/", as systemd starts it: no project of its own.
        done = subprocess.run(
            [nginx, "-c", str(conf)], capture_output=True, timeout=10, check=False, cwd="/"
        )
        pid_file = folder / "nginx.pid"
        deadline = time.monotonic() + 5
        while done.returncode == 0 and not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if done.returncode != 0 or not pid_file.exists():
            return self._child([f"tcp:0.0.0.0:{port}", f"tcp6only:::{port}"]).ports[0]
        self._nginx_pid = int(pid_file.read_text())
        return port

    def _redis(self, port: int) -> int:
        redis = shutil.which("redis-server")
        if redis is None:
            return self._child([f"tcp:::1:{port}"]).ports[0]
        args = [redis, "--port", str(port), "--bind", "::1", "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd="/"
        )
        self._procs.append(proc)
        self._into_unit(proc.pid)
        return port

    def _into_unit(self, pid: int) -> None:
        """Move ``pid`` into a cgroup shaped like systemd's, where this machine lets us."""
        for root in CGROUP_ROOTS:
            if not (Path(root) / "cgroup.procs").exists():
                continue
            group = Path(root) / UNIT_PATH
            try:
                group.mkdir(parents=True, exist_ok=True)
                (group / "cgroup.procs").write_text(str(pid))
            except OSError:
                continue
            self._cgroup = group
            return

    def stop(self) -> None:
        for sock in self._clients:
            with contextlib.suppress(OSError):
                sock.close()
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for child in self._children:
            child.stop()
        if self._nginx_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._nginx_pid, signal.SIGQUIT)  # the master ends its workers
            deadline = time.monotonic() + 5
            while Path(f"/proc/{self._nginx_pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self._cgroup is not None:
            with contextlib.suppress(OSError):
                self._cgroup.rmdir()
                self._cgroup.parent.rmdir()
