"""The listener actions and the port check box, offscreen, against real children and sockets."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from portwatch.core.export import ExportResult
from portwatch.core.free import Holder, StopResult
from portwatch.core.http_probe import WebAnswer
from portwatch.core.model import Listener, OwnerUnknown, PortRange
from portwatch.core.naming import Labels
from portwatch.core.scanner import Scanner
from portwatch.ui.free_flow import FreePortFlow
from portwatch.ui.listener_actions import ListenerActions, install_actions
from portwatch.ui.main_window import MainWindow
from portwatch.ui.port_check import ERROR_STYLE, PortCheckBox
from tests.support.factories import listener
from tests.support.prefork import PreforkServer
from tests.support.procs import ListenerProcess, wait_until
from tests.test_http_probe import CountingProber


def scan_port(port: int) -> list[Listener]:
    scanner = Scanner(connection_owners=False)
    try:
        return scanner.scan().on_port(port)
    finally:
        scanner.close()


# The listener most menu tests act on: node on 0.0.0.0:3000, pid 4242.
fake_listener = partial(
    listener,
    port=3000,
    address="0.0.0.0",
    pid=4242,
    process="node",
    cmdline=("node", "dev server.js"),
    user="dev",
    started=None,
    service=None,
    port_range=PortRange.REGISTERED,
)


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    return widget


@pytest.fixture
def child() -> Iterator[ListenerProcess]:
    proc = ListenerProcess(["tcp:127.0.0.1:0"])
    yield proc
    proc.stop()


class DialogAnswerer:
    """Answers each dialog a flow opens, in order, and keeps what they said."""

    def __init__(self, flow: FreePortFlow, answers: list[str]) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, str, str]] = []
        flow.dialog_opened.connect(self.on_dialog)

    def on_dialog(self, box: QMessageBox) -> None:
        self.seen.append((box.windowTitle(), box.text(), box.informativeText()))
        name = self.answers.pop(0) if self.answers else "reject"
        button = box.findChild(QPushButton, name)
        assert button is not None, f"no {name} button on {box.windowTitle()!r}"
        # Answer from the event loop, as a person would, after open() returned.
        QTimer.singleShot(0, button.click)


def run_flow(
    qtbot: QtBot, actions: ListenerActions, answers: list[str]
) -> tuple[StopResult | None, DialogAnswerer]:
    answerers: list[DialogAnswerer] = []
    finished: list[StopResult | None] = []

    def started(flow: FreePortFlow) -> None:
        # Heard from the start: a flow that is refused or cancelled at once may end
        # before a wait for its end could begin.
        flow.finished.connect(finished.append)
        answerers.append(DialogAnswerer(flow, answers))

    actions.flow_started.connect(started)
    actions.free_action.trigger()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    return finished[0], answerers[0]


# --- free ------------------------------------------------------------------------


def test_free_flow_ends_a_real_child(qtbot: QtBot, window: QWidget, child: ListenerProcess) -> None:
    port = child.ports[0]
    actions = ListenerActions(window, terminate_wait=5)
    actions.set_selection(scan_port(port))
    assert actions.free_action.isEnabled()
    messages: list[str] = []
    actions.message.connect(messages.append)
    answers = ["accept"]
    result, answerer = run_flow(qtbot, actions, answers)
    assert result is not None
    assert result.ended == (child.pid,)
    assert not result.force
    title, text, details = answerer.seen[0]
    assert title == f"Free port {port}?"
    assert "End this process" in text
    assert f"PID {child.pid}" in details
    assert "listener_child.py" in details  # the full command line
    assert "user " in details
    # Our own child, root's or not, is no system service: asked once.
    assert len(answerer.seen) == 1
    assert wait_until(lambda: child.proc.poll() is not None, 5)
    assert scan_port(port) == []
    # Checked again after the end: free, and nothing took it back.
    assert any("ended" in m and m.endswith(f"Port {port} is free now.") for m in messages)
    assert actions.flow is None


def test_free_flow_offers_force_kill_for_a_stubborn_child(qtbot: QtBot, window: QWidget) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as stubborn:
        actions = ListenerActions(window, terminate_wait=0.5)
        actions.set_selection(scan_port(stubborn.ports[0]))
        confirmations = ["accept"]
        result, answerer = run_flow(qtbot, actions, [*confirmations, "accept"])
        assert answerer.seen[-1][0] == "Still running"
        assert result is not None
        assert result.force
        assert result.ended == (stubborn.pid,)
        assert wait_until(lambda: stubborn.proc.poll() is not None, 5)


def test_leaving_a_stubborn_child_running(qtbot: QtBot, window: QWidget) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as stubborn:
        actions = ListenerActions(window, terminate_wait=0.3)
        actions.set_selection(scan_port(stubborn.ports[0]))
        confirmations = ["accept"]
        result, _ = run_flow(qtbot, actions, [*confirmations, "reject"])
        assert result is not None
        assert result.alive == (stubborn.pid,)
        assert stubborn.proc.poll() is None


def test_cancel_keeps_the_process(qtbot: QtBot, window: QWidget, child: ListenerProcess) -> None:
    actions = ListenerActions(window)
    actions.set_selection(scan_port(child.ports[0]))
    result, answerer = run_flow(qtbot, actions, ["reject"])
    assert result is None
    assert len(answerer.seen) == 1
    assert child.proc.poll() is None


def test_pid_1_is_refused_with_an_explanation(qtbot: QtBot, window: QWidget) -> None:
    actions = ListenerActions(window)
    actions.set_selection([fake_listener(pid=1, process="systemd", user="root")])
    result, answerer = run_flow(qtbot, actions, ["reject"])
    assert result is None
    title, _text, details = answerer.seen[0]
    assert title == "Cannot free port 3000"
    assert "init" in details
    assert psutil.pid_exists(1)


def test_hidden_owner_explains_how_to_use_privileges(qtbot: QtBot, window: QWidget) -> None:
    actions = ListenerActions(window)
    actions.set_selection(
        [fake_listener(pid=None, process=None, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES)]
    )
    assert actions.free_action.isEnabled()
    result, answerer = run_flow(qtbot, actions, ["reject"])
    assert result is None
    assert "sudo portwatch free 3000" in answerer.seen[0][2]


def test_permission_refused_shows_how_to_do_it_with_privileges(
    qtbot: QtBot, window: QWidget, child: ListenerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OS refusal itself is tested as nobody in tests/test_actions.py; a
    # Qt app cannot run as nobody here, so the refusal is handed to the flow.
    def refused(holders: list[Holder], **_options: object) -> StopResult:
        return StopResult(force=False, denied=tuple(h.pid for h in holders), port=child.ports[0])

    monkeypatch.setattr("portwatch.ui.free_flow.stop_processes", refused)
    actions = ListenerActions(window)
    actions.set_selection(scan_port(child.ports[0]))
    confirmations = ["accept"]
    result, answerer = run_flow(qtbot, actions, [*confirmations, "reject"])
    assert result is not None
    assert result.denied == (child.pid,)
    title, text, details = answerer.seen[-1]
    assert title == "Could not free the port"
    assert "refused" in text
    assert f"sudo portwatch free {child.ports[0]}" in details
    assert child.proc.poll() is None


def test_free_is_disabled_without_an_owner(window: QWidget) -> None:
    actions = ListenerActions(window)
    actions.set_selection([fake_listener(pid=None, process=None, exe=None, cmdline=None)])
    assert not actions.free_action.isEnabled()
    assert not actions.copy_pid_action.isEnabled()
    assert not actions.reveal_action.isEnabled()
    assert actions.copy_endpoint_action.isEnabled()


# --- open, copy, menu ----------------------------------------------------------------


def test_open_in_browser_uses_the_bound_host(
    qtbot: QtBot, window: QWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def fake_open(url: QUrl) -> bool:
        opened.append(url.toString())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(fake_open))
    prober = CountingProber(WebAnswer.YES)  # both serve web pages
    actions = ListenerActions(window, prober=prober)
    actions.set_selection(
        [
            fake_listener(address="0.0.0.0", port=3000),
            fake_listener(address="::1", family=6, port=8443),
            fake_listener(address="127.0.0.1", port=5353, proto="udp"),
        ]
    )
    qtbot.waitUntil(actions.open_action.isEnabled, timeout=5000)
    assert sorted(prober.calls) == [("127.0.0.1", 3000), ("::1", 8443)]
    actions.open_action.trigger()
    assert opened == ["http://localhost:3000/", "https://[::1]:8443/"]
    actions.set_selection([fake_listener(proto="udp")])
    assert not actions.open_action.isEnabled()


def test_copy_actions_fill_the_clipboard(window: QWidget) -> None:
    actions = ListenerActions(window)
    row = fake_listener(address="127.0.0.1", port=5173, user="nobody-else")
    actions.set_selection([row])
    clipboard = QGuiApplication.clipboard()
    actions.copy_endpoint_action.trigger()
    assert clipboard.text() == "127.0.0.1:5173"
    actions.copy_pid_action.trigger()
    assert clipboard.text() == "4242"
    actions.copy_command_action.trigger()
    assert clipboard.text() == "node 'dev server.js'"
    actions.copy_kill_action.trigger()
    assert clipboard.text() == "sudo kill 4242"
    actions.copy_row_action.trigger()
    assert clipboard.text().split("\t")[:3] == ["tcp4", "127.0.0.1", "5173"]


def test_ctrl_c_copies_the_row_and_delete_frees(qtbot: QtBot, window: QWidget) -> None:
    actions = ListenerActions(window)
    table = QTableView(window)
    # As the main window does: the shortcuts live on the listeners table.
    table.addActions(actions.shortcut_actions)
    actions.set_selection([fake_listener(pid=1, process="init")])
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is table, timeout=2000)
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text().startswith("tcp4\t0.0.0.0\t3000")
    with qtbot.waitSignal(actions.flow_started, timeout=2000) as started:
        qtbot.keyClick(table, Qt.Key.Key_Delete)
    flow: FreePortFlow = started.args[0]
    assert flow.dialog is not None
    with qtbot.waitSignal(flow.finished, timeout=2000):
        close = flow.dialog.findChild(QPushButton, "reject")
        assert close is not None
        close.click()


def test_populate_menu_binds_its_actions_to_the_rows_given(
    qtbot: QtBot, window: QWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toString())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(open_url))
    actions = ListenerActions(window, rows_provider=list, prober=CountingProber(WebAnswer.YES))
    menu = QMenu(window)
    menu.addAction("Details")
    row = fake_listener(address="127.0.0.1", port=5173)
    actions.populate_menu(menu, [row])
    texts = [a.text().split("\t")[0] for a in menu.actions()]
    assert texts == [
        "Details",
        "",
        "Free port…",
        "Open in browser",
        "Copy",
        "Reveal executable",
        "",
        "Export…",
    ]
    assert menu.actions()[2].text().endswith("\tDel")
    # The selection moves on (a scan, a click) while the menu is open: the
    # menu still acts on the row it was opened for.
    actions.set_selection([fake_listener(port=9999)])
    by_text = {a.text().split("\t")[0]: a for a in menu.actions()}
    menu.aboutToShow.emit()  # its sockets are checked as it opens
    qtbot.waitUntil(by_text["Open in browser"].isEnabled, timeout=5000)
    by_text["Open in browser"].trigger()
    assert opened == ["http://127.0.0.1:5173/"]
    copy_menu = by_text["Copy"].menu()
    assert isinstance(copy_menu, QMenu)  # the stubs say QObject
    copy_items = {a.text().split("\t")[0]: a for a in copy_menu.actions()}
    assert list(copy_items) == [
        "address:port",
        "PID",
        "Command line",
        "Row as text",
        "Command to free the port",
    ]
    copy_items["address:port"].trigger()
    assert QGuiApplication.clipboard().text() == "127.0.0.1:5173"
    copy_items["PID"].trigger()
    assert QGuiApplication.clipboard().text() == "4242"


def test_populate_menu_disables_what_the_rows_cannot_do(window: QWidget) -> None:
    actions = ListenerActions(window)
    menu = QMenu(window)
    actions.populate_menu(menu, [fake_listener(proto="udp", pid=None, exe=None, cmdline=None)])
    state = {a.text().split("\t")[0]: a.isEnabled() for a in menu.actions() if a.text()}
    assert state == {
        "Free port…": False,
        "Open in browser": False,
        "Copy": True,
        "Reveal executable": False,
        "Export…": False,
    }


# --- export ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "chosen"), [("table", "JSON (*.json)"), ("t.csv", "")])
def test_export_writes_the_rows_given(
    qtbot: QtBot,
    window: QWidget,
    child: ListenerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    chosen: str,
) -> None:
    rows = [*scan_port(child.ports[0]), fake_listener(pid=None, process=None)]
    target = tmp_path / name

    def fake_dialog(*_args: object, **_kwargs: object) -> tuple[str, str]:
        return str(target), chosen or "CSV (*.csv)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_dialog))
    actions = ListenerActions(window, rows_provider=lambda: rows)
    assert actions.export_action.isEnabled()
    with qtbot.waitSignal(actions.exported, timeout=2000) as done:
        actions.export_action.trigger()
    result: ExportResult = done.args[0]
    assert result.error is None
    if chosen:
        assert result.path == tmp_path / "table.json"
        data = json.loads(result.path.read_text())
        assert [(d["port"], d["pid"], d["address"], d["proto"]) for d in data] == [
            (r.port, r.pid, r.address, r.proto) for r in rows
        ]
        assert data[0]["cmdline"] == list(rows[0].cmdline or [])
    else:
        parsed = list(csv.DictReader(io.StringIO(result.path.read_text())))
        assert [(r["port"], r["pid"], r["process"]) for r in parsed] == [
            (str(r.port), str(r.pid) if r.pid else "", r.process or "") for r in rows
        ]


def test_export_cancelled_writes_nothing(
    window: QWidget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *_args, **_kwargs: ("", ""))
    )
    actions = ListenerActions(window, rows_provider=lambda: [fake_listener()])
    actions.export_action.trigger()
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


# --- port check box ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [("0", "out of range"), ("70000", "out of range"), ("abc", "not a port number"), ("", "Enter")],
)
def test_port_check_rejects_bad_input_inline(
    qtbot: QtBot, window: QWidget, text: str, message: str
) -> None:
    box = PortCheckBox(window)
    box.port_edit.setText(text)
    with qtbot.waitSignal(box.invalid, timeout=1000):
        box.check_button.click()
    assert message in box.answer_label.text()
    assert box.answer_label.styleSheet() == ERROR_STYLE
    assert box.last_check is None


def test_port_check_names_the_holder_and_suggests(
    qtbot: QtBot, window: QWidget, child: ListenerProcess
) -> None:
    port = child.ports[0]
    # The user's name for the port is how the answer names its holder.
    box = PortCheckBox(window, labels_provider=lambda: Labels(ports={port: "Shop frontend"}))
    box.port_edit.setText(str(port))
    with qtbot.waitSignal(box.answered, timeout=10000) as done:
        qtbot.keyClick(box.port_edit, Qt.Key.Key_Return)
    check = done.args[0]
    assert not check.free
    assert box.answer_label.text().startswith(
        f"TCP port {port} is in use by Shop frontend (PID {child.pid}) on 127.0.0.1:{port}."
    )
    # The other protocol is said too.
    assert box.answer_label.text().endswith(f"UDP port {port} is free.")
    assert "Nearest free port:" in box.answer_label.text()
    assert check.suggestion.port > port
    assert not box.show_button.isHidden()
    assert box.copy_suggestion_button.text() == f"Copy {check.suggestion.port}"
    box.copy_suggestion_button.click()
    assert QGuiApplication.clipboard().text() == str(check.suggestion.port)
    with qtbot.waitSignal(box.show_port_requested, timeout=1000) as shown:
        box.show_button.click()
    assert shown.args == [port]


def test_port_check_says_free(qtbot: QtBot, window: QWidget) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = PortCheckBox(window, snapshot_provider=lambda: None)
    box.port_edit.setText(str(port))
    with qtbot.waitSignal(box.answered, timeout=10000):
        box.check_button.click()
    assert box.answer_label.text() == f"Port {port} is free (TCP and UDP)."
    assert box.show_button.isHidden()
    assert box.copy_suggestion_button.isHidden()


# --- wired into the real main window ----------------------------------------------------


@pytest.fixture
def main_window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def test_install_actions_into_the_main_window(
    qtbot: QtBot,
    main_window: MainWindow,
    child: ListenerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanner = Scanner(connection_owners=False)
    snap = scanner.scan()
    scanner.close()
    actions, port_check = install_actions(main_window, snapshot_provider=lambda: snap)
    main_window.apply_snapshot(snap)
    port = child.ports[0]
    tabs = main_window.tabs
    assert "Is port free?" in [tabs.tabText(i) for i in range(tabs.count())]
    assert actions.free_action in main_window.toolbar.actions()
    assert actions.export_action in main_window.toolbar.actions()

    # The search narrows the table to the child's port; selecting the row feeds the actions.
    main_window.show_port(port)
    view = main_window.listener_view
    qtbot.waitUntil(lambda: main_window.listener_proxy.rowCount() == 1, timeout=3000)
    view.selectRow(0)
    assert [r.pid for r in actions.selection] == [child.pid]
    assert actions.free_action.isEnabled()

    # Ctrl+C on the table copies the row.
    main_window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is main_window, timeout=2000)
    view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view, timeout=2000)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert f"\t{port}\t" in QGuiApplication.clipboard().text()

    # Export writes what the table shows (one row, after the search).
    target = tmp_path / "shown.json"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *_args, **_kwargs: (str(target), "JSON")),
    )
    with qtbot.waitSignal(actions.exported, timeout=2000):
        actions.export_action.trigger()
    assert [(d["port"], d["pid"]) for d in json.loads(target.read_text())] == [(port, child.pid)]
    assert "Exported 1 rows" in main_window.statusBar().currentMessage()

    # The context menu gets the actions, bound to the selected row.
    seen: list[list[str]] = []

    def look(menu: QMenu, _listeners: list[Listener]) -> None:
        seen.append([a.text().split("\t")[0] for a in menu.actions()])
        QTimer.singleShot(0, menu.close)

    main_window.context_menu_requested.connect(look)
    # What Qt sends on a right click over the first row.
    view.customContextMenuRequested.emit(
        view.visualRect(main_window.listener_proxy.index(0, 0)).center()
    )
    assert seen
    assert "Free port…" in seen[0]
    assert "Export…" in seen[0]

    # The port box names the child and its button shows the port in the table.
    port_check.port_edit.setText(str(port))
    with qtbot.waitSignal(port_check.answered, timeout=10000):
        port_check.check_button.click()
    assert f"PID {child.pid}" in port_check.answer_label.text()
    main_window.search.clear()
    port_check.show_button.click()
    assert main_window.search.text() == str(port)


def test_a_second_free_while_waiting_does_not_stack(qtbot: QtBot, window: QWidget) -> None:
    with ListenerProcess(["tcp:127.0.0.1:0"], ignore_term=True) as stubborn:
        actions = ListenerActions(window, terminate_wait=1.0)
        actions.set_selection(scan_port(stubborn.ports[0]))
        messages: list[str] = []
        actions.message.connect(messages.append)
        flows: list[FreePortFlow] = []
        actions.flow_started.connect(flows.append)
        actions.free_action.trigger()
        flow = flows[0]
        # Accept every confirmation by hand until the wait starts.
        while flow.dialog is not None:
            box = flow.dialog
            accept = box.findChild(QPushButton, "accept")
            assert accept is not None
            accept.click()
        assert any("waiting up to 1 s" in m for m in messages)
        actions.free_action.trigger()  # while the terminate wait runs
        assert flows == [flow]
        assert "Still waiting" in messages[-1]
        with qtbot.waitSignal(flow.dialog_opened, timeout=10000) as offered:
            pass
        assert offered.args[0].windowTitle() == "Still running"
        with qtbot.waitSignal(flow.finished, timeout=10000):
            reject = offered.args[0].findChild(QPushButton, "reject")
            assert reject is not None
            reject.click()
        assert stubborn.proc.poll() is None


def test_freeing_a_pre_fork_server_ends_its_master_and_names_its_workers(
    qtbot: QtBot, window: QWidget
) -> None:
    with PreforkServer(("127.0.0.1",), workers=2) as server:
        port = server.ports[0]
        scanner = Scanner(connection_owners=False)
        try:
            assert wait_until(
                lambda: {p for r in scanner.scan().on_port(port) for p in r.pids} == server.holders,
                timeout=10,
            )
        finally:
            scanner.close()
        name = psutil.Process(server.pid).name()
        actions = ListenerActions(window, terminate_wait=5)
        actions.set_selection(scan_port(port))
        answers = ["accept"]
        result, answerer = run_flow(qtbot, actions, answers)
        _title, text, details = answerer.seen[0]
        assert text == f"End {name} (PID {server.pid}) and its 2 workers to free port {port}?"
        workers = ", ".join(str(pid) for pid in sorted(server.workers))
        assert f"with 2 workers (PID {workers}), which end with it" in details
        # The master alone was ended; its workers went with it.
        assert result is not None
        assert result.ended == (server.pid,)
        assert wait_until(lambda: scan_port(port) == [], timeout=10)


def test_a_rewritten_title_leaves_no_empty_arguments_in_the_confirmation() -> None:
    from portwatch.core.free import plan_free

    worker = fake_listener(pid=41, process="nginx", cmdline=("nginx: worker process", "", ""))
    [holder] = plan_free([worker]).holders
    assert holder.command_text == "'nginx: worker process'"
