"""The identity cache: once per (pid, start time), bounded, and forgetting gone processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.core.identity import Identity, IdentityCache
from portwatch.core.identity.projects import ProjectFinder


def _proc_tree(root: Path, pid: int, cgroup: str) -> None:
    (root / str(pid)).mkdir(parents=True, exist_ok=True)
    (root / str(pid) / "cgroup").write_text(f"0::{cgroup}\n")


def test_a_process_is_looked_at_once_while_it_lives(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _proc_tree(proc, 7, "/system.slice/shop.service")
    project = tmp_path / "shop"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "shop"}))
    cache = IdentityCache(proc_root=str(proc))
    first = cache.identity(7, 100.0, "node", ["node", "server.js"], cwd=str(project))
    assert first == Identity("server.js", "shop", "shop.service", None, str(project))
    # What the files say now no longer matters for this process: it is cached.
    _proc_tree(proc, 7, "/system.slice/other.service")
    reads = cache.projects.folders_read
    assert cache.identity(7, 100.0, "node", ["node", "server.js"], cwd=str(project)) is first
    assert cache.projects.folders_read == reads
    # The same pid with another start time is another process.
    again = cache.identity(7, 200.0, "python3", ["python3", "-m", "http.server"], cwd="/srv")
    assert (again.app, again.unit, again.project) == ("http.server srv", "other.service", None)
    assert len(cache) == 1


def test_gone_processes_are_forgotten_and_the_cache_is_bounded(tmp_path: Path) -> None:
    cache = IdentityCache(max_entries=100, proc_root=str(tmp_path))
    for pid in range(1, 301):
        cache.identity(pid, 1.0, f"p{pid}", [f"p{pid}"], cwd=None)
    assert len(cache) == 100
    cache.identity(250, 1.0, "p250", ["p250"], cwd=None)  # used last: kept longest
    cache.prune({250, 299, 5})
    assert len(cache) == 2
    cache.prune(set())
    assert len(cache) == 0


def test_a_process_without_arguments_yet_is_asked_again(tmp_path: Path) -> None:
    # Caught between exec and the kernel setting up its arguments, a process has
    # none for a moment: that first answer must not stick for its whole life.
    cache = IdentityCache(proc_root=str(tmp_path))
    assert cache.identity(9, 5.0, "python3", None, cwd="/srv").app == "python3"
    assert len(cache) == 0
    later = cache.identity(9, 5.0, "python3", ["python3", "-m", "http.server"], cwd="/srv")
    assert later.app == "http.server srv"
    assert len(cache) == 1


def test_the_app_is_never_empty(tmp_path: Path) -> None:
    cache = IdentityCache(proc_root=str(tmp_path))
    assert cache.identity(42, None, None, None, cwd=None).app == "PID 42"
    assert cache.identity(43, None, "", [""], cwd=None).app == "PID 43"
    assert Identity("a", None, None, None, None).to_json() == {
        "app": "a",
        "project": None,
        "unit": None,
        "container": None,
        "cwd": None,
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_that_is_gone_has_no_folder_but_still_a_name() -> None:
    child = subprocess.Popen(["sleep", "30"])
    child.kill()
    child.wait(5)
    found = IdentityCache().identity(child.pid, 1.0, "sleep", ["sleep", "30"])
    assert (found.app, found.cwd, found.project, found.unit) == ("sleep", None, None, None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_fifty_real_processes_in_one_project_read_its_markers_once(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    folders = [project / "apps" / name for name in ("web", "api", "jobs", "admin", "docs")]
    for folder in folders:
        folder.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    children = [subprocess.Popen(["sleep", "60"], cwd=folders[n % 5]) for n in range(50)]
    try:
        finder = ProjectFinder()
        cache = IdentityCache(projects=finder)
        found = [cache.identity(c.pid, 1.0, "sleep", ["sleep", "60"]) for c in children]
        assert {f.project for f in found} == {"shop"}
        assert {f.cwd for f in found} == {str(f) for f in folders}
        assert finder.folders_read == 5 + 2  # each apps/<name>, then apps/ and shop/ once
        assert len(cache) == 50
        cache.prune({c.pid for c in children[:10]})
        assert len(cache) == 10
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait(5)
