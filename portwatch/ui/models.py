"""The listener and connection tables, and the search/sort proxy in front of them."""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, ClassVar

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
)

from portwatch.core.exposure import strip_scope
from portwatch.core.model import Connection, Exposure, Listener, ListenerKey
from portwatch.core.services import ports_for_name
from portwatch.ui.icons import EXPOSURE_WORDS
from portwatch.ui.table_model import SORT_ROLE, Column, IncrementalTableModel, RowState

ConnectionKey = tuple[str, int, str, int, str, int]


@functools.lru_cache(maxsize=65536)
def address_sort_key(address: str, family: int = 0) -> str:
    """A string that sorts addresses numerically: IPv4 before IPv6, then by value.

    Qt compares strings natively (no Python call per comparison), so the key is
    the family and the fixed-width hex of the address.
    """
    try:
        parsed = ipaddress.ip_address(strip_scope(address))
    except ValueError:
        return f"9:{address}"
    width = 8 if parsed.version == 4 else 32
    return f"{parsed.version}:{int(parsed):0{width}x}"


def _count(value: int, proto: str) -> str:
    return str(value) if proto == "tcp" else ""


class ListenerColumn:
    PROTO, ADDRESS, PORT, SERVICE, EXPOSURE, PROCESS, PID, USER, CONNECTIONS, REMOTE = range(10)


class ListenerTableModel(IncrementalTableModel[ListenerKey, Listener]):
    """Every listening socket, keyed by (proto, family, address, port, pid)."""

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
        Column("Process", lambda x: x.owner_label, lambda x: x.owner_label.lower()),
        Column("PID", lambda x: str(x.pid or ""), lambda x: x.pid or -1, numeric=True),
        Column("User", lambda x: x.user or "", lambda x: (x.user or "").lower()),
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

    def key_of(self, item: Listener) -> ListenerKey:
        return item.key

    def haystack_of(self, item: Listener) -> str:
        parts = [
            item.proto,
            item.address,
            item.endpoint,
            str(item.port),
            item.service or "",
            item.owner_label,
            str(item.pid or ""),
            item.user or "",
            str(item.exposure),
            item.exe or "",
            " ".join(item.cmdline or ()),
        ]
        return "\n".join(parts).lower()

    def tooltip(self, item: Listener, column: int, state: RowState) -> str | None:
        if state is RowState.GONE:
            return "gone: no longer seen by the last scan"
        if column == ListenerColumn.ADDRESS and item.stack:
            return f"{item.endpoint} ({item.stack})"
        if column == ListenerColumn.PROCESS and item.cmdline:
            return " ".join(item.cmdline)
        if column == ListenerColumn.EXPOSURE:
            return {
                Exposure.LOOPBACK: "Reachable only from this machine",
                Exposure.LAN: "Reachable from the local network",
                Exposure.PUBLIC: "Reachable on every interface, or on a routable address",
            }[item.exposure]
        return None


class ConnectionColumn:
    PROTO, LOCAL, LOCAL_PORT, REMOTE, REMOTE_PORT, STATE, PROCESS, PID, USER = range(9)


def _process_label(item: Connection) -> str:
    if item.pid is None:
        return "owner unknown"
    return item.process or f"pid {item.pid}"


class ConnectionTableModel(IncrementalTableModel[ConnectionKey, Connection]):
    """Every TCP connection as a 5-tuple."""

    columns: ClassVar[tuple[Column[Connection], ...]] = (
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
        Column("User", lambda x: x.user or "", lambda x: (x.user or "").lower()),
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
            item.user or "",
        ]
        return "\n".join(parts).lower()


class SearchProxy(QSortFilterProxyModel):
    """Sorts on SORT_ROLE and filters on the search box's words.

    Every word must match (AND). A word of digits matches a port or PID
    exactly (so "80" does not also bring 8080); other words match any text of
    the row, and a service name ("postgres") also matches its port numbers.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._search = ""
        self._words: list[tuple[str, frozenset[int]]] = []
        self._numbers: list[int] = []

    @property
    def search(self) -> str:
        return self._search

    def set_search(self, text: str) -> None:
        normalised = " ".join(text.lower().split())
        if normalised == self._search:
            return  # nothing to re-filter
        self.beginFilterChange()
        self._search = normalised
        self._words = []
        self._numbers = []
        for word in normalised.split():
            if word.isdigit():
                self._numbers.append(int(word))
            else:
                ports = frozenset(ports_for_name(word)) if word.isalpha() else frozenset()
                self._words.append((word, ports))
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def _refilter(self) -> None:
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def source_table(self) -> IncrementalTableModel[Any, Any]:
        source = self.sourceModel()
        assert isinstance(source, IncrementalTableModel)
        return source

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        table = self.source_table()
        if source_row >= table.rowCount():
            return False
        item = table.item_at(source_row)
        if not self.accept_item(item):
            return False
        if not self._words and not self._numbers:
            return True
        ports, pid = self.ports_and_pid(item)
        for number in self._numbers:
            if number not in ports and number != pid:
                return False
        if self._words:
            haystack = table.haystack_at(source_row)
            for word, service_ports in self._words:
                if word in haystack:
                    continue
                if service_ports and not service_ports.isdisjoint(ports):
                    continue
                return False
        return True

    def accept_item(self, item: Any) -> bool:
        """Toggles of the subclass; True keeps the row."""
        return True

    def ports_and_pid(self, item: Any) -> tuple[tuple[int, ...], int | None]:
        raise NotImplementedError


class ListenerProxy(SearchProxy):
    """Search plus the toolbar toggles: TCP, UDP, hide loopback-only, only public."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.show_tcp = True
        self.show_udp = True
        self.hide_loopback = False
        self.only_public = False

    def set_toggles(
        self,
        *,
        tcp: bool | None = None,
        udp: bool | None = None,
        hide_loopback: bool | None = None,
        only_public: bool | None = None,
    ) -> None:
        before = (self.show_tcp, self.show_udp, self.hide_loopback, self.only_public)
        after = (
            before[0] if tcp is None else tcp,
            before[1] if udp is None else udp,
            before[2] if hide_loopback is None else hide_loopback,
            before[3] if only_public is None else only_public,
        )
        if after == before:
            return
        self.beginFilterChange()
        self.show_tcp, self.show_udp, self.hide_loopback, self.only_public = after
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def accept_item(self, item: Listener) -> bool:
        if item.proto == "tcp" and not self.show_tcp:
            return False
        if item.proto == "udp" and not self.show_udp:
            return False
        if self.hide_loopback and item.exposure is Exposure.LOOPBACK:
            return False
        return not (self.only_public and item.exposure is not Exposure.PUBLIC)

    def ports_and_pid(self, item: Listener) -> tuple[tuple[int, ...], int | None]:
        return (item.port,), item.pid

    def listener_at(self, index: QModelIndex | QPersistentModelIndex) -> Listener:
        source = self.mapToSource(index)
        item: Listener = self.source_table().item_at(source.row())
        return item


class ConnectionProxy(SearchProxy):
    def ports_and_pid(self, item: Connection) -> tuple[tuple[int, ...], int | None]:
        return (item.local_port, item.remote_port), item.pid
