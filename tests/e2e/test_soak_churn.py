"""The tray app under socket churn, the short form of benchmarks/soak_churn.py.

40 seconds of 200 loopback connections opened and closed a second and 10
listening processes a second (a tenth on watched ports), the app scanning
every second on a real desktop: it keeps running and exits 0, every bind held
longer than two scan intervals is in the history `portwatch history` shows,
and no alert is raised twice for the same bind. The 10-minute run with RSS
and CPU figures is the benchmark itself (README, "Reliability and security").
"""

from __future__ import annotations

import pytest

from benchmarks.soak_churn import soak_on
from tests.support.desktop import Desktop, desktop

__all__ = ["desktop"]  # the fixture used below

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(300)]


def test_history_and_alerts_stay_right_under_churn(desktop: Desktop) -> None:
    result = soak_on(
        desktop,
        minutes=40 / 60,
        interval=1.0,
        sample=10.0,
        connections=200,
        listeners=10,
        # Long holders well past two intervals, short ones well under one.
        lives="0.2,0.4,6,8",
    )
    assert not result.ended_early
    assert result.exit_code == 0
    assert result.long_binds > 50  # the churn really ran: 40 s x 10/s, half of them long
    assert result.missing == []
    assert result.alerts > 0  # watched-port binds were alerted ...
    assert result.duplicates == []  # ... each once
