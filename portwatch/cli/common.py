"""Argument types and output formats shared by the subcommands."""

from __future__ import annotations

import argparse
import time

from portwatch.core.formats import (
    LISTENER_KEYS,
    TABLE_HEADERS,
    format_listeners,
    format_table,
    listener_row,
    table_cells,
    to_csv,
    to_json,
)
from portwatch.core.portspec import PortSpecError, parse_port
from portwatch.core.settings import SettingsError, parse_interval


def port_number(text: str) -> int:
    """argparse type: one port, by the one rule of :func:`portwatch.core.portspec.parse_port`."""
    try:
        return parse_port(text)
    except PortSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def interval_seconds(text: str) -> float:
    """argparse type: seconds, by :func:`portwatch.core.settings.parse_interval`."""
    try:
        return parse_interval(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


__all__ = [
    "LISTENER_KEYS",
    "TABLE_HEADERS",
    "format_listeners",
    "format_table",
    "format_time",
    "interval_seconds",
    "listener_row",
    "port_number",
    "table_cells",
    "to_csv",
    "to_json",
]
