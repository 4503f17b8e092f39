"""The cost of process identities (app, project, unit, container, folder), cold and warm.

    python3 benchmarks/bench_identity.py              # 500 processes
    python3 benchmarks/bench_identity.py --procs 2000

Starts N real idle processes (``sleep``) spread over 50 working folders in 10
project folders (each with a marker: package.json, pyproject.toml, Cargo.toml,
go.mod, or only .git), then times ``IdentityCache.identity`` for all of them:

- cold: a new cache (and a new per-folder project cache) each round, so every
  process's working folder is read from /proc, its cgroup read, its command
  line parsed and the project markers read: what the first poll costs;
- cold, cwd given: the same with the working folder handed over, as the
  scanner can (its ``ProcessInfo`` has read it already);
- warm: the same cache again, as every later poll sees it.

The command lines handed over are the shapes of real servers (vite, uvicorn,
gunicorn, http.server, node server.js, nginx, ...), cycled over the processes.
No engine socket is asked (none of them is a docker-proxy). Prints medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portwatch.core.identity import IdentityCache

SHAPES = (
    ("node", ("node", "/srv/app/node_modules/.bin/vite", "--port", "5173")),
    ("python3", ("/venv/bin/python", "/venv/bin/uvicorn", "shop.api:app", "--port", "8000")),
    ("gunicorn", ("gunicorn: worker [shop.wsgi:application]",)),
    ("python3", ("python3", "-m", "http.server", "8000", "-d", "/srv/www")),
    ("node", ("node", "server.js")),
    ("nginx", ("nginx: worker process",)),
    ("python3", ("python3", "manage.py", "runserver", "0:8000")),
    ("postgres", ("/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main")),
)
MARKERS = (
    ("package.json", json.dumps({"name": "storefront"})),
    ("pyproject.toml", '[project]\nname = "shop-api"\n'),
    ("Cargo.toml", '[package]\nname = "edge"\n'),
    ("go.mod", "module example.com/acme/inventory\n"),
    (".git/HEAD", "ref: refs/heads/main\n"),
)


def make_projects(root: Path) -> list[Path]:
    """10 projects of 5 working folders each, two levels below the marker."""
    folders = []
    for number in range(10):
        project = root / f"project{number}"
        marker, text = MARKERS[number % len(MARKERS)]
        (project / marker).parent.mkdir(parents=True, exist_ok=True)
        (project / marker).write_text(text)
        for sub in range(5):
            folder = project / "src" / f"part{sub}"
            folder.mkdir(parents=True)
            folders.append(folder)
    return folders


def time_round(
    cache: IdentityCache, procs: list[subprocess.Popen[bytes]], cwds: list[str] | None = None
) -> float:
    """One pass over every process; ``cwds``: the working folders as the scanner has them."""
    started = time.perf_counter()
    for index, proc in enumerate(procs):
        name, cmdline = SHAPES[index % len(SHAPES)]
        if cwds is None:
            cache.identity(proc.pid, 1.0, name, cmdline)
        else:
            cache.identity(proc.pid, 1.0, name, cmdline, cwd=cwds[index])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--procs", type=int, default=500)
    parser.add_argument("--cold-rounds", type=int, default=7)
    parser.add_argument("--warm-rounds", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as temp:
        folders = make_projects(Path(temp))
        procs = [
            subprocess.Popen(["sleep", "600"], cwd=folders[n % len(folders)])
            for n in range(options.procs)
        ]
        try:
            cold = [time_round(IdentityCache(), procs) for _ in range(options.cold_rounds)]
            # The scanner's ProcessInfo already holds the working folder: handed over.
            cwds = [str(folders[n % len(folders)]) for n in range(options.procs)]
            given = [time_round(IdentityCache(), procs, cwds) for _ in range(options.cold_rounds)]
            cache = IdentityCache()
            time_round(cache, procs)
            warm = [time_round(cache, procs) for _ in range(options.warm_rounds)]
            live = {p.pid for p in procs}
            started = time.perf_counter()
            cache.prune(live)
            prune = time.perf_counter() - started
        finally:
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.wait()
    count = options.procs
    for label, times in (("cold", cold), ("cold, cwd given", given), ("warm", warm)):
        median = statistics.median(times)
        print(
            f"{label}: {count} processes in {median * 1e3:.2f} ms median "
            f"({median / count * 1e6:.2f} µs each; {len(times)} rounds, "
            f"min {min(times) * 1e3:.2f} ms, max {max(times) * 1e3:.2f} ms)"
        )
    print(f"prune of {count} live pids: {prune * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
