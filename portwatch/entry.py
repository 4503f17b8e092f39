"""The `portwatch` command: the tray app with no arguments, headless tools with one.

The one place that knows both halves: the command line (portwatch.cli) and the
tray app (portwatch.ui), which never import each other. Qt is loaded only when
the tray app or its self-test is asked for, so headless commands start fast and
work where Qt cannot load.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from portwatch import cli


class TrayAppLauncher:
    """Starts the tray app, or its self-test, for `portwatch` without a command."""

    def start(self, app_args: list[str], *, debug: bool) -> int:
        try:
            from portwatch.ui.launch import run_app
        except ImportError as exc:
            print(f"portwatch: the tray app cannot start: {exc}", file=sys.stderr)
            print("The command line works without it: try `portwatch list`.", file=sys.stderr)
            return 1
        return run_app(app_args, debug=debug)

    def self_test(self) -> int:
        from portwatch.selftest import run_self_test

        return run_self_test()


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, app=TrayAppLauncher())
