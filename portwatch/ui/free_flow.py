"""Freeing a port: confirm, terminate, wait, offer a force kill, report.

A small state machine of non-modal dialogs, so the window keeps updating
while a process takes its time to exit; the wait itself runs on the thread
pool, never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from portwatch.core.free import (
    KILL_WAIT_SECONDS,
    TERMINATE_WAIT_SECONDS,
    FreePlan,
    Holder,
    StopResult,
    plan_free,
    stop_processes,
)
from portwatch.core.free.recheck import RESTART_GRACE, Recheck, recheck
from portwatch.core.model import Listener
from portwatch.core.safetext import visible, visible_lines
from portwatch.core.scanner import Scanner
from portwatch.ui.thread_pool import run_in_pool


def _recheck(port: int, before: set[int], grace: float) -> Recheck:
    scanner = Scanner(connection_owners=False)
    try:
        return recheck(port, before, scanner, grace)
    finally:
        scanner.close()


def describe_holder(holder: Holder) -> str:
    # Each line visible (escapes for control and bidi characters, "\n" in a command line).
    lines = [
        visible(holder.name or "unknown process"),
        f"    PID {holder.pid}   user {visible(holder.user or 'unknown')}",
    ]
    sockets = ", ".join(f"{row.proto} {row.endpoint}" for row in holder.listeners)
    if sockets:
        lines.append(f"    holds {sockets}")
    workers = holder.workers
    if workers:
        pids = ", ".join(str(pid) for pid in workers)
        what = "worker" if len(workers) == 1 else "workers"
        lines.append(f"    with {len(workers)} {what} (PID {pids}), which end with it")
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
        restart_grace: float = RESTART_GRACE,
    ) -> None:
        super().__init__(parent_widget)
        self.restart_grace = restart_grace
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
        text = f"End {_whom(plan.allowed)} to free {port_text}?"
        count = len(plan.allowed)
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
        port = self.plan.port if self.plan is not None else None
        if result is not None and result.ended and not result.alive and port is not None:
            # Free, or taken again by whatever restarts the server: scanned on the pool.
            before = {pid for row in self.listeners for pid in row.holder_pids}
            grace = self.restart_grace
            run_in_pool(
                self, lambda: _recheck(port, before, grace), partial(self._rechecked, result)
            )
            return
        if result is not None:
            self.message.emit(result.message())
        self._end(result)

    def _rechecked(self, result: StopResult, check: Recheck) -> None:
        self.message.emit(f"{result.message()} {check.message()}")
        if check.again:
            self._show(
                QMessageBox.Icon.Warning,
                f"Port {check.port} was taken again",
                check.message(),
                "Ending the new process would only start it once more.",
                accept=None,
                reject="Close",
                on_answer=lambda _yes: self._end(result),
            )
            return
        self._end(result)

    def _end(self, result: StopResult | None) -> None:
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


def _whom(holders: Sequence[Holder]) -> str:
    """'this process', 'nginx (PID 40) and its 2 workers', 'these 3 processes'."""
    if len(holders) > 1:
        return f"these {len(holders)} processes"
    workers = len(holders[0].workers)
    if not workers:
        return "this process"
    return f"{holders[0].label} and its {workers} worker{'s' if workers != 1 else ''}"


def _labels(holders: Sequence[Holder]) -> str:
    return ", ".join(h.label for h in holders)
