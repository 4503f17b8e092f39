"""The connection table: every TCP connection, keyed by its 5-tuple (and family)."""

from __future__ import annotations

from portwatch.core.model import Connection
from portwatch.core.owner_text import owner_name
from portwatch.core.safetext import visible
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import Column
from portwatch.ui.tables.incremental import IncrementalTableModel

ConnectionKey = tuple[str, int, str, int, str, int]


class ConnectionColumn:
    PROTO, LOCAL, LOCAL_PORT, REMOTE, REMOTE_PORT, STATE, PROCESS, PID, USER = range(9)


def _process_label(item: Connection) -> str:
    return visible(owner_name(item.process, item.pid))


class ConnectionTableModel(IncrementalTableModel[ConnectionKey, Connection]):
    """Every TCP connection as a 5-tuple."""

    columns: tuple[Column[Connection], ...] = (
        Column("Proto", lambda x: x.proto.upper(), lambda x: f"{x.proto}{x.family}"),
        Column(
            "Local address", lambda x: x.local_address, lambda x: address_sort_key(x.local_address)
        ),
        Column("Local port", lambda x: str(x.local_port), lambda x: x.local_port, numeric=True),
        Column(
            "Remote address",
            lambda x: x.remote_address,
            lambda x: address_sort_key(x.remote_address),
        ),
        Column("Remote port", lambda x: str(x.remote_port), lambda x: x.remote_port, numeric=True),
        Column("State", lambda x: x.state, lambda x: x.state),
        Column("Process", _process_label, lambda x: _process_label(x).lower()),
        Column("PID", lambda x: str(x.pid or ""), lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: visible(x.user or ""), lambda x: (x.user or "").lower()),
    )

    def key_of(self, item: Connection) -> ConnectionKey:
        return (
            item.proto,
            item.family,
            item.local_address,
            item.local_port,
            item.remote_address,
            item.remote_port,
        )

    def haystack_of(self, item: Connection) -> str:
        parts = [
            item.proto,
            item.local,
            item.remote,
            item.state,
            _process_label(item),
            str(item.pid or ""),
            visible(item.user or ""),
        ]
        return "\n".join(parts).lower()
