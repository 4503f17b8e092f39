"""argparse types for the command line and the tray app's own options.

Each wraps the one parser of its value (:func:`portspec.parse_port`,
:func:`settings_model.parse_interval`), so ``--interval 0.1`` is refused with
the same one-line message wherever it is typed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.settings_model import SettingsError, parse_interval

T = TypeVar("T")


def argument_type(parse: Callable[[str], T], error: type[Exception]) -> Callable[[str], T]:
    """An argparse type from ``parse``: its ``error`` becomes argparse's one-line message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except error as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


port_number = argument_type(parse_port, PortSpecError)
interval_seconds = argument_type(parse_interval, SettingsError)
