"""The codebase's own rules: lint, format, types, and a core without Qt."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _ruff() -> str | None:
    # The ruff of the environment running the tests, so the pinned version judges.
    local = Path(sys.prefix) / "bin" / "ruff"
    return str(local) if local.exists() else shutil.which("ruff")


@pytest.mark.skipif(_ruff() is None, reason="ruff is installed by the [test] extra")
def test_ruff_check_and_format() -> None:
    ruff = _ruff()
    assert ruff is not None
    lint = _run(ruff, "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_mypy_for_the_other_platforms(platform: str) -> None:
    """The code checked as it is seen on Windows and macOS: no Linux-only call unguarded."""
    result = _run(sys.executable, "-m", "mypy", "--platform", platform, "portwatch")
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_never_imports_qt() -> None:
    offenders = []
    for path in (ROOT / "portwatch" / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.split(".")[0] in {"PySide6", "shiboken6", "PyQt6", "PyQt5"}
                or name.startswith("portwatch.ui")
            ]
    assert offenders == []
