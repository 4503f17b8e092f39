"""Alerts list and the alerts controller on a real app (offscreen); the History tab:
test_history_view.py."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from portwatch.core import paths
from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.alerts.texts import summarize
from portwatch.core.history import HistoryReader, HistoryRecorder
from portwatch.core.model import Listener, OwnerUnknown, Snapshot
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import NotificationStyle, Settings, WatchedPort, save_settings
from portwatch.notify.probe import describe_connection
from portwatch.notify.sender import Notifier
from portwatch.ui.alerts_view import KIND_LOOKS, AlertsModel, AlertsView
from portwatch.ui.app import PortwatchApp
from tests.support.factories import listener
from tests.support.history_lock import history_locked
from tests.support.notify_stub import StubServer, private_bus
from tests.support.procs import wait_until
from tests.ui.composed import built_apps, feed, settle


def alert(port: int, title: str = "Port in use", **fields: object) -> Alert:
    base: dict[str, object] = {
        "kind": AlertKind.OCCUPIED,
        "at": time.time(),
        "title": f"{title} {port}",
        "body": f"node (PID 1) listens on 127.0.0.1:{port}",
        "port": port,
        "proto": "tcp",
        "process": "node",
        "pid": 1,
    }
    base.update(fields)
    # A test's overrides of any field: one dict of mixed types, checked by Alert itself.
    return Alert(**base)  # type: ignore[arg-type]


def snap(*rows: Listener) -> Snapshot:
    return Snapshot(time.time(), 0.01, tuple(rows), backend="test")


# --- the Alerts list ---


def test_alerts_model_inserts_newest_first_and_trims(
    qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    model = AlertsModel(max_rows=3)
    with qtbot.waitSignal(model.rowsInserted):
        model.add_alert(alert(3000))
    for port in (3001, 3002, 3003):
        model.add_alert(alert(port))
    assert [a.port for a in model.alerts()] == [3003, 3002, 3001]
    assert model.data(model.index(0, AlertsModel.PORT)) == "3003"
    assert model.data(model.index(0, AlertsModel.PROCESS)) == "node (PID 1)"
    what = model.data(model.index(0, AlertsModel.WHAT))
    assert what == "Port in use 3003 — node (PID 1) listens on 127.0.0.1:3003"
    qtmodeltester.check(model)
    model.clear()
    assert model.rowCount() == 0


@pytest.mark.usefixtures("qtbot")
def test_alerts_model_marks_quiet_and_critical() -> None:
    model = AlertsModel()
    model.add_alert(alert(1, suppressed=True, notify=False))
    model.add_alert(alert(2, urgency=Urgency.CRITICAL))
    model.add_alert(alert(3, kind=AlertKind.SUMMARY, ports=(3, 4, 5)))
    assert model.data(model.index(0, AlertsModel.PORT)) == "3 +2"
    assert model.data(model.index(1, 0), Qt.ItemDataRole.ForegroundRole) is not None
    tip = model.data(model.index(2, 0), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("(not notified: quiet period)")


@pytest.mark.usefixtures("qtbot")
def test_alerts_are_coloured_by_kind_and_only_a_broken_rule_is_red() -> None:
    model = AlertsModel()
    model.add_alert(alert(8000, kind=AlertKind.EXPOSED))
    model.add_alert(alert(3000, kind=AlertKind.FREED))
    model.add_alert(alert(5432, kind=AlertKind.EXPOSURE_POLICY, urgency=Urgency.CRITICAL))
    colours = []
    for row in range(3):
        icon = model.data(model.index(row, AlertsModel.WHAT), Qt.ItemDataRole.DecorationRole)
        colours.append(icon.pixmap(10, 10).toImage().pixelColor(5, 5).name())
    assert colours == [
        KIND_LOOKS[AlertKind.EXPOSURE_POLICY][0].lower(),
        KIND_LOOKS[AlertKind.FREED][0].lower(),
        KIND_LOOKS[AlertKind.EXPOSED][0].lower(),
    ]
    assert len(set(colours)) == 3
    foreground = [
        model.data(model.index(row, 0), Qt.ItemDataRole.ForegroundRole) for row in range(3)
    ]
    assert foreground[0] is not None
    assert foreground[1:] == [None, None]
    tip = model.data(model.index(2, AlertsModel.WHAT), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Reachable from the network")


def test_a_summary_opens_to_show_its_alerts_and_folds_again(qtbot: QtBot) -> None:
    view = AlertsView()
    qtbot.addWidget(view)
    view.show()
    singles = [alert(port, notify=False) for port in (3000, 3001, 3002)]
    for single in singles:
        view.model.add_alert(single)
    view.model.add_alert(summarize(singles, time.time()))
    row = next(r for r in range(4) if view.proxy.index(r, AlertsModel.PORT).data() == "3000 +2")
    cell = view.proxy.index(row, AlertsModel.WHAT)
    assert cell.data().endswith("[3 alerts ▸]")
    folded = view.table.rowHeight(row)
    rect = view.table.visualRect(cell)
    with qtbot.assertNotEmitted(view.port_activated):
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    lines = cell.data().split("\n")
    assert lines[1:] == [f"    {single.text}" for single in singles]
    assert view.table.rowHeight(row) > folded
    view.model.toggle_expanded(view.proxy.mapToSource(cell).row())
    assert cell.data().endswith("[3 alerts ▸]")


def test_alerts_view_double_click_asks_for_the_port(qtbot: QtBot) -> None:
    view = AlertsView()
    qtbot.addWidget(view)
    view.show()
    view.model.add_alert(alert(5173))
    view.model.add_alert(alert(3000))
    assert view.count_label.text() == "2 alerts"
    row = next(r for r in range(2) if view.proxy.index(r, AlertsModel.PORT).data() == "5173")
    rect = view.table.visualRect(view.proxy.index(row, AlertsModel.WHAT))
    with qtbot.waitSignal(view.port_activated) as blocker:
        # Qt's views act on a double click only after the press that starts it.
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [5173]
    view.show_banner(alert(8000, title="<b>x</b>"))
    assert not view.banner.isHidden()
    assert "&lt;b&gt;x&lt;/b&gt; 8000" in view.banner.text()
    view.dismiss.click()
    assert view.banner.isHidden()


# --- the alerts on a real app ---


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[..., PortwatchApp]]:
    """The app, built when the test has put the settings file in place (it reads it then)."""
    with built_apps(qtbot) as make:
        yield make


def test_controller_without_notifications_or_tray_alerts_in_app(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    save_settings(Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),)))

    def unavailable(_on_action: object) -> Notifier:
        raise OSError("no bus")

    app = make_app(notifier_factory=unavailable)
    tabs = [app.window.tabs.tabText(i) for i in range(app.window.tabs.count())]
    assert tabs[-2:] == ["Alerts", "History"]
    qtbot.waitUntil(lambda: app.alerts.delivery is not None)
    first = app.alerts_view.model.alerts()
    assert [a.kind for a in first] == [AlertKind.NOTICE]
    assert first[0].title == "Alerts will appear in this window only"
    assert "Install dunst." in first[0].body

    feed(qtbot, app, snap())
    with qtbot.waitSignal(app.alerts.alert_raised) as raised:
        app.service.snapshot_ready.emit(snap(listener(3000, "127.0.0.1", pid=5, process="node")))
    settle(app)
    delivered, how = raised.args
    assert (delivered.kind, delivered.port, how) == (AlertKind.OCCUPIED, 3000, "in_app")
    assert not app.alerts_view.banner.isHidden()
    assert "Port 3000 is in use" in app.alerts_view.banner.text()
    assert app.history is not None
    kinds = [e.kind for e in HistoryReader(app.history.path).events()]
    assert kinds.index("started") < kinds.index("bound")
    assert "bound" in kinds
    assert "alert" in kinds
    [sent] = HistoryReader(app.history.path).events(kinds=["alert"], port=3000)
    assert json.loads(sent.detail or "{}")["delivery"] == "in_app"


def test_snapshots_still_warming_up_are_not_the_starting_point(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    """At start the owners fill in over a few scans: alerts and history wait for them."""
    save_settings(Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),)))
    app = make_app(notifier_factory=None)
    pending = listener(
        3000, "127.0.0.1", pid=None, process=None, owner_unknown=OwnerUnknown.PENDING
    )
    feed(qtbot, app, replace(snap(pending), pending_owners=1, warming_up=True))
    assert app.history is not None
    assert HistoryReader(app.history.path).events(kinds=["started", "present"]) == []
    # The first complete picture is the starting point: 3000 was already in use.
    feed(qtbot, app, snap(listener(3000, "127.0.0.1", pid=5, process="node")))
    alerts = app.alerts_view.model.alerts()
    assert [a.kind for a in alerts] == [AlertKind.STARTUP, AlertKind.NOTICE]
    assert "node" in alerts[0].body  # the start-up summary names the owner
    present = HistoryReader(app.history.path).events(kinds=["present"], port=3000)
    assert [(e.pid, e.process) for e in present] == [(5, "node")]
    # From there on changes are news as before.
    with qtbot.waitSignal(app.alerts.alert_raised) as raised:
        app.service.snapshot_ready.emit(snap())
    assert raised.args[0].kind == AlertKind.FREED


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_controller_counts_watched_busy_and_reloads_cli_edits(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    application = make_app(tray_available=True)
    assert application.tray is not None
    feed(qtbot, application, snap(listener(3000, "127.0.0.1")))
    assert application.tray.watched_busy == 0
    # `portwatch watch-port add 3000` from another process edits the file.
    time.sleep(0.01)  # a distinct mtime on coarse file systems
    from portwatch.entry import main

    assert main(["watch-port", "add", "3000", "5173"]) == 0
    with qtbot.waitSignal(application.settings.changed):
        application.service.snapshot_ready.emit(
            snap(listener(3000, "127.0.0.1"), listener(5173, "::1"))
        )
    settle(application)
    watched = application.settings.settings.watched_ports
    assert [str(w.ports) for w in watched] == ["3000", "5173"]
    assert application.tray.watched_busy == 2
    assert "2 watched ports busy" in application.tray.tooltip()


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_a_tray_that_appears_later_takes_over_from_the_window(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., PortwatchApp]
) -> None:
    from portwatch.ui import app as app_module
    from portwatch.ui.tray import TrayIcon

    tray_up = False
    monkeypatch.setattr(TrayIcon, "available", staticmethod(lambda: tray_up))
    from portwatch.entry import main

    assert main(["watch-port", "add", "3000"]) == 0
    application = make_app()
    feed(qtbot, application, snap(listener(3000, "127.0.0.1")))
    assert application.tray is None
    assert application.alerts.balloon is None
    assert application.window.notice.isVisible()
    assert not application.window.hide_on_close
    # The look for a tray runs on its own timer and clock, which have no public
    # view: the test reads the timer and moves the clock (noqa: SLF001 below).
    timer = application._tray_look  # noqa: SLF001
    assert timer is not None
    assert timer.interval() == app_module.TRAY_LOOK_FAST_MS

    # Nothing yet: after the first minutes it looks less often.
    application._tray_look_since -= app_module.TRAY_LOOK_FAST_FOR + 1  # noqa: SLF001
    application._look_for_tray()  # noqa: SLF001
    assert application.tray is None
    assert timer.interval() == app_module.TRAY_LOOK_SLOW_MS

    tray_up = True
    with qtbot.waitSignal(application.tray_appeared) as appeared:
        application._look_for_tray()  # noqa: SLF001
    tray = application.tray
    assert tray is not None
    assert appeared.args == [tray]
    assert not timer.isActive()
    assert application._tray_look is None  # noqa: SLF001
    # The tray shows the last scan and the busy watched port at once.
    assert tray.snapshot is application.latest
    assert application.alerts.balloon is tray
    assert tray.watched_busy == 1
    assert not application.window.notice.isVisible()
    assert "A system tray appeared" in application.window.statusBar().currentMessage()
    # Closing the window now leaves the app running in the tray.
    assert application.window.hide_on_close
    with qtbot.assertNotEmitted(application.window.closed):
        application.window.close()
    # The tray's menu works like one that was there from the start.
    tray.port_requested.emit(3000)
    assert application.window.isVisible()
    assert application.window.search.text() == "3000"


@pytest.mark.usefixtures("qtbot")
def test_corrupt_settings_are_told_once_in_the_app(make_app: Callable[..., PortwatchApp]) -> None:
    paths.settings_file().write_text("{oops")
    app = make_app(notifier_factory=None)
    titles = [a.title for a in app.alerts_view.model.alerts()]
    assert "Settings were reset" in titles


def test_settings_dialog_from_the_app_saves_and_applies(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    app = make_app()
    qtbot.waitUntil(lambda: app.alerts.delivery is not None)
    with qtbot.waitSignal(app.settings_requested):
        app.request_settings()
    dialog = app.settings_window.dialog
    assert dialog is not None
    assert "No notification service." in dialog.delivery_label.text()
    dialog.interval.setValue(4)
    row = dialog.add_row(None)
    row.ports.setText("abc")
    dialog.accept()  # refused: the file keeps nothing invalid
    assert not paths.settings_file().exists()
    row.ports.setText("tcp/5432")
    with qtbot.waitSignal(app.settings.changed):
        dialog.accept()
    settle(app)
    saved = json.loads(paths.settings_file().read_text())
    assert saved["scan_interval"] == 4.0
    assert saved["watched_ports"][0]["ports"] == "tcp/5432"
    assert app.service.interval == 4.0


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")
def test_a_port_that_closes_soon_after_its_notification_takes_the_notification_away(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    save_settings(Settings(notification_style=NotificationStyle.SYSTEM))
    with private_bus() as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
        stub = StubServer(bus)
        try:
            app = make_app(describe_delivery=describe_connection)
            qtbot.waitUntil(lambda: app.alerts.delivery is not None)
            feed(qtbot, app, snap())
            # Told (handed back once the server answered), then gone.
            with qtbot.waitSignal(app.alerts.alert_raised, timeout=10_000):
                feed(qtbot, app, snap(listener(9000, "0.0.0.0", pid=7, process="python3")))
            assert len(stub.calls) == 1
            assert stub.calls[0].summary == "Port 9000 is open to the network"
            with qtbot.waitSignal(app.alerts.alert_raised, timeout=10_000) as raised:
                app.service.snapshot_ready.emit(snap())
            alert, delivery = raised.args
            assert (alert.kind, alert.title, delivery) == (
                AlertKind.WITHDRAWN,
                "Port 9000 closed again",
                "list",
            )
            assert wait_until(lambda: stub.closed == [1], timeout=5)
            assert len(stub.calls) == 1  # nothing new popped up to say so
            app.shutdown()
        finally:
            stub.close()


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")
def test_controller_sends_dbus_notifications_and_show_opens_the_port(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    save_settings(
        Settings(
            watched_ports=(WatchedPort(PortSpec(3000, 3000)),),
            notification_style=NotificationStyle.SYSTEM,
        )
    )
    with private_bus() as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
        stub = StubServer(bus)
        try:
            app = make_app(describe_delivery=describe_connection)
            qtbot.waitUntil(lambda: app.alerts.delivery is not None)
            assert app.alerts.delivery is not None
            assert app.alerts.delivery.method == "dbus"
            feed(qtbot, app, snap())
            with qtbot.waitSignal(app.alerts.alert_raised) as raised:
                app.service.snapshot_ready.emit(
                    snap(listener(3000, "127.0.0.1", pid=5, process="node"))
                )
            assert raised.args[1] == "dbus"
            assert wait_until(lambda: len(stub.calls) == 1, timeout=5)
            call = stub.calls[0]
            assert call.app_name == "portwatch"
            assert call.summary == "Port 3000 is in use"
            assert "node (PID 5)" in call.body
            assert call.actions == ["show", "Show"]
            # A click on "Show" comes back on jeepney's thread and opens the window there.
            app.window.hide()
            with qtbot.waitSignal(app.alerts.show_port_requested, timeout=5000):
                stub.invoke_action(1, "show")
            qtbot.waitUntil(app.window.isVisible, timeout=5000)
            assert app.window.search.text() == "3000"
            # The service dies: the next alert falls back (no tray here: in the app).
            stub.close()
            # (3000's "free" comes first, held back by the quiet period.)
            with qtbot.waitSignal(
                app.alerts.alert_raised,
                timeout=10_000,
                check_params_cb=lambda alert, _how: alert.port == 8000,
            ) as raised:
                app.service.snapshot_ready.emit(
                    snap(listener(8000, "0.0.0.0", pid=7, process="python3"))
                )
            assert raised.args[1] == "in_app"
            app.shutdown()
        finally:
            stub.close()


def test_model_index_of_nothing_is_none() -> None:
    model = AlertsModel()
    assert model.data(QModelIndex()) is None
    assert model.rowCount(model.index(0, 0)) == 0


@pytest.mark.parametrize("from_command_line", [True, False])
def test_scan_interval_from_settings_unless_the_command_line_gave_one(
    qtbot: QtBot, from_command_line: bool
) -> None:
    save_settings(Settings(scan_interval=7.5))
    # Given an interval is what `portwatch --interval 0.7` does.
    application = PortwatchApp(interval=0.7 if from_command_line else None, tray_available=False)
    qtbot.addWidget(application.window)
    try:
        assert application.service.interval == (0.7 if from_command_line else 7.5)
    finally:
        application.shutdown()


def test_started_while_another_program_holds_the_history_it_records_once_the_lock_goes(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    db = paths.history_db()
    HistoryRecorder.from_settings(Settings()).close()  # an existing history, as after a run
    with history_locked(db):
        app = make_app(notifier_factory=None)
        assert app.history is not None  # not off for the run
        assert "Port history is off" not in [a.title for a in app.alerts_view.model.alerts()]
        feed(qtbot, app, snap(listener(3000, "127.0.0.1", pid=5, process="node")))
        assert app.history.pending > 0
    feed(
        qtbot, app, snap(listener(3000, "127.0.0.1", pid=5, process="node"), listener(4000, "::1"))
    )
    assert app.history.pending == 0
    kinds = [(e.kind, e.port) for e in HistoryReader(db).events(kinds=["present", "bound"])]
    assert kinds == [("present", 3000), ("bound", 4000)]


@pytest.mark.usefixtures("qtbot")
def test_alerts_model_names_the_holder_as_the_alert_does() -> None:
    model = AlertsModel()
    model.add_alert(replace(alert(3000), holder="http.server — shop-frontend", process="python3"))
    model.add_alert(replace(alert(5432), pid=None, holder="postgresql@15-main.service (postgres)"))
    model.add_alert(replace(alert(3001), holder=None))  # recorded before alerts named apps
    assert model.data(model.index(2, AlertsModel.PROCESS)) == (
        "http.server — shop-frontend (PID 1)"
    )
    assert model.data(model.index(1, AlertsModel.PROCESS)) == (
        "postgresql@15-main.service (postgres)"
    )
    assert model.data(model.index(0, AlertsModel.PROCESS)) == "node (PID 1)"


def test_the_alerts_tab_lists_earlier_runs_alerts_below_this_runs(
    qtbot: QtBot, make_app: Callable[..., PortwatchApp]
) -> None:
    first = make_app(tray_available=False)
    feed(qtbot, first, snap())
    with qtbot.waitSignal(
        first.alerts.alert_raised, check_params_cb=lambda alert, _how: alert.port == 8000
    ):
        feed(qtbot, first, snap(listener(8000, "0.0.0.0", pid=7, process="python3")))
    settle(first)
    first.shutdown()  # the history is written and closed: the app quits

    second = make_app(tray_available=False)
    model = second.alerts_view.model
    qtbot.waitUntil(lambda: any(a.port == 8000 for a in model.alerts()), timeout=10_000)
    feed(qtbot, second, snap())
    alerts = model.alerts()
    earlier = [a for a in alerts if a.port == 8000]
    assert [(a.kind, a.title, a.notify) for a in earlier] == [
        (AlertKind.EXPOSED, "Port 8000 is open to the network", False)
    ]
    assert earlier[0].body == "python3 (PID 7) listens on tcp 0.0.0.0:8000 (public)"
    # This run's come first (newest at the top); the earlier run's start-up is there too.
    assert alerts.index(earlier[0]) > 0
    assert sum(1 for a in alerts if a.kind is AlertKind.STARTUP) == 2
