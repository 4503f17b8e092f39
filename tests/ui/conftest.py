"""UI tests run on a real QApplication (offscreen unless a test starts an X server)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> QApplication:
    """Models own QTimers: they need the application's event dispatcher."""
    return qapp


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform warns that it cannot raise windows or propagate
    # size hints; that is the platform, not our code.
    # pytest-qt reads only the closest qt_log_ignore marker: merge with a test's own.
    for item in items:
        own = item.get_closest_marker("qt_log_ignore")
        patterns = [*(own.args if own else ()), "This plugin does not support"]
        item.add_marker(pytest.mark.qt_log_ignore(*patterns), append=False)
