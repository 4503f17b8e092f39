"""Actions on the selected listeners: free, open in a browser, copy, reveal, rename, export.

``ListenerActions`` owns the QActions; the window adds them to its toolbar and
context menu (``populate_menu``) and feeds it the selection. Freeing a port
runs as a ``FreePortFlow`` (free_flow.py). ``install_actions`` wires them and
the "Is port free?" tab into the main window.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from portwatch.core.export import export_format_for, export_listeners
from portwatch.core.free import TERMINATE_WAIT_SECONDS
from portwatch.core.http_probe import Prober, probe_http
from portwatch.core.model import Listener, Snapshot
from portwatch.core.naming import NO_LABELS, Labels
from portwatch.core.reveal import reveal_in_file_manager
from portwatch.core.safetext import visible
from portwatch.ui.action_rules import COPY_KINDS, copy_text, enabled_for
from portwatch.ui.filter_bar import LISTENERS_TAB
from portwatch.ui.free_flow import FreePortFlow
from portwatch.ui.main_window import MainWindow
from portwatch.ui.port_check import PortCheckBox
from portwatch.ui.rename_dialog import RenameTarget, rename_targets
from portwatch.ui.web_check import WebCheck

EXPORT_FILTERS = "CSV (*.csv);;JSON (*.json)"
MESSAGE_MS = 10_000  # how long an action's line stays in the status bar


class ListenerActions(QObject):
    """The actions on listeners: shared QActions for the selection, menus for given rows.

    The shared actions (``free_action``, ``open_action``, ``copy_*_action``,
    ``reveal_action``, ``export_action``) follow ``set_selection`` and belong in
    the toolbar and on the table (Delete, Ctrl+C). ``populate_menu`` adds fresh
    actions bound to the rows it is given, so a scan that changes the
    selection while a menu is open cannot retarget them.

    ``rows_provider`` returns the rows the table shows now (after search and
    filters, less the rows just gone): Export writes those. ``terminate_wait``
    is how long a graceful terminate gets before Force kill is offered.
    ``rename`` opens the Rename dialog for a port or an app; without it menus
    offer no "Rename…". "Open in browser" is enabled for sockets that serve
    web pages: ``prober`` asks one that is not known to (``core.http_probe``),
    on the thread pool.
    """

    message = Signal(str)  # status bar text
    flow_started = Signal(FreePortFlow)
    browser_opened = Signal(str)
    exported = Signal(object)  # ExportResult

    def __init__(
        self,
        parent: QWidget,
        *,
        rows_provider: Callable[[], Sequence[Listener]] | None = None,
        terminate_wait: float = TERMINATE_WAIT_SECONDS,
        rename: Callable[[RenameTarget], object] | None = None,
        prober: Prober = probe_http,
    ) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.rename = rename
        self.rows_provider = rows_provider
        self.terminate_wait = terminate_wait
        self.selection: list[Listener] = []
        self.flow: FreePortFlow | None = None
        self.export_failed_dialog: QMessageBox | None = None

        self.free_action = self._shared(
            "Free port…", lambda: self.free(self.selection), QKeySequence.StandardKey.Delete
        )
        self.free_action.setToolTip("End the process holding the port (asks first)")
        self.open_action = self._shared(
            "Open in browser", lambda: self.open_in_browser(self.selection)
        )
        self.web = WebCheck(self, prober=prober)
        self._open_follower = self.web.follow(self.open_action, [])
        self.copy_actions: dict[str, QAction] = {}
        for kind, label, _what in COPY_KINDS:
            shortcut = QKeySequence.StandardKey.Copy if kind == "row" else None
            self.copy_actions[kind] = self._shared(
                label, functools.partial(self._copy_selection, kind), shortcut
            )
        self.copy_endpoint_action = self.copy_actions["endpoint"]
        self.copy_pid_action = self.copy_actions["pid"]
        self.copy_command_action = self.copy_actions["command"]
        self.copy_row_action = self.copy_actions["row"]
        self.copy_kill_action = self.copy_actions["kill"]
        self.copy_menu = QMenu("Copy", parent)
        self.copy_menu.addActions(list(self.copy_actions.values()))
        self.reveal_action = self._shared("Reveal executable", lambda: self.reveal(self.selection))
        self.export_action = self._shared("Export…", self.export_rows)
        self.export_action.setToolTip(
            "Save the table's current rows as shown (search and filters) to CSV or JSON"
        )
        self.set_selection([])

    def _shared(
        self,
        text: str,
        slot: Callable[[], None],
        shortcut: QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            # Delete and Ctrl+C belong to the table, not the search field.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        return action

    # --- wiring -----------------------------------------------------------------

    @property
    def shortcut_actions(self) -> list[QAction]:
        """Add these to the table view (``view.addActions``) so Delete and Ctrl+C work there."""
        return [self.free_action, self.copy_row_action]

    @property
    def toolbar_actions(self) -> list[QAction]:
        return [self.free_action, self.open_action, self.export_action]

    def set_selection(self, listeners: Sequence[Listener]) -> None:
        self.selection = list(listeners)
        enabled = enabled_for(self.selection)
        self.free_action.setEnabled(enabled["free"])
        self._open_follower.set_rows(self.selection)
        self.web.ask(self.selection)
        self.reveal_action.setEnabled(enabled["reveal"])
        self.copy_menu.setEnabled(enabled["copy"])
        for kind, action in self.copy_actions.items():
            action.setEnabled(enabled[kind])
        self.export_action.setEnabled(self.rows_provider is not None or bool(self.selection))

    def populate_menu(self, menu: QMenu, listeners: Sequence[Listener]) -> None:
        """Add actions for ``listeners`` to a menu (the table's context menu, a tray submenu)."""
        rows = list(listeners)
        enabled = enabled_for(rows)
        if not menu.isEmpty():
            menu.addSeparator()

        def add(target: QMenu, text: str, key: str, slot: Callable[[], None]) -> QAction:
            action = target.addAction(text)
            action.setEnabled(enabled.get(key, True))
            action.triggered.connect(slot)
            return action

        # "\t" puts the key in the menu's shortcut column without registering
        # a second shortcut next to the table's.
        delete = QKeySequence(QKeySequence.StandardKey.Delete).toString(
            QKeySequence.SequenceFormat.NativeText
        )
        add(menu, f"Free port…\t{delete}", "free", lambda: self.free(rows))
        self.web.follow(
            add(menu, "Open in browser", "open", lambda: self.open_in_browser(rows)), rows
        )
        # Probed when the menu opens (a tray menu builds its submenus before).
        menu.aboutToShow.connect(functools.partial(self.web.ask, rows))
        menu.setToolTipsVisible(True)  # why Open in browser is off
        copy_menu = menu.addMenu("Copy")
        copy_menu.setEnabled(enabled["copy"])
        copy_key = QKeySequence(QKeySequence.StandardKey.Copy).toString(
            QKeySequence.SequenceFormat.NativeText
        )
        for kind, label, _what in COPY_KINDS:
            text = f"{label}\t{copy_key}" if kind == "row" else label
            add(copy_menu, text, kind, functools.partial(self.copy, kind, rows))
        add(menu, "Reveal executable", "reveal", lambda: self.reveal(rows))
        self._add_rename(menu, rows)
        menu.addSeparator()
        export = add(menu, "Export…", "export", self.export_rows)
        export.setEnabled(self.export_action.isEnabled())

    def _add_rename(self, menu: QMenu, rows: Sequence[Listener]) -> None:
        """'Rename port 3000…' and 'Rename nginx…' for what the rows share."""
        rename = self.rename
        if rename is None:
            return
        for target in rename_targets(rows):
            action = menu.addAction(target.menu_text())
            action.triggered.connect(functools.partial(rename, target))

    # --- the actions ---------------------------------------------------------------

    def free(self, listeners: Sequence[Listener]) -> None:
        if not listeners:
            return
        if self.flow is not None:
            # One flow at a time: bring its dialog back instead of stacking another.
            if self.flow.dialog is not None:
                self.flow.dialog.raise_()
                self.flow.dialog.activateWindow()
            else:
                self.message.emit("Still waiting for the last process to exit…")
            return
        flow = FreePortFlow(self.parent_widget, listeners, terminate_wait=self.terminate_wait)
        flow.message.connect(self.message)
        flow.finished.connect(self._flow_finished)
        self.flow = flow
        self.flow_started.emit(flow)
        flow.start()

    def _flow_finished(self, _result: object) -> None:
        if self.flow is not None:
            self.flow.deleteLater()
        self.flow = None

    def open_in_browser(self, listeners: Sequence[Listener]) -> None:
        """Open the sockets that serve web pages (or may: not probed); say which failed."""
        verdict = self.web.verdict(listeners)
        if not verdict.urls:
            self.message.emit(verdict.tooltip)  # why not, or that it is still being checked
            return
        opened: list[str] = []
        failed: list[str] = []
        for url in verdict.urls:
            (opened if QDesktopServices.openUrl(QUrl(url)) else failed).append(url)
        for url in opened:
            self.browser_opened.emit(url)
        if failed:
            also = f" (opened {', '.join(opened)})" if opened else ""
            self.message.emit(f"Could not open a browser for {', '.join(failed)}{also}")
        else:
            self.message.emit(f"Opened {', '.join(opened)}")

    def _copy_selection(self, kind: str) -> None:
        self.copy(kind, self.selection)

    def copy(self, kind: str, listeners: Sequence[Listener]) -> None:
        what = next(w for k, _label, w in COPY_KINDS if k == kind)
        text = copy_text(kind, listeners)
        if not text:
            self.message.emit(f"Nothing to copy: no {what} for the selection.")
            return
        QGuiApplication.clipboard().setText(text)
        self.message.emit(f"Copied {what}.")

    def reveal(self, listeners: Sequence[Listener]) -> None:
        exe = next((r.exe for r in listeners if r.exe), None)
        result = reveal_in_file_manager(exe)
        if result.error:
            self.message.emit(result.error)

    def export_rows(self) -> None:
        rows = list(self.rows_provider()) if self.rows_provider is not None else self.selection
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        suggested = str(Path(folder or Path.home()) / "portwatch-listeners.csv")
        path, chosen_filter = QFileDialog.getSaveFileName(
            self.parent_widget, "Export listeners", suggested, EXPORT_FILTERS
        )
        if not path:
            return
        result = export_listeners(rows, path, export_format_for(path, chosen_filter))
        self.exported.emit(result)
        if result.error:
            # Non-modal, so nothing waits on it; nothing was written, the rows stay on screen.
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Export failed",
                result.message(),
                QMessageBox.StandardButton.Close,
                self.parent_widget,
            )
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.export_failed_dialog = box
        self.message.emit(result.message())


def install_actions(
    window: MainWindow,
    *,
    snapshot_provider: Callable[[], Snapshot | None] | None = None,
    labels_provider: Callable[[], Labels] = lambda: NO_LABELS,
    rename: Callable[[RenameTarget], object] | None = None,
    report: Callable[[str], object] | None = None,
) -> tuple[ListenerActions, PortCheckBox]:
    """Wire the actions and the "Is port free?" tab into the main window.

    The window's extension points are used: ``toolbar``, ``listener_view``,
    ``listener_proxy``, ``context_menu_requested``, ``selection_changed``,
    ``add_tab``, ``show_port`` and the status bar. ``report`` gets each line the
    actions say (``ListenerActions.message``); without it they go to the status bar.
    """
    rows_provider = window.listener_proxy.current_listeners
    actions = ListenerActions(window, rows_provider=rows_provider, rename=rename)
    window.listener_view.addActions(actions.shortcut_actions)
    window.listener_tree.addActions(actions.shortcut_actions)
    toolbar = window.toolbar
    toolbar.addSeparator()
    toolbar.addActions(actions.toolbar_actions)
    # They act on the listeners selected or shown, which only that tab shows.
    toolbar.limit_to(actions.toolbar_actions, (LISTENERS_TAB,))
    window.context_menu_requested.connect(actions.populate_menu)
    window.selection_changed.connect(actions.set_selection)
    if report is None:
        status = window.statusBar()
        actions.message.connect(lambda text: status.showMessage(visible(text), MESSAGE_MS))
    else:
        actions.message.connect(report)
    port_check = PortCheckBox(snapshot_provider=snapshot_provider, labels_provider=labels_provider)
    port_check.show_port_requested.connect(window.show_port)
    window.add_tab(port_check, "Is port free?")
    return actions, port_check


__all__ = ["ListenerActions", "install_actions"]
