"""The two tables' search proxies: the listeners' with the toolbar toggles, the connections'."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex

from portwatch.core.model import Connection, Exposure, Listener
from portwatch.ui.tables.rows import RowState
from portwatch.ui.tables.search_proxy import SearchProxy


@dataclass(frozen=True, slots=True)
class ListenerToggles:
    """The toolbar's toggles: which listeners stay in the table."""

    tcp: bool = True
    udp: bool = True
    hide_loopback: bool = False
    only_public: bool = False

    def accepts(self, item: Listener) -> bool:
        if item.proto == "tcp" and not self.tcp:
            return False
        if item.proto == "udp" and not self.udp:
            return False
        if self.hide_loopback and item.exposure is Exposure.LOOPBACK:
            return False
        return not (self.only_public and item.exposure is not Exposure.PUBLIC)


class ListenerProxy(SearchProxy[Listener]):
    """Search plus the toolbar toggles: TCP, UDP, hide loopback-only, only public."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._toggles = ListenerToggles()

    @property
    def show_tcp(self) -> bool:
        return self._toggles.tcp

    @property
    def show_udp(self) -> bool:
        return self._toggles.udp

    @property
    def hide_loopback(self) -> bool:
        return self._toggles.hide_loopback

    @property
    def only_public(self) -> bool:
        return self._toggles.only_public

    def set_toggles(
        self,
        *,
        tcp: bool | None = None,
        udp: bool | None = None,
        hide_loopback: bool | None = None,
        only_public: bool | None = None,
    ) -> None:
        before = self._toggles
        after = ListenerToggles(
            before.tcp if tcp is None else tcp,
            before.udp if udp is None else udp,
            before.hide_loopback if hide_loopback is None else hide_loopback,
            before.only_public if only_public is None else only_public,
        )
        if after == before:
            return
        self._toggles = after
        # The default toggles keep everything: no per-row call then.
        self._set_item_filter(None if after == ListenerToggles() else after.accepts)

    def ports_and_pid(self, item: Listener) -> tuple[tuple[int, ...], int | None]:
        return (item.port,), item.pid

    def listener_at(self, index: QModelIndex | QPersistentModelIndex) -> Listener:
        return self.source_table().item_at(self.table_row(index))

    def current_listeners(self) -> list[Listener]:
        """The rows shown, in their order, less those greyed out because the
        last scan no longer saw their socket (they linger a moment as GONE)."""
        table = self.source_table()
        rows = (self.table_row(self.index(position, 0)) for position in range(self.rowCount()))
        return [table.item_at(row) for row in rows if table.state_at(row) is not RowState.GONE]


class ConnectionProxy(SearchProxy[Connection]):
    def ports_and_pid(self, item: Connection) -> tuple[tuple[int, ...], int | None]:
        return (item.local_port, item.remote_port), item.pid
