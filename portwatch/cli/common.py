"""Argument types and output formats shared by the subcommands."""

from __future__ import annotations

import argparse
import math
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


def port_number(text: str) -> int:
    """argparse type: a TCP/UDP port, 1–65535, with a message that says what is wrong."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range: ports are 1-65535")
    return port


def interval_seconds(text: str) -> float:
    """argparse type: a poll interval between 0.1 s and one hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(value) or not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            f"interval {text} is out of range: use 0.1 to 3600 seconds"
        )
    return value


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
