"""Output formats shared by the subcommands (argument types: :mod:`portwatch.core.arguments`)."""

from __future__ import annotations

import sys
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
from portwatch.core.naming import Labels
from portwatch.core.safetext import visible
from portwatch.core.settings import load_settings


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def load_labels() -> Labels:
    """The names the user gave ports and apps, read once per command.

    A settings file that cannot be read, or only in part, never stops a
    command: it says so in one line on stderr and goes on with what was read
    (no labels when nothing could be).
    """
    loaded = load_settings()
    if loaded.message:
        print(f"warning: {visible(loaded.message)}", file=sys.stderr)
    return loaded.settings.labels


__all__ = [
    "LISTENER_KEYS",
    "TABLE_HEADERS",
    "format_listeners",
    "format_table",
    "format_time",
    "listener_row",
    "load_labels",
    "table_cells",
    "to_csv",
    "to_json",
]
