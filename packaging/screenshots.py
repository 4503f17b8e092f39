"""Render the README screenshots from the real app, with real sockets, under Xvfb.

    python packaging/screenshots.py [OUT_DIR]     (default: docs/)

Starts a private X server, session bus and tray host (tests/support/desktop.py),
a few listening children on 127.0.0.1, 0.0.0.0 and ::1 with client
connections, then runs the app's window in a child process on that display
and saves:

- screenshot-main.png         Listeners tab, a row selected, its details below
- screenshot-connections.png  Connections tab
- screenshot-tray-menu.png    the tray menu
- screenshot-desktop.png      the whole screen: tray bar with the icon, window
- screenshot-alerts.png       Alerts tab after a watched port and a public bind
- screenshot-history.png      History tab: who held which port, for how long
- screenshot-port-check.png   "Is port free?" tab answering for a busy port
- screenshot-settings.png     the Settings dialog

Look at the PNGs before committing them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "docs")
    parser.add_argument("--render", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render:
        return render(args.out)
    return orchestrate(args.out)


def orchestrate(out: Path) -> int:
    from demo_apps import DemoApps  # beside this file (not the PyPI "packaging")

    from tests.support.desktop import desktop_session, private_user_dirs

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        demo = DemoApps(Path(home) / "demo")
        try:
            demo.start()
            with desktop_session(tray="sni", notifications=False) as session:
                # The user's own window.ini and running instance stay out of it.
                env = private_user_dirs(session.env, Path(home))
                env["PORTWATCH_DEMO_PORTS"] = json.dumps(demo.ports)
                write_demo_settings(Path(env["XDG_CONFIG_HOME"]), demo.ports)
                render_run = subprocess.run(
                    [sys.executable, __file__, "--render", str(out)],
                    env=env,
                    cwd=ROOT,
                    timeout=180,
                    check=False,
                )
                if render_run.returncode != 0:
                    print(
                        f"screenshots: rendering failed ({render_run.returncode})", file=sys.stderr
                    )
                    return 1
        finally:
            demo.stop()
    for name in sorted(out.glob("screenshot-*.png")):
        print(f"screenshots: wrote {name}")
    return 0


def write_demo_settings(config_home: Path, ports: dict[str, int]) -> None:
    """Watched ports for the Alerts shot as a developer would set them, and one name of theirs."""
    from portwatch.core.portspec import parse_port_spec
    from portwatch.core.settings import Settings, WatchedPort, save_settings

    settings = Settings(
        watched_ports=(
            WatchedPort(parse_port_spec("3000")),
            WatchedPort(parse_port_spec("5173")),
            WatchedPort(parse_port_spec("tcp/5432"), expected_owner="postgres"),
        ),
    ).with_port_label(ports["shop"], "Shop frontend")
    save_settings(settings, config_home / "portwatch" / "settings.json")


def render(out: Path) -> int:
    from PySide6.QtCore import QItemSelectionModel, QPoint, QTimer
    from PySide6.QtWidgets import QApplication

    from portwatch.ui.app import PortwatchApp
    from portwatch.ui.tables.listeners import ListenerColumn
    from portwatch.ui.tables.rows import RowState
    from tests.support.procs import ListenerProcess

    qapp = QApplication([sys.argv[0]])
    qapp.setQuitOnLastWindowClosed(False)
    # As run_app does: alerts, settings and history (in the private XDG folders).
    app = PortwatchApp(interval=1.0, show_window=True)
    window = app.window
    window.resize(1180, 720)
    window.move(40, 30)
    ports: dict[str, int] = json.loads(os.environ["PORTWATCH_DEMO_PORTS"])
    demo_ports = set(ports.values())

    def wait(predicate: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            qapp.processEvents()
            if callable(predicate) and predicate():
                return True
            time.sleep(0.02)
        return False

    app.start()
    ok = wait(
        lambda: (
            app.latest is not None
            and demo_ports <= {listener.port for listener in app.latest.listeners}
        ),
        20,
    )
    if not ok:
        print("screenshots: the demo listeners did not show up", file=sys.stderr)
        app.quit()
        return 1
    # Let the highlights of the first fill pass, and settle the layout.
    wait(lambda: False, 1.5)

    proxy = window.listener_proxy
    for row in range(proxy.rowCount()):
        index = proxy.index(row, ListenerColumn.PORT)
        if index.data() == str(ports["nginx"]):
            window.listener_view.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
    window.splitter.setSizes([380, 260])
    # Other programs' sockets come and go on a busy machine (test runs): wait
    # for a calm moment with no row highlighted as new or gone.
    model = window.listener_model
    calm = wait(
        lambda: all(model.state_at(r) is RowState.CURRENT for r in range(model.rowCount())), 30
    )
    if not calm:
        print("screenshots: the table never settled; some rows are highlighted", file=sys.stderr)
    # A selection turns on connection owners; wait for a scan that lists them.
    wait(lambda: bool(app.latest and app.latest.connections), 10)
    wait(lambda: False, 0.3)
    window.grab().save(str(out / "screenshot-main.png"))

    window.tabs.setCurrentIndex(1)
    wait(lambda: False, 1.5)
    window.grab().save(str(out / "screenshot-connections.png"))
    window.tabs.setCurrentIndex(0)

    if app.tray is not None:
        menu = app.tray.menu
        menu.popup(QPoint(window.x() + window.width() - 420, window.y() + 80))
        wait(lambda: False, 0.5)
        menu.grab().save(str(out / "screenshot-tray-menu.png"))
        QTimer.singleShot(0, menu.close)
        wait(lambda: False, 0.3)
    else:
        print("screenshots: no tray on this display; no menu shot", file=sys.stderr)

    # The whole screen, window and tray bar together, while both are up.
    window.listener_view.setFocus()
    wait(lambda: False, 0.5)
    shot = subprocess.run(
        ["import", "-window", "root", str(out / "screenshot-desktop.png")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if shot.returncode != 0:
        print(f"screenshots: import failed: {shot.stderr.strip()}", file=sys.stderr)

    # A dev server starts on a watched port, bound to every interface: two alerts.
    dev_server = ListenerProcess(["tcp:0.0.0.0:5173"])
    try:
        if not wait(lambda: app.alerts_view.model.rowCount() >= 2, 15):
            print("screenshots: no alert for the demo dev server", file=sys.stderr)
        wait(lambda: False, 1.0)
    finally:
        dev_server.stop()
    wait(lambda: 5173 not in {row.port for row in (app.latest.listeners if app.latest else ())}, 10)
    wait(lambda: False, 1.5)
    app.alerts_view.clear_banner()
    window.tabs.setCurrentWidget(app.alerts_view)
    wait(lambda: False, 0.5)
    window.grab().save(str(out / "screenshot-alerts.png"))

    if app.history_view is not None:
        # Chosen, the tab runs its query itself: no search pressed.
        window.tabs.setCurrentWidget(app.history_view)
        wait(lambda: False, 1.0)
        window.grab().save(str(out / "screenshot-history.png"))

    check = app.port_check
    window.tabs.setCurrentWidget(check)
    check.port_edit.setText(str(ports["nginx"]))
    check.check()
    wait(lambda: check.last_check is not None, 10)
    wait(lambda: False, 0.3)
    window.grab().save(str(out / "screenshot-port-check.png"))
    window.tabs.setCurrentIndex(0)

    dialog = app.settings_window.open()
    wait(lambda: False, 0.8)
    dialog.grab().save(str(out / "screenshot-settings.png"))
    dialog.reject()
    app.quit()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    raise SystemExit(main())
