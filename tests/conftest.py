"""Test defaults: offscreen Qt, and every user folder pointed at a temporary one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Widgets render offscreen unless a test starts its own X server.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may read or write the real user's settings, data or autostart."""
    home = tmp_path / "home"
    for name, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "runtime"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        if sub == "runtime":
            path.chmod(0o700)
        monkeypatch.setenv(name, str(path))
    return home
