"""The "Group by app" tree model: grouping, summaries, and incremental updates only.

The model is checked by Qt's own model tester (pytest-qt's ``qtmodeltester``),
which stays attached and checks every signal while scans churn.
"""

from __future__ import annotations

import random
from dataclasses import replace
from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from pytestqt.modeltest import ModelTester

from portwatch.core.model import Listener
from portwatch.core.naming import Labels
from portwatch.ui.tables.app_tree import AppTreeModel
from portwatch.ui.tables.app_tree_cells import AppTreeColumn, group_name
from portwatch.ui.tables.app_tree_filter import AppTreeProxy
from portwatch.ui.tables.cells import ITEM_ROLE, SORT_ROLE
from portwatch.ui.tables.filters import ListenerToggles
from tests.support.factories import listener, snapshot

SIGNALS = ("rowsInserted", "rowsRemoved", "dataChanged", "modelReset", "layoutChanged")


def haystack(item: Listener) -> str:
    return f"{item.port}\n{item.address}\n{item.app or ''}".lower()


def tree_of(model: AppTreeModel) -> dict[str, list[int]]:
    """Each group's name and its ports (as the model holds them), read through Qt's API."""
    shape: dict[str, list[int]] = {}
    for row in range(model.rowCount()):
        group = model.index(row, 0)
        ports = [int(model.index(child, 0, group).data()) for child in range(model.rowCount(group))]
        shape[str(group.data())] = sorted(ports)
    return shape


class Spy:
    """Every signal the model emits, with the parent it names (None: top level)."""

    def __init__(self, model: AppTreeModel) -> None:
        self.model = model
        self.seen: list[tuple[str, Any]] = []
        for name in SIGNALS:
            getattr(model, name).connect(partial(self._heard, name))

    def _heard(self, name: str, *args: Any) -> None:
        where: Any = None
        if name in ("rowsInserted", "rowsRemoved"):
            parent: QModelIndex = args[0]
            where = (str(parent.data()) if parent.isValid() else None, args[1], args[2])
        elif name == "dataChanged":
            top: QModelIndex = args[0]
            bottom: QModelIndex = args[1]
            group = top.parent()
            where = (
                str(group.data()) if group.isValid() else None,
                top.row(),
                bottom.row(),
                top.column(),
                bottom.column(),
            )
        self.seen.append((name, where))

    def take(self) -> list[tuple[str, Any]]:
        seen, self.seen = self.seen, []
        return seen


nginx = partial(listener, process="nginx", pid=40, pids=(40, 41, 42))


def shop(port: int, app: str, pid: int) -> Listener:
    return listener(port, "127.0.0.1", process=app, pid=pid, project="shop-frontend")


def sample() -> list[Listener]:
    return [
        nginx(80, "0.0.0.0"),
        nginx(80, "::"),
        nginx(443, "0.0.0.0"),
        shop(3000, "node", 300),
        shop(5173, "vite", 517),
        listener(8000, "127.0.0.1", process="python3", app="http.server", pid=800),
    ]


def test_groups_by_label_then_project_then_app() -> None:
    model = AppTreeModel(haystack)
    model.apply(sample())
    assert tree_of(model) == {
        "nginx": [80, 80, 443],
        "shop-frontend": [3000, 5173],
        "http.server": [8000],
    }
    model.set_labels(Labels(apps={"nginx": "Web server"}))
    assert tree_of(model) == {
        "Web server": [80, 80, 443],
        "shop-frontend": [3000, 5173],
        "http.server": [8000],
    }
    # A label on one app of a project takes it out of the project's group.
    model.set_labels(Labels(apps={"vite": "Shop dev server"}))
    assert tree_of(model) == {
        "nginx": [80, 80, 443],
        "shop-frontend": [3000],
        "Shop dev server": [5173],
        "http.server": [8000],
    }
    hidden = listener(5432, "127.0.0.1", pid=None, user="postgres", unit="postgresql.service")
    assert group_name(hidden, Labels()) == "postgresql.service (postgres)"


def test_group_rows_sum_up_their_ports() -> None:
    model = AppTreeModel(haystack)
    model.apply(sample())
    texts = {
        str(model.index(row, AppTreeColumn.NAME).data()): (
            model.index(row, AppTreeColumn.SUMMARY).data(),
            model.index(row, AppTreeColumn.EXPOSURE).data(),
        )
        for row in range(model.rowCount())
    }
    # 0.0.0.0:80 and [::]:80 held by the same processes are one port to a person.
    assert texts["nginx"] == ("2 ports · widest: every network", "public")
    assert texts["shop-frontend"] == ("2 ports · widest: this machine only", "loopback")
    assert texts["http.server"] == ("1 port · widest: this machine only", "loopback")
    group = model.index(model.group_row("nginx") or 0, 0)
    child = model.index(0, AppTreeColumn.SUMMARY, group)
    assert child.data() == "nginx (3 processes)"
    assert child.data(ITEM_ROLE).port == 80
    assert model.index(0, AppTreeColumn.NAME, group).data(SORT_ROLE) == 80
    assert child.parent() == group
    assert model.index(0, 0, child) == QModelIndex()  # a port has no children


def test_a_port_label_shows_on_its_row_and_the_group_keeps_its_name() -> None:
    model = AppTreeModel(haystack)
    model.apply(sample())
    spy = Spy(model)
    model.set_labels(Labels(ports={3000: "Shop frontend"}))
    row = model.group_row("shop-frontend")
    assert row is not None
    group = model.index(row, 0)
    ports = {
        model.index(n, 0, group).data(): model.index(n, AppTreeColumn.SUMMARY, group).data()
        for n in range(model.rowCount(group))
    }
    assert ports == {"3000": "Shop frontend", "5173": "vite — shop-frontend"}
    # Only the labelled port's row changed; no group came or went.
    summary = AppTreeColumn.SUMMARY
    assert spy.take() == [("dataChanged", ("shop-frontend", 0, 0, summary, summary))]


def test_updates_are_incremental_on_both_levels() -> None:
    model = AppTreeModel(haystack)
    rows = sample()
    model.apply(rows, generation=1)
    spy = Spy(model)

    # The generation applied last: nothing at all.
    model.apply([*rows, listener(9999)], generation=1)
    assert spy.take() == []

    # A port more for nginx: inserted under nginx, and nginx's summary changes.
    model.apply([*rows, nginx(8080, "127.0.0.1")], generation=2)
    nginx_row = model.group_row("nginx")
    assert spy.take() == [
        ("rowsInserted", ("nginx", 3, 3)),
        ("dataChanged", (None, nginx_row, nginx_row, AppTreeColumn.SUMMARY, AppTreeColumn.SUMMARY)),
    ]

    # A connection on port 3000: its row and the group's count change.
    busy = [*rows[:3], replace(rows[3], connections=2), *rows[4:]]
    model.apply(busy, generation=3)
    shop_row = model.group_row("shop-frontend")
    seen = spy.take()
    conns = AppTreeColumn.CONNECTIONS
    assert ("dataChanged", ("shop-frontend", 0, 0, conns, conns)) in seen
    assert (
        "dataChanged",
        (None, shop_row, shop_row, AppTreeColumn.CONNECTIONS, AppTreeColumn.CONNECTIONS),
    ) in seen
    assert ("rowsRemoved", ("nginx", 3, 3)) in seen  # 8080 is gone again

    # The last port of a group goes: the group goes, nothing else moves.
    model.apply(busy[:-1], generation=4)
    assert spy.take() == [("rowsRemoved", (None, 2, 2))]
    assert "http.server" not in tree_of(model)

    # A new app: one group row inserted with its port already under it.
    model.apply([*busy[:-1], listener(6379, process="redis-server", pid=63)], generation=5)
    assert spy.take() == [("rowsInserted", (None, 2, 2))]
    assert tree_of(model)["redis-server"] == [6379]


def test_a_label_renames_the_group_in_place() -> None:
    model = AppTreeModel(haystack)
    model.apply(sample())
    spy = Spy(model)
    row = model.group_row("nginx")
    kept = QPersistentModelIndex(model.index(0, 0, model.index(row or 0, 0)))
    model.set_labels(Labels(apps={"nginx": "Web server"}))
    assert model.group_row("Web server") == row
    # The group's name, and its ports' "held by" (the label comes first there too).
    summary = AppTreeColumn.SUMMARY
    assert spy.take() == [
        ("dataChanged", ("Web server", 0, 2, summary, summary)),
        ("dataChanged", (None, row, row, AppTreeColumn.NAME, AppTreeColumn.NAME)),
    ]
    group = model.index(row or 0, 0)
    assert model.index(0, summary, group).data() == "Web server (3 processes)"
    assert kept.isValid()  # the view keeps its selection and expansion
    assert kept.parent().data() == "Web server"
    model.set_labels(Labels())
    assert model.group_row("nginx") == row


def churn(seed: int, polls: int) -> list[tuple[list[Listener], Labels]]:
    """Scans where apps come and go, ports move between apps, projects appear, labels change."""
    rng = random.Random(seed)
    apps = ["nginx", "node", "vite", "redis-server", "python3", None]
    projects = [None, None, "shop-frontend", "blog"]
    label_sets = [Labels(), Labels(apps={"node": "Node things"}), Labels(ports={3001: "API"})]
    scans = []
    for _ in range(polls):
        rows: list[Listener] = []
        for port in rng.sample(range(3000, 3030), rng.randint(0, 18)):
            app = rng.choice(apps)
            address = rng.choice(["127.0.0.1", "0.0.0.0", "::"])
            if app is None:
                rows.append(listener(port, address, pid=None, user="root", unit="x.service"))
                continue
            rows.append(
                listener(
                    port,
                    address,
                    process=app,
                    pid=100 + apps.index(app),
                    project=rng.choice(projects),
                    connections=rng.randint(0, 2),
                )
            )
        scans.append((rows, rng.choice(label_sets)))
    return scans


def expected(rows: list[Listener], labels: Labels) -> dict[str, list[int]]:
    shape: dict[str, list[int]] = {}
    for row in rows:
        shape.setdefault(group_name(row, labels), []).append(row.port)
    return {name: sorted(ports) for name, ports in shape.items()}


def test_model_and_filter_pass_qts_model_tester_through_churn(
    qtmodeltester: ModelTester,
) -> None:
    model = AppTreeModel(haystack)
    proxy = AppTreeProxy()
    proxy.setSourceModel(model)
    proxy.sort(AppTreeColumn.NAME)
    qtmodeltester.check(model)
    spy = Spy(model)
    for generation, (rows, labels) in enumerate(churn(seed=14, polls=60), start=1):
        model.set_labels(labels)
        model.apply(snapshot(rows).listeners, generation=generation)
        assert tree_of(model) == expected(rows, labels)
        if generation % 7 == 0:
            proxy.set_search("node" if generation % 2 else "30")
        if generation % 11 == 0:
            proxy.set_toggles(ListenerToggles(hide_loopback=generation % 2 == 0))
    names = {name for name, _where in spy.seen}
    assert "modelReset" not in names
    assert "layoutChanged" not in names
    assert {"rowsInserted", "rowsRemoved", "dataChanged"} <= names


def test_filter_keeps_groups_with_a_matching_port(qtmodeltester: ModelTester) -> None:
    model = AppTreeModel(haystack)
    model.apply(sample())
    proxy = AppTreeProxy()
    proxy.setSourceModel(model)
    proxy.sort(AppTreeColumn.NAME)
    qtmodeltester.check(proxy)

    def shown() -> dict[str, list[str]]:
        return {
            str(proxy.index(row, 0).data()): [
                str(proxy.index(n, 0, proxy.index(row, 0)).data())
                for n in range(proxy.rowCount(proxy.index(row, 0)))
            ]
            for row in range(proxy.rowCount())
        }

    assert list(shown()) == ["http.server", "nginx", "shop-frontend"]  # sorted by name
    assert shown()["nginx"] == ["80", "80", "443"]  # ports in port order
    proxy.set_search("shop")  # the group's name finds all of its ports
    assert shown() == {"shop-frontend": ["3000", "5173"]}
    proxy.set_search("5173")
    assert shown() == {"shop-frontend": ["5173"]}
    proxy.set_search("")
    proxy.set_toggles(ListenerToggles(only_public=True))
    assert shown() == {"nginx": ["80", "80", "443"]}
