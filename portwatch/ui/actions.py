"""Actions on the selected listeners: free, open in a browser, copy, reveal, export.

``ListenerActions`` owns the QActions; the window adds them to its toolbar and
context menu (``populate_menu``) and feeds it the selection. Freeing a port is
a small state machine of non-modal dialogs (``FreePortFlow``) so the window
keeps updating while a process takes its time to exit; the wait itself runs
on Qt's thread pool, never on the UI thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRunnable, QStandardPaths, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QFileDialog, QMenu, QMessageBox, QWidget

from portwatch.core.browser import browser_url
from portwatch.core.copytext import (
    command_lines_text,
    endpoints_text,
    kill_command,
    pids_text,
    rows_text,
)
from portwatch.core.export import export_format_for, export_listeners
from portwatch.core.free import (
    KILL_WAIT_SECONDS,
    TERMINATE_WAIT_SECONDS,
    FreePlan,
    Holder,
    StopResult,
    plan_free,
    stop_processes,
)
from portwatch.core.model import Listener, OwnerUnknown, Snapshot
from portwatch.core.reveal import reveal_in_file_manager
from portwatch.core.safetext import visible, visible_lines

if TYPE_CHECKING:
    from portwatch.ui.port_check import PortCheckBox

log = logging.getLogger(__name__)

EXPORT_FILTERS = "CSV (*.csv);;JSON (*.json)"
# More tabs than this from one click is a mistake, not a wish.
MAX_BROWSER_TABS = 5


class _Relay(QObject):
    """Carries a pool task's result back to the UI thread (queued by Qt)."""

    done = Signal(object)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.work = work
        self.relay = relay

    def run(self) -> None:
        result = self.work()
        try:
            self.relay.done.emit(result)
        except RuntimeError:
            # The window that asked was closed meanwhile: nobody waits for the answer.
            log.debug("a pool task finished after its owner was deleted")


def run_in_pool(owner: QObject, work: Callable[[], object], done: Callable[[Any], None]) -> None:
    """Run ``work`` on the global thread pool and call ``done(result)`` on the UI thread."""
    relay = _Relay(owner)

    def finish(result: object) -> None:
        relay.deleteLater()
        done(result)

    relay.done.connect(finish, Qt.ConnectionType.QueuedConnection)
    QThreadPool.globalInstance().start(_Task(work, relay))


def describe_holder(holder: Holder) -> str:
    # Each line visible (escapes for control and bidi characters, "\n" in a command line).
    lines = [
        visible(holder.name or "unknown process"),
        f"    PID {holder.pid}   user {visible(holder.user or 'unknown')}",
    ]
    sockets = ", ".join(f"{row.proto} {row.endpoint}" for row in holder.listeners)
    if sockets:
        lines.append(f"    holds {sockets}")
    if holder.command_text:
        lines.append(f"    {visible(holder.command_text)}")
    return "\n".join(lines)


class FreePortFlow(QObject):
    """Confirm → (confirm again) → terminate → wait → (offer force kill) → report.

    Every dialog is opened non-modally with ``open()`` and announced through
    ``dialog_opened`` so a test (or the window) can see and answer it.
    """

    dialog_opened = Signal(QMessageBox)
    message = Signal(str)  # one line for the status bar
    finished = Signal(object)  # the last StopResult, or None when nothing was ended

    def __init__(
        self,
        parent_widget: QWidget,
        listeners: Sequence[Listener],
        *,
        terminate_wait: float = TERMINATE_WAIT_SECONDS,
    ) -> None:
        super().__init__(parent_widget)
        self.parent_widget = parent_widget
        self.listeners = list(listeners)
        self.terminate_wait = terminate_wait
        self.plan: FreePlan | None = None
        self.dialog: QMessageBox | None = None
        self.results: list[StopResult] = []
        self._pending_second: list[Holder] = []

    # --- steps ----------------------------------------------------------------

    def start(self) -> None:
        self.plan = plan = plan_free(self.listeners)
        port_text = f"port {plan.port}" if plan.port is not None else "these ports"
        if not plan.allowed:
            problems = plan.problems() or ["No process owns the selected sockets."]
            self._show(
                QMessageBox.Icon.Warning,
                f"Cannot free {port_text}",
                f"portwatch will not end anything to free {port_text}.",
                "\n\n".join(problems),
                accept=None,
                reject="Close",
                on_answer=lambda _yes: self._finish(None),
            )
            return
        count = len(plan.allowed)
        text = (
            f"End {'this process' if count == 1 else f'these {count} processes'} "
            f"to free {port_text}?"
        )
        details = "\n\n".join(describe_holder(h) for h in plan.allowed)
        problems = plan.problems()
        if problems:
            details += "\n\n" + "\n".join(problems)
        details += "\n\nThey are asked to terminate first, so they can shut down cleanly."
        self._show(
            QMessageBox.Icon.Question,
            f"Free {port_text}?",
            text,
            details,
            accept="End process" if count == 1 else "End processes",
            reject="Cancel",
            on_answer=self._confirmed,
        )

    def _confirmed(self, yes: bool) -> None:
        if not yes:
            self._cancelled()
            return
        assert self.plan is not None
        self._pending_second = list(self.plan.needs_second_confirmation)
        self._next_second_confirmation()

    def _next_second_confirmation(self) -> None:
        if not self._pending_second:
            self._terminate()
            return
        holder = self._pending_second[0]
        self._show(
            QMessageBox.Icon.Warning,
            "Really end it?",
            f"{holder.label}: {holder.second_confirmation}.",
            "Ending a system service or another user's program can break things "
            "that rely on it.\n\n" + describe_holder(holder),
            accept="End it anyway",
            reject="Cancel",
            on_answer=self._second_answered,
        )

    def _second_answered(self, yes: bool) -> None:
        if not yes:
            self._cancelled()
            return
        self._pending_second.pop(0)
        self._next_second_confirmation()

    def _terminate(self) -> None:
        assert self.plan is not None
        holders, port, wait = self.plan.allowed, self.plan.port, self.terminate_wait
        self.message.emit(
            f"Asked {_labels(holders)} to terminate; waiting up to {wait:g} s for it to exit…"
        )
        run_in_pool(
            self,
            lambda: stop_processes(holders, timeout=wait, port=port),
            self._terminated,
        )

    def _terminated(self, result: StopResult) -> None:
        self.results.append(result)
        if not result.alive:
            self._report(result)
            return
        assert self.plan is not None
        stuck = [h for h in self.plan.allowed if h.pid in result.alive]
        self._show(
            QMessageBox.Icon.Warning,
            "Still running",
            f"{_labels(stuck)} did not exit within {self.terminate_wait:g} s.",
            "Force kill ends it at once, without a chance to save or clean up.",
            accept="Force kill",
            reject="Leave it running",
            on_answer=lambda yes: self._force(stuck) if yes else self._report(result),
        )

    def _force(self, stuck: list[Holder]) -> None:
        assert self.plan is not None
        port = self.plan.port
        run_in_pool(
            self,
            lambda: stop_processes(stuck, force=True, timeout=KILL_WAIT_SECONDS, port=port),
            self._killed,
        )

    def _killed(self, result: StopResult) -> None:
        self.results.append(result)
        self._report(result)

    def _report(self, result: StopResult) -> None:
        if result.denied or result.errors or result.refused:
            self._show(
                QMessageBox.Icon.Critical,
                "Could not free the port",
                "The operating system refused to end the process."
                if result.denied
                else "Some processes could not be ended.",
                result.message(),
                accept=None,
                reject="Close",
                on_answer=lambda _yes: self._finish(result),
            )
            return
        self._finish(result)

    def _cancelled(self) -> None:
        self.message.emit("Cancelled: nothing was ended.")
        self._finish(None)

    def _finish(self, result: StopResult | None) -> None:
        if result is not None:
            text = result.message()
            if not result.alive:
                text += " The table shows the result on the next scan."
            self.message.emit(text)
        self.dialog = None
        self.finished.emit(result)

    # --- dialogs --------------------------------------------------------------

    def _show(
        self,
        icon: QMessageBox.Icon,
        title: str,
        text: str,
        details: str,
        *,
        accept: str | None,
        reject: str,
        on_answer: Callable[[bool], None],
    ) -> None:
        box = QMessageBox(icon, title, visible_lines(text), QMessageBox.StandardButton.NoButton)
        box.setParent(self.parent_widget, box.windowFlags())
        box.setTextFormat(Qt.TextFormat.PlainText)  # the informative text follows it
        box.setInformativeText(visible_lines(details))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        yes_button = None
        if accept is not None:
            yes_button = box.addButton(accept, QMessageBox.ButtonRole.AcceptRole)
            yes_button.setObjectName("accept")
        no_button = box.addButton(reject, QMessageBox.ButtonRole.RejectRole)
        no_button.setObjectName("reject")
        box.setDefaultButton(no_button)
        box.setEscapeButton(no_button)
        answered = False

        def answer(button: QAbstractButton | None) -> None:
            nonlocal answered
            if answered:
                return
            answered = True
            # The box deletes itself on close; forget it before the next step opens another.
            self.dialog = None
            on_answer(button is not None and button is yes_button)

        box.buttonClicked.connect(answer)
        # Closing the window (Esc, the title bar) counts as "no".
        box.finished.connect(lambda _code: answer(box.clickedButton()))
        self.dialog = box
        box.open()
        self.dialog_opened.emit(box)


def _labels(holders: Sequence[Holder]) -> str:
    return ", ".join(h.label for h in holders)


# The entries of the Copy submenu: (key, label, what the status bar calls it).
COPY_KINDS = (
    ("endpoint", "address:port", "address:port"),
    ("pid", "PID", "PID"),
    ("command", "Command line", "command line"),
    ("row", "Row as text", "rows"),
    ("kill", "Command to free the port", "command to free the port"),
)


def copy_text(kind: str, listeners: Sequence[Listener]) -> str:
    if kind == "endpoint":
        return endpoints_text(listeners)
    if kind == "pid":
        return pids_text(listeners)
    if kind == "command":
        return command_lines_text(listeners)
    if kind == "row":
        return rows_text(listeners, header=len(listeners) > 1)
    if kind == "kill":
        return kill_command(listeners) or ""
    raise ValueError(f"unknown copy kind {kind!r}")


def enabled_for(listeners: Sequence[Listener]) -> dict[str, bool]:
    """Which actions make sense for these rows (keys: free, open, reveal, copy kinds)."""
    has_pid = any(r.pid is not None for r in listeners)
    hidden = any(r.owner_unknown is OwnerUnknown.NEEDS_PRIVILEGES for r in listeners)
    return {
        # Rows with hidden owners keep Free enabled: the dialog says how to use sudo.
        "free": has_pid or hidden,
        "open": any(r.proto == "tcp" for r in listeners),
        "reveal": any(r.exe for r in listeners),
        "copy": bool(listeners),
        "endpoint": bool(listeners),
        "pid": has_pid,
        "command": any(r.cmdline for r in listeners),
        "row": bool(listeners),
        "kill": has_pid,
    }


class ListenerActions(QObject):
    """The actions on listeners: shared QActions for the selection, menus for given rows.

    The shared actions (``free_action``, ``open_action``, ``copy_*_action``,
    ``reveal_action``, ``export_action``) follow ``set_selection`` and belong in
    the toolbar and on the table (Delete, Ctrl+C). ``populate_menu`` adds fresh
    actions bound to the rows it is given, so a scan that changes the
    selection while a menu is open cannot retarget them.

    ``rows_provider`` returns the rows the table shows now (after search and
    filters): Export writes those. ``terminate_wait`` is how long a graceful
    terminate gets before Force kill is offered.
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
    ) -> None:
        super().__init__(parent)
        self.parent_widget = parent
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
        self.export_action.setToolTip("Save the table as shown (search and filters) to CSV or JSON")
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
        self.open_action.setEnabled(enabled["open"])
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
        add(menu, "Open in browser", "open", lambda: self.open_in_browser(rows))
        copy_menu = menu.addMenu("Copy")
        copy_menu.setEnabled(enabled["copy"])
        copy_key = QKeySequence(QKeySequence.StandardKey.Copy).toString(
            QKeySequence.SequenceFormat.NativeText
        )
        for kind, label, _what in COPY_KINDS:
            text = f"{label}\t{copy_key}" if kind == "row" else label
            add(copy_menu, text, kind, functools.partial(self.copy, kind, rows))
        add(menu, "Reveal executable", "reveal", lambda: self.reveal(rows))
        menu.addSeparator()
        export = add(menu, "Export…", "export", self.export_rows)
        export.setEnabled(self.export_action.isEnabled())

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
        urls = list(dict.fromkeys(u for u in map(browser_url, listeners) if u))
        for url in urls[:MAX_BROWSER_TABS]:
            if QDesktopServices.openUrl(QUrl(url)):
                self.browser_opened.emit(url)
                self.message.emit(f"Opened {url}")
            else:
                self.message.emit(f"No browser could open {url}")

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
    window: Any,
    *,
    snapshot_provider: Callable[[], Snapshot | None] | None = None,
) -> tuple[ListenerActions, PortCheckBox]:
    """Wire the actions and the "Is port free?" tab into the main window.

    ``window`` is a ``MainWindow``; its extension points are used:
    ``toolbar``, ``listener_view``, ``listener_proxy``, ``context_menu_requested``,
    ``selection_changed``, ``add_tab``, ``show_port`` and the status bar. (Typed
    loosely: this module must not import the window, which is built on it.)
    """
    from portwatch.ui.port_check import PortCheckBox

    proxy = window.listener_proxy

    def visible_rows() -> list[Listener]:
        return [proxy.listener_at(proxy.index(row, 0)) for row in range(proxy.rowCount())]

    actions = ListenerActions(window, rows_provider=visible_rows)
    window.listener_view.addActions(actions.shortcut_actions)
    toolbar = window.toolbar
    toolbar.addSeparator()
    toolbar.addActions(actions.toolbar_actions)
    window.context_menu_requested.connect(actions.populate_menu)
    window.selection_changed.connect(actions.set_selection)
    status = window.statusBar()
    actions.message.connect(lambda text: status.showMessage(visible(text), 10000))
    port_check = PortCheckBox(snapshot_provider=snapshot_provider)
    port_check.show_port_requested.connect(window.show_port)
    window.add_tab(port_check, "Is port free?")
    return actions, port_check


__all__ = ["FreePortFlow", "ListenerActions", "install_actions", "run_in_pool"]
