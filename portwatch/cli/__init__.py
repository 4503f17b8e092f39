"""The `portwatch` command line: headless tools, and the options of the tray app.

The command line never imports the UI: with no command it hands over to the
`AppLauncher` it is given (portwatch.entry builds one that starts the tray app).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

from portwatch import __version__
from portwatch.cli import action_cmds, autostart_cmds, history_cmds, scan_cmds, settings_cmds
from portwatch.core.arguments import interval_seconds

# Each module adds its subcommands; the order is the order of `--help`.
COMMAND_MODULES = (scan_cmds, action_cmds, autostart_cmds, settings_cmds, history_cmds)


class AppLauncher(Protocol):
    """Starts the tray app or its self-test; given to `main` by the entry point."""

    def start(self, app_args: list[str], *, debug: bool) -> int: ...

    def self_test(self) -> int: ...


class _Parser(argparse.ArgumentParser):
    """Bad input ends with one line that says what is wrong, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        message = message.removeprefix("argument ")
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="portwatch",
        description="Watch which ports are listening, who owns them and how exposed they are. "
        "Without a command, starts the tray app.",
    )
    parser.add_argument("--version", action="version", version=f"portwatch {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logging to stderr")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load Qt, the icon and the app, run one scan, print one line and exit",
    )
    # The tray app's own options, so `portwatch --interval 0.5` reads as one would expect.
    parser.add_argument(
        "--interval",
        dest="app_interval",
        type=interval_seconds,
        default=None,
        metavar="S",
        help="tray app: seconds between scans (default: the setting, 2)",
    )
    parser.add_argument("--show", action="store_true", help="tray app: open the window at start")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None, *, app: AppLauncher) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, app_args = parser.parse_known_args(args_list)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.self_test:
        return app.self_test()
    if args.command is None:
        if args.app_interval is not None:
            app_args.append(f"--interval={args.app_interval}")
        if args.show:
            app_args.append("--show")
        return app.start(app_args, debug=args.debug)
    if args.app_interval is not None or args.show:
        parser.error("--interval and --show before a command are for the tray app")
    if app_args:
        parser.error(f"unrecognized arguments: {' '.join(app_args)}")
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `portwatch list | head`: the reader left; that is not an error worth a traceback.
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
