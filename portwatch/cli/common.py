"""Output formats shared by the subcommands (argument types: :mod:`portwatch.core.arguments`)."""

from __future__ import annotations

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
    "listener_row",
    "table_cells",
    "to_csv",
    "to_json",
]
