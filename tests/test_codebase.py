"""The codebase's own rules: lint, format and types (the layers: tests/test_layers.py)."""

from __future__ import annotations

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


def test_mypy_on_tests_and_benchmarks() -> None:
    # Less strict than the package (pyproject.toml's override), but every call checked.
    result = _run(sys.executable, "-m", "mypy", "--explicit-package-bases", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
