"""argparse types for the command line and the tray app's own options.

Both parse with the one rule the settings use (:func:`portspec.parse_port`,
:func:`settings_model.parse_interval`), so ``--interval 0.1`` is refused with
the same one-line message wherever it is typed.
"""

from __future__ import annotations

import argparse

from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.settings_model import SettingsError, parse_interval


def port_number(text: str) -> int:
    """argparse type: one port, by the one rule of :func:`portwatch.core.portspec.parse_port`."""
    try:
        return parse_port(text)
    except PortSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def interval_seconds(text: str) -> float:
    """argparse type: seconds, by :func:`portwatch.core.settings_model.parse_interval`."""
    try:
        return parse_interval(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
