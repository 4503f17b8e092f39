"""The listener table: every listening socket, keyed by (proto, family, address, port, pid)."""

from __future__ import annotations

from typing import ClassVar

from portwatch.core.model import Exposure, Listener, ListenerKey
from portwatch.core.safetext import visible
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.tables.addresses import address_sort_key
from portwatch.ui.tables.cells import Column, plain_tooltip
from portwatch.ui.tables.incremental import IncrementalTableModel
from portwatch.ui.tables.rows import RowState


def _count(value: int, proto: str) -> str:
    return str(value) if proto == "tcp" else ""


class ListenerColumn:
    PROTO, ADDRESS, PORT, SERVICE, EXPOSURE, PROCESS, PID, USER, CONNECTIONS, REMOTE = range(10)


class ListenerTableModel(IncrementalTableModel[ListenerKey, Listener]):
    """Every listening socket, keyed by (proto, family, address, port, pid)."""

    key_attribute = "key"

    columns: ClassVar[tuple[Column[Listener], ...]] = (
        Column("Proto", lambda x: x.proto.upper(), lambda x: f"{x.proto}{x.family}"),
        Column("Address", lambda x: x.address, lambda x: address_sort_key(x.address)),
        Column("Port", lambda x: str(x.port), lambda x: x.port, numeric=True),
        Column("Service", lambda x: x.service or "", lambda x: (x.service or "").lower()),
        Column(
            "Exposure",
            lambda x: EXPOSURE_WORDS[x.exposure],
            lambda x: x.exposure.rank,
            tooltip="How far the bind reaches: loopback (this machine), LAN, or public",
        ),
        # Process text is shown with control and bidi characters as visible escapes.
        Column("Process", lambda x: visible(x.owner_label), lambda x: x.owner_label.lower()),
        Column("PID", lambda x: str(x.pid or ""), lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: visible(x.user or ""), lambda x: (x.user or "").lower()),
        Column(
            "Conns",
            lambda x: _count(x.connections, x.proto),
            lambda x: x.connections,
            numeric=True,
            tooltip="Established connections to this listener",
        ),
        Column(
            "Remote",
            lambda x: _count(x.remote_connections, x.proto),
            lambda x: x.remote_connections,
            numeric=True,
            tooltip="Established connections from other hosts",
        ),
    )

    def same_item(self, old: Listener, new: Listener) -> bool:
        # The key fields are equal already; the rest, without building tuples.
        return (
            old.connections == new.connections
            and old.remote_connections == new.remote_connections
            and old.process == new.process
            and old.exe == new.exe
            and old.cmdline == new.cmdline
            and old.user == new.user
            and old.started == new.started
            and old.service == new.service
            and old.port_range == new.port_range
            and old.ephemeral == new.ephemeral
            and old.exposure == new.exposure
            and old.v6only == new.v6only
            and old.owner_unknown == new.owner_unknown
            and old.pid == new.pid
            and old.pids == new.pids
            and old.holders == new.holders
            and old.app == new.app
            and old.project == new.project
            and old.unit == new.unit
            and old.container == new.container
            and old.cwd == new.cwd
        )

    def haystack_of(self, item: Listener) -> str:
        # The search matches what the table and the details pane show (visible escapes).
        parts = [
            item.proto,
            item.address,
            item.endpoint,
            str(item.port),
            item.service or "",
            visible(item.owner_label),
            str(item.pid or ""),
            visible(item.user or ""),
            str(item.exposure),
            visible(item.exe or ""),
            visible(" ".join(item.cmdline or ())),
        ]
        return "\n".join(parts).lower()

    def tooltip(self, item: Listener, column: int, state: RowState) -> str | None:
        if state is RowState.GONE:
            return "gone: no longer seen by the last scan"
        if column == ListenerColumn.ADDRESS and item.stack:
            return f"{item.endpoint} ({item.stack})"
        if column == ListenerColumn.PROCESS and item.cmdline:
            return plain_tooltip(" ".join(item.cmdline))
        if column == ListenerColumn.EXPOSURE:
            return {
                Exposure.LOOPBACK: "Reachable only from this machine",
                Exposure.LAN: "Reachable from the local network",
                Exposure.PUBLIC: "Reachable on every interface, or on a routable address",
            }[item.exposure]
        return None
