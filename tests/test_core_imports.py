"""Importing one part of the core loads only what that part needs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("psutil", "portwatch.core.scanner", "portwatch.core.platform")


def _printed_by(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (nothing imported before it)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


def _loaded_after(module: str) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return _printed_by(code).split()


def test_the_model_loads_neither_the_scanner_nor_psutil() -> None:
    assert _loaded_after("portwatch.core.model") == []


def test_the_alert_rules_and_settings_load_neither_the_scanner_nor_psutil() -> None:
    assert _loaded_after("portwatch.core.alerts.engine") == []
    assert _loaded_after("portwatch.core.settings") == []


def test_the_autostart_package_loads_no_backend_until_one_is_asked_for() -> None:
    code = (
        "import sys, portwatch.core.autostart as a; "
        "print(sorted(m for m in sys.modules if m.startswith('portwatch.core.autostart.')))"
    )
    assert _printed_by(code) == "['portwatch.core.autostart.base']"
