"""The PySide6 None-refcount workaround (see portwatch/ui/_singleton_refcounts.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.ui.app_process import ROOT

VOID_CALLS = """
import sys
{prelude}
from PySide6.QtCore import QCoreApplication, QObject
app = QCoreApplication([])
obj = QObject()
before = sys.getrefcount(None)
for _ in range({calls}):
    obj.setObjectName("x")
print(before - sys.getrefcount(None), flush=True)
"""


def _run(prelude: str, calls: int) -> subprocess.CompletedProcess[str]:
    code = VOID_CALLS.format(prelude=prelude, calls=calls)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_calls_no_longer_exhaust_none() -> None:
    probe = _run("", 100)
    assert probe.returncode == 0, probe.stderr
    lost = int(probe.stdout.split()[0])
    if lost <= 0:
        pytest.skip("this PySide6 keeps None's count: the workaround is not needed")
    # Without the workaround this many calls ends in "none_dealloc"...
    crash = _run("", 200_000)
    assert crash.returncode != 0
    assert "none_dealloc" in crash.stderr
    # ...with it (importing portwatch.ui applies it) they run through.
    fixed = _run("import portwatch.ui", 200_000)
    assert fixed.returncode == 0, fixed.stderr
    assert "none_dealloc" not in fixed.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_none_true_and_false_get_an_endless_count() -> None:
    import portwatch.ui  # noqa: F401  (importing applies the workaround)

    for singleton in (None, True, False):
        assert sys.getrefcount(singleton) > 1 << 39
