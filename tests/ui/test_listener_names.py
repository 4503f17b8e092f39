"""The listener table speaks in apps: the Process, PID and Service cells, the search, the labels."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPalette

from portwatch.core.model import Listener, ProcessInfo
from portwatch.core.naming import Labels
from portwatch.ui.tables.cells import (
    MIN_CONTRAST,
    SORT_ROLE,
    contrast_ratio,
    dim_text_brush,
    dim_text_colour,
)
from portwatch.ui.tables.filters import ListenerProxy
from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel
from tests.support.factories import listener
from tests.ui.test_ui_models import Spy

FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole

# The four shapes of the issue, each as the scanner would build it.
HTTP_SERVER = listener(
    8000, process="python3", app="http.server", project="shop-frontend", pid=4242
)
NGINX = listener(
    80,
    "0.0.0.0",
    pid=40,
    process="nginx",
    pids=(40, 41, 42),
    holders=(
        ProcessInfo(40, "nginx", ppid=1),
        ProcessInfo(41, "nginx", ppid=40),
        ProcessInfo(42, "nginx", ppid=40),
    ),
)
POSTGRES = listener(5432, pid=900, process="postgres", unit="postgresql@15-main.service")
WEB = listener(8080, pid=777, process="gunicorn", app="web", container="shop_web_1")


def model_of(*rows: Listener) -> ListenerTableModel:
    model = ListenerTableModel()
    model.apply(list(rows))
    return model


def cell(model: ListenerTableModel, item: Listener, column: int, role: int = 0) -> object:
    row = model.row_of(item.key)
    assert row is not None
    return model.index(row, column).data(role)


def test_the_process_column_names_the_app_and_what_says_more() -> None:
    model = model_of(HTTP_SERVER, NGINX, POSTGRES, WEB)
    process = ListenerColumn.PROCESS
    assert cell(model, HTTP_SERVER, process) == "http.server — shop-frontend"
    assert cell(model, NGINX, process) == "nginx (3 processes)"
    assert cell(model, POSTGRES, process) == "postgres (postgresql@15-main.service)"
    assert cell(model, WEB, process) == "web (shop_web_1)"
    # The PIDs are in the tooltip, before the command line.
    tip = cell(model, NGINX, process, TOOLTIP)
    assert isinstance(tip, str)
    assert tip.split("\n") == ["PIDs 40, 41, 42", "nginx --serve"]
    assert cell(model, HTTP_SERVER, process, TOOLTIP) == "PID 4242\npython3 --serve"


def test_the_pid_column_shows_the_main_holder_and_sorts_as_a_number() -> None:
    model = model_of(NGINX, POSTGRES)
    assert cell(model, NGINX, ListenerColumn.PID) == "40 +2"
    assert cell(model, NGINX, ListenerColumn.PID, TOOLTIP) == "PIDs 40, 41, 42"
    assert cell(model, POSTGRES, ListenerColumn.PID) == "900"
    assert cell(model, POSTGRES, ListenerColumn.PID, TOOLTIP) is None
    assert cell(model, NGINX, ListenerColumn.PID, SORT_ROLE) == 40
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.PID, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, ListenerColumn.PID).data() for r in range(2)] == ["900", "40 +2"]


def test_a_label_comes_before_the_detected_name_and_the_tooltip_says_what_was_found() -> None:
    model = model_of(HTTP_SERVER, NGINX)
    model.set_labels(Labels(ports={8000: "Shop frontend"}, apps={"nginx": "Front door"}))
    assert cell(model, HTTP_SERVER, ListenerColumn.PROCESS) == "Shop frontend"
    assert cell(model, NGINX, ListenerColumn.PROCESS) == "Front door (3 processes)"
    tip = cell(model, HTTP_SERVER, ListenerColumn.PROCESS, TOOLTIP)
    assert isinstance(tip, str)
    assert tip.split("\n")[0] == "Your name for it; found as http.server — shop-frontend"


def test_the_service_hint_is_dimmed_and_says_who_holds_the_port() -> None:
    vite_port = listener(5173, pid=50, process="python3")  # no app known beyond python3
    known = listener(5173, "127.0.0.2", pid=51, process="python3", app="http.server")
    fact = listener(5432, pid=52, process="postgres")
    model = model_of(vite_port, known, fact)
    service = ListenerColumn.SERVICE
    # A hint: the usual service of the port, dimmed, and why it is only a hint.
    assert cell(model, vite_port, service) == "usually vite"
    brush = cell(model, vite_port, service, FOREGROUND)
    assert isinstance(brush, QBrush)
    assert brush.color() == dim_text_brush().color()
    assert cell(model, vite_port, service, TOOLTIP) == (
        "Port 5173 is usually vite; here python3 holds it"
    )
    # The app is known and says more: nothing.
    assert cell(model, known, service) == ""
    assert cell(model, known, service, FOREGROUND) is None
    # The holder is the service: a fact, in the view's own colour.
    assert cell(model, fact, service) == "postgresql"
    assert cell(model, fact, service, FOREGROUND) is None
    assert cell(model, fact, service, TOOLTIP) is None


@pytest.mark.parametrize(
    ("text", "base"),
    [("#000000", "#ffffff"), ("#f0f0f0", "#202020"), ("#1a1a1a", "#d8d8d8")],
    ids=["light", "dark", "low-contrast theme"],
)
def test_the_dim_colour_comes_from_the_palette_and_stays_readable(text: str, base: str) -> None:
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, base),
    ):
        palette.setColor(QPalette.ColorGroup.Active, role, QColor(colour))
    dim = dim_text_colour(palette)
    background = QColor(base)
    assert contrast_ratio(dim, background) >= MIN_CONTRAST
    # Dimmer than the text where the theme leaves room for it.
    if contrast_ratio(QColor(text), background) > MIN_CONTRAST + 3:
        assert contrast_ratio(dim, background) < contrast_ratio(QColor(text), background)


def test_search_finds_an_app_by_its_project_and_by_the_users_label() -> None:
    admin = listener(9000, pid=60, process="node")
    other = listener(6379, pid=61, process="redis-server")
    model = model_of(HTTP_SERVER, admin, other, WEB)
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.PORT, Qt.SortOrder.AscendingOrder)

    def ports() -> list[str]:
        return [proxy.index(r, ListenerColumn.PORT).data() for r in range(proxy.rowCount())]

    proxy.set_search("shop")  # the project, and the container shop_web_1
    assert ports() == ["8000", "8080"]
    # A label given while the search is on brings its row in.
    model.set_labels(Labels(ports={9000: "Shop admin"}))
    assert ports() == ["8000", "8080", "9000"]
    proxy.set_search("admin")
    assert ports() == ["9000"]
    proxy.set_search("postgresql@15")  # a unit
    assert ports() == []
    model.apply([HTTP_SERVER, admin, other, WEB, POSTGRES])
    assert ports() == ["5432"]


def test_a_label_change_signals_only_the_renamed_rows_process_cells() -> None:
    rows = [listener(3000 + n, pid=100 + n, process=f"app{n}") for n in range(6)]
    model = model_of(*rows)
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.PROCESS, Qt.SortOrder.AscendingOrder)
    spy = Spy(model)

    model.set_labels(Labels(ports={3001: "aaa first", 3002: "Billing"}))
    process = ListenerColumn.PROCESS
    assert spy.resets == 0
    assert spy.changed == [(1, process, 2, process)]  # rows 1 and 2, one run
    # The proxy sorted by that column moved the renamed row to the top.
    assert proxy.index(0, process).data() == "aaa first"

    spy.changed.clear()
    model.set_labels(Labels(ports={3001: "aaa first", 3002: "Billing"}))  # the same
    assert spy.changed == []
    model.set_labels(Labels(ports={3001: "aaa first"}, apps={"app5": "Zed"}))
    assert sorted(spy.changed) == [(2, process, 2, process), (5, process, 5, process)]
    assert spy.resets == 0
    assert (spy.inserted, spy.removed) == ([], [])


def test_a_renamed_row_still_updates_incrementally() -> None:
    model = model_of(HTTP_SERVER)
    model.set_labels(Labels(ports={8000: "Shop frontend"}))
    spy = Spy(model)
    model.apply([replace(HTTP_SERVER, connections=2, remote_connections=0)])
    assert spy.changed == [(0, ListenerColumn.CONNECTIONS, 0, ListenerColumn.CONNECTIONS)]
    assert cell(model, HTTP_SERVER, ListenerColumn.PROCESS) == "Shop frontend"
