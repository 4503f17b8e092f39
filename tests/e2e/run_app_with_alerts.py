"""Start the tray app as `python -m portwatch` does, with the alerts part installed.

Until ``portwatch.ui.app`` calls ``install_alerts`` itself, this wraps its
``PortwatchApp`` so the end-to-end test runs the real ``run_app``; once the
app installs alerts on its own, this just runs ``portwatch.cli.main``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from portwatch.cli import main  # noqa: E402
from portwatch.ui import app as app_module  # noqa: E402
from portwatch.ui.alerts_controller import install_alerts  # noqa: E402

if "install_alerts" not in Path(app_module.__file__).read_text(encoding="utf-8"):
    base = app_module.PortwatchApp

    class PortwatchAppWithAlerts(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.alerts = install_alerts(self, self.window, self.tray)

    app_module.PortwatchApp = PortwatchAppWithAlerts  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
