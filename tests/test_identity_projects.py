"""The project a process works in, from real folders with each marker (and with none)."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

from portwatch.core.identity import IdentityCache
from portwatch.core.identity.projects import (
    MAX_LEVELS,
    MAX_MARKER_BYTES,
    ProjectFinder,
    folder_project,
)
from tests.support.shaped_child import ShapedChild

MARKERS = [
    ("package.json", json.dumps({"name": "checkout-ui", "version": "1.0.0"}), "checkout-ui"),
    ("package.json", json.dumps({"name": "@acme/shop-web"}), "@acme/shop-web"),
    ("pyproject.toml", '[project]\nname = "shop-api"\nversion = "0.1"\n', "shop-api"),
    ("pyproject.toml", '[tool.poetry]\nname = "legacy-api"\n', "legacy-api"),
    ("Cargo.toml", '[package]\nname = "edge-proxy"\nedition = "2021"\n', "edge-proxy"),
    ("go.mod", "module github.com/acme/inventory\n\ngo 1.22\n", "inventory"),
    ("go.mod", "// comment\nmodule github.com/acme/billing/v2 // v2\n", "billing"),
    ("composer.json", json.dumps({"name": "acme/storefront"}), "acme/storefront"),
]


@pytest.mark.parametrize(("marker", "text", "expected"), MARKERS)
def test_the_declared_name_of_each_marker(
    tmp_path: Path, marker: str, text: str, expected: str
) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".git").mkdir()
    (tmp_path / "repo" / marker).write_text(text)
    assert ProjectFinder().project(str(tmp_path / "repo")) == expected


# TOML written the other ways a name can be: each gives what parsing the whole file gives.
MANY_TOOLS = "".join(f"[tool.t{i}]\nline-length = 100\n" for i in range(200))
PYPROJECTS = [
    ('[project]\nname = "shop"\n[tool.x]\nname = "not-this"\n', "shop"),
    ('project.name = "dotted"\n[tool.poetry]\nname = "poetry-name"\n', "dotted"),
    ('[project]\ndynamic = ["version"]\n[tool.poetry]\nname = "poetry-name"\n', "poetry-name"),
    ('[project]\nclassifiers = [\n  "a",\n  ["b"]\n]\nname = "after-an-array"\n', "after-an-array"),
    ('[project]\ndescription = """\n[tool]\nname = "in-a-string"\n"""\nname = "real"\n', "real"),
    ('[project] # the package\nname = "commented"\n', "commented"),
    (f'{MANY_TOOLS}[project]\nname = "after-the-tools"\n', "after-the-tools"),
]


@pytest.mark.parametrize(("text", "expected"), PYPROJECTS)
def test_a_pyproject_name_however_the_file_is_written(
    tmp_path: Path, text: str, expected: str
) -> None:
    """The name's own table is read first (a pyproject is mostly tool settings)."""
    (tmp_path / "pyproject.toml").write_text(text)
    assert folder_project(str(tmp_path)) == expected


def test_a_server_started_below_its_project_folder(tmp_path: Path) -> None:
    # The example: storefront/app/ whose package.json says "checkout-ui".
    app = tmp_path / "storefront" / "app"
    (app / "src" / "server").mkdir(parents=True)
    (tmp_path / "storefront" / ".git").mkdir()
    (app / "package.json").write_text(json.dumps({"name": "checkout-ui"}))
    finder = ProjectFinder()
    assert finder.project(str(app / "src" / "server")) == "checkout-ui"
    assert finder.project(str(tmp_path / "storefront")) == "storefront"


def test_a_git_folder_names_itself_and_no_marker_is_none(tmp_path: Path) -> None:
    (tmp_path / "shop-frontend" / ".git").mkdir(parents=True)
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git file
    (tmp_path / "plain" / "deeper").mkdir(parents=True)
    finder = ProjectFinder()
    assert finder.project(str(tmp_path / "shop-frontend")) == "shop-frontend"
    assert finder.project(str(tmp_path / "worktree")) == "worktree"
    assert finder.project(str(tmp_path / "plain" / "deeper")) is None
    assert finder.project(None) is None
    assert finder.project("") is None
    assert finder.project("relative/path") is None
    assert finder.project("/\x00") is None
    assert finder.project("/tmp/\ud800 not encodable") is None


def test_a_marker_without_a_name_says_nothing_and_the_walk_goes_on(tmp_path: Path) -> None:
    crate = tmp_path / "workspace" / "crates" / "cli"
    crate.mkdir(parents=True)
    (tmp_path / "workspace" / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\n')
    (crate / "package.json").write_text(json.dumps({"private": True}))
    (tmp_path / "workspace" / ".git").mkdir()
    assert ProjectFinder().project(str(crate)) == "workspace"


def test_the_nearest_marker_wins_and_the_walk_is_bounded(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(MAX_LEVELS + 2)])
    deep.mkdir(parents=True)
    (tmp_path / "package.json").write_text(json.dumps({"name": "too-far-up"}))
    assert ProjectFinder().project(str(deep)) is None
    within = deep.parents[MAX_LEVELS - 2]  # the last of the MAX_LEVELS folders looked at
    (within / "pyproject.toml").write_text('[project]\nname = "near-enough"\n')
    assert ProjectFinder().project(str(deep)) == "near-enough"
    (deep / "go.mod").write_text("module example.com/nearest\n")
    assert ProjectFinder().project(str(deep)) == "nearest"


def test_corrupt_huge_and_odd_markers_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / ".git").mkdir()
    finder = ProjectFinder(ttl=0)
    for text in (
        "{not json",
        "[1, 2, 3]",
        json.dumps({"name": 42}),
        json.dumps({"name": "   "}),
        "[" * 100_000 + "]" * 100_000,  # nested past the parser's recursion limit
        json.dumps({"name": "x" * (MAX_MARKER_BYTES + 10)}),  # over the size bound
    ):
        (folder / "package.json").write_text(text)
        assert finder.project(str(folder)) == "shop"
    (folder / "package.json").unlink()
    # Not UTF-8: TOML and JSON must be, so the marker is corrupt.
    (folder / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')
    assert finder.project(str(folder)) == "shop"
    (folder / "pyproject.toml").write_text("[project\nname=")
    assert finder.project(str(folder)) == "shop"
    (folder / "pyproject.toml").unlink()
    long_name = json.dumps({"name": "n" * 10_000})
    (folder / "composer.json").write_text(long_name)
    assert len(finder.project(str(folder)) or "") <= 128


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and symbolic links")
def test_a_fifo_or_a_link_loop_named_as_a_marker_neither_hangs_nor_fails(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / ".git").mkdir()
    os.mkfifo(folder / "package.json")  # reading it would block for ever
    (folder / "Cargo.toml").symlink_to(folder / "Cargo.toml")  # ELOOP
    (folder / "go.mod").symlink_to(folder / "go.mod.link")
    (folder / "go.mod.link").symlink_to(folder / "go.mod")
    (folder / "composer.json").mkdir()  # a folder, not a file
    done: list[str | None] = []
    worker = threading.Thread(target=lambda: done.append(ProjectFinder().project(str(folder))))
    worker.start()
    worker.join(10)
    assert done == ["shop"]
    # A working folder reached through a link cycle is walked as text: bounded all the same.
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    looped = tmp_path.joinpath(*["loop"] * 40, "shop")
    assert ProjectFinder().project(str(looped)) == "shop"


def test_fifty_processes_in_one_project_read_each_folder_once(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    folders = [project / "services" / f"s{i}" for i in range(5)]
    for folder in folders:
        folder.mkdir(parents=True)
    (project / "package.json").write_text(json.dumps({"name": "shop"}))
    now = [0.0]
    finder = ProjectFinder(ttl=60, clock=lambda: now[0])
    for n in range(50):
        assert finder.project(str(folders[n % 5])) == "shop"
    assert finder.folders_read == 5 + 2  # each s{i}, then services/ and shop/ once
    now[0] = 61.0  # a while later the folders are looked at again: a renamed project shows
    (project / "package.json").write_text(json.dumps({"name": "shop-renamed"}))
    assert finder.project(str(folders[0])) == "shop-renamed"


def test_the_folder_cache_is_bounded(tmp_path: Path) -> None:
    finder = ProjectFinder(max_folders=10)
    for i in range(50):
        (tmp_path / f"p{i}").mkdir()
        finder.project(str(tmp_path / f"p{i}"))
    assert len(finder._folders) == 10  # noqa: SLF001  # the bound has no public view


def test_folder_project_reads_only_that_folder(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"name": "parent"}))
    (tmp_path / "child").mkdir()
    assert folder_project(str(tmp_path / "child")) is None
    assert folder_project(str(tmp_path)) == "parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/cwd")
@pytest.mark.parametrize(("marker", "text", "expected"), MARKERS[::2])
def test_a_real_process_is_in_the_project_of_its_working_folder(
    tmp_path: Path, marker: str, text: str, expected: str
) -> None:
    project = tmp_path / "repo"
    work = project / "src"
    work.mkdir(parents=True)
    (project / marker).write_text(text)
    with ShapedChild("node", work / "server.js", [], work) as child:
        # Not told the working folder: the cache reads it from /proc.
        found = IdentityCache().identity(child.pid, 1.0, "node", ["node", "server.js"])
        assert (found.project, found.cwd) == (expected, str(work))
    with ShapedChild("node", tmp_path / "server.js", [], tmp_path) as child:
        assert IdentityCache().identity(child.pid, 1.0, "node", None).project is None
