"""The details pane, status bar, tray and app speak in apps, and count ports as a person does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from portwatch.core import paths
from portwatch.core.model import ProcessInfo, Snapshot
from portwatch.core.naming import Labels
from portwatch.core.scanner import Scanner
from portwatch.ui.app import PortwatchApp
from portwatch.ui.details import connections_of
from portwatch.ui.main_window import MainWindow
from portwatch.ui.tables.listeners import ListenerColumn
from portwatch.ui.tray import MENU_APPS, TrayIcon
from tests.support.factories import connection, listener, snapshot
from tests.support.prefork import PreforkServer
from tests.support.procs import connect_clients, wait_until
from tests.ui.composed import built_apps
from tests.ui.test_ui_window import select_port

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")

# nginx on port 80 as a person sees it: one server, two sockets (IPv4 and IPv6).
NGINX_V4 = listener(80, "0.0.0.0", pid=40, process="nginx")
NGINX_V6 = listener(80, "::", pid=40, process="nginx")


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    yield main
    main.hide_on_close = False
    main.close()


def test_details_name_the_holders_and_list_a_connection_a_worker_accepted(
    window: MainWindow,
) -> None:
    scanner = Scanner(connection_owners=True)
    with PreforkServer(("127.0.0.1",), workers=2) as server:
        port = server.ports[0]
        client = connect_clients("127.0.0.1", port, 1)[0]
        try:
            seen: list[Snapshot] = []

            def accepted() -> bool:
                snap = scanner.scan()
                rows = [r for r in snap.listeners if r.port == port]
                conns = [c for c in snap.connections if c.local_port == port]
                seen[:] = [snap]
                return (
                    len(rows) == 1
                    and len(rows[0].pids) == 3
                    and any(c.pid in server.workers for c in conns)
                )

            assert wait_until(accepted, timeout=10), seen
            window.apply_snapshot(seen[0])
            row = select_port(window, port)
            details = window.details
            workers = row.pids[1:]
            assert row.pid == server.pid
            assert sorted(workers) == sorted(server.workers)
            assert details.field_text("Held by") == (
                f"{row.app}: master + 2 workers (PIDs {', '.join(map(str, row.pids))})"
            )
            # The worker accepted it, the master's row lists it.
            assert [port for _a, port, _s in details.connection_rows()] == [
                str(client.getsockname()[1])
            ]
            assert details.field_text("Connections").startswith("1 established")
        finally:
            client.close()
    scanner.close()


def test_a_wildcard_socket_owns_connections_but_those_of_a_specific_bind() -> None:
    wildcard = listener(8000, "0.0.0.0", pid=10, process="proxy")
    specific = listener(8000, "127.0.0.1", pid=11, process="local")
    lan = connection("192.168.1.5", 8000, "192.168.1.9", 50000, pid=12)  # a worker of 10
    loop = connection("127.0.0.1", 8000, "127.0.0.1", 50001, pid=11)
    both = [wildcard, specific]
    assert connections_of(wildcard, [lan, loop], both) == [lan]
    assert connections_of(specific, [lan, loop], both) == [loop]
    # Alone on the port, the wildcard socket has both.
    assert connections_of(wildcard, [lan, loop], [wildcard]) == [lan, loop]


def test_details_show_the_label_and_what_the_scan_found(window: MainWindow) -> None:
    web = listener(
        8080,
        pid=777,
        process="gunicorn",
        app="web",
        project="shop",
        container="shop_web_1",
        cwd="/srv/shop",
        pids=(777, 778),
        holders=(ProcessInfo(777, "gunicorn", ppid=1), ProcessInfo(778, "gunicorn", ppid=1)),
    )
    window.apply_snapshot(snapshot([web]))
    select_port(window, 8080)
    details = window.details
    assert details.field_text("App") == "web"
    assert details.field_text("Project") == "shop"
    assert details.field_text("Container") == "shop_web_1"
    assert details.field_text("Working directory") == "/srv/shop"
    assert details.field_text("Held by") == "web and 1 other process (PIDs 777, 778)"
    assert not details.fields["Name"].isVisibleTo(window)
    assert not details.fields["Unit"].isVisibleTo(window)
    window.set_labels(Labels(ports={8080: "Shop web"}))
    assert details.field_text("Name") == "Shop web"
    assert details.fields["Name"].isVisibleTo(window)
    process = window.listener_proxy.index(0, ListenerColumn.PROCESS).data()
    assert process == "Shop web (2 processes, shop_web_1)"


def test_the_status_bar_counts_a_dual_stack_pair_as_one_port(window: MainWindow) -> None:
    window.apply_snapshot(
        snapshot([NGINX_V4, NGINX_V6, listener(5432, "127.0.0.1"), listener(5432, "::1")])
    )
    assert window.counts_label.text() == "2 ports in use · 1 public"


def test_the_tray_tooltip_counts_a_dual_stack_pair_as_one_port() -> None:
    tray = TrayIcon()
    tray.update_snapshot(snapshot([NGINX_V4, NGINX_V6, listener(22, "192.168.1.10")]))
    assert tray.tooltip() == "2 ports in use · 1 public · 1 LAN"
    assert tray.icon.toolTip() == tray.tooltip()
    # Another program on [::]:80 is another port to a person.
    tray.update_snapshot(snapshot([NGINX_V4, listener(80, "::", pid=41, process="caddy")]))
    assert tray.tooltip() == "2 ports in use · 2 public"


def menu_entries(tray: TrayIcon) -> list[str]:
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    return texts[1 : texts.index("Open portwatch")]


def test_the_tray_menu_lists_apps_with_their_ports(qtbot: QtBot) -> None:
    tray = TrayIcon()
    rows = [
        NGINX_V4,
        NGINX_V6,
        listener(443, "0.0.0.0", pid=40, process="nginx"),
        listener(3000, pid=50, process="node", app="vite", project="shop"),
        listener(5432, pid=60, process="postgres"),
        listener(5433, pid=60, process="postgres"),
    ]
    tray.update_snapshot(snapshot(rows))
    assert menu_entries(tray) == [
        "⚠ nginx — 80, 443",
        "vite — shop — 3000",
        "postgres — 5432, 5433",
    ]
    tray.set_labels(Labels(ports={3000: "Shop frontend"}))
    assert menu_entries(tray)[1] == "Shop frontend — 3000"
    # An app with one port opens the window on it; with several, a submenu per port.
    single = next(a for a in tray.menu.actions() if a.text() == "Shop frontend — 3000")
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 3000):
        single.trigger()
    nginx = next(a for a in tray.menu.actions() if a.text() == "⚠ nginx — 80, 443")
    sub = nginx.menu()
    assert isinstance(sub, QMenu)
    assert [a.text() for a in sub.actions()] == [
        "Show port 80 in portwatch",
        "Show port 443 in portwatch",
    ]
    with qtbot.waitSignal(tray.port_requested, check_params_cb=lambda p: p == 443):
        sub.actions()[1].trigger()


def test_the_tray_menu_is_bounded(qtbot: QtBot) -> None:
    tray = TrayIcon()
    rows = [listener(4000 + n, pid=200 + n, process=f"app{n:02}") for n in range(MENU_APPS + 3)]
    tray.update_snapshot(snapshot(rows))
    entries = menu_entries(tray)
    assert len(entries) == MENU_APPS + 1
    assert entries[0] == "app00 — 4000"
    assert entries[-1] == "3 more apps…"
    more = next(a for a in tray.menu.actions() if a.text() == "3 more apps…")
    with qtbot.waitSignal(tray.open_requested):
        more.trigger()


@pytest.fixture
def make_app(qtbot: QtBot) -> Iterator[Callable[[], PortwatchApp]]:
    with built_apps(qtbot, interval=5, notifier_factory=None) as make:
        yield make


def test_the_app_shows_the_labels_of_the_settings_file_and_their_changes(
    qtbot: QtBot, make_app: Callable[[], PortwatchApp]
) -> None:
    paths.settings_file().write_text(json.dumps({"port_labels": {"8000": "Shop frontend"}}))
    app = make_app()
    window = app.window
    rows = [listener(8000, pid=70, process="python3"), listener(9000, pid=71, process="node")]
    window.apply_snapshot(snapshot(rows))

    def names() -> list[str]:
        model = window.listener_model
        return sorted(model.index(r, ListenerColumn.PROCESS).data() for r in range(2))

    assert names() == ["Shop frontend", "node"]
    # Saved as the Rename dialog would (on the store's thread): the table follows.
    renamed = app.settings.settings.with_app_label("node", "Admin API")
    with qtbot.waitSignal(app.settings.changed, timeout=5000):
        app.pipeline.save_settings(renamed)
    qtbot.waitUntil(lambda: names() == ["Admin API", "Shop frontend"], timeout=5000)
    assert app.labels == Labels(ports={8000: "Shop frontend"}, apps={"node": "Admin API"})
