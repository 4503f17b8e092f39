"""What a listener is called: labels, app and project, holders, the service hint, person ports."""

from __future__ import annotations

import json

import pytest

from portwatch.core.model import Exposure, Listener, OwnerUnknown, ProcessInfo
from portwatch.core.naming import (
    Labels,
    app_and_project,
    holders_text,
    kernel_owner,
    process_text,
    search_words,
    service_words,
    who_text,
)
from portwatch.core.person_ports import count_ports, person_ports
from portwatch.core.settings_json import settings_from_json
from portwatch.core.settings_model import Settings, SettingsError, check_label
from tests.support.factories import listener


def _nginx(address: str = "0.0.0.0") -> Listener:
    master = ProcessInfo(pid=40, name="nginx", ppid=1)
    workers = (
        ProcessInfo(pid=41, name="nginx", ppid=40),
        ProcessInfo(pid=42, name="nginx", ppid=40),
    )
    return listener(
        80,
        address,
        pid=40,
        process="nginx",
        pids=(40, 41, 42),
        holders=(master, *workers),
        app="nginx",
        service="http",
    )


def test_process_text_for_the_shapes_people_meet() -> None:
    shop = listener(3000, process="python3", app="http.server", project="shop-frontend")
    assert process_text(shop) == "http.server — shop-frontend"
    assert process_text(_nginx()) == "nginx (3 processes)"
    postgres = listener(5432, process="postgres", app="postgres", unit="postgresql@15-main.service")
    assert process_text(postgres) == "postgres (postgresql@15-main.service)"
    web = listener(8080, process="docker-proxy", app="web", container="shop_web_1")
    assert process_text(web) == "web (shop_web_1)"
    assert process_text(shop, "Shop frontend") == "Shop frontend"


def test_a_project_named_like_its_app_is_not_said_twice() -> None:
    row = listener(5173, process="node", app="vite", project="vite")
    assert app_and_project(row) == "vite"


def test_a_hidden_owner_is_named_from_the_kernel_where_it_says() -> None:
    hidden = listener(
        5432,
        pid=None,
        owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES,
        user="postgres",
        unit="postgresql@15-main.service",
    )
    assert kernel_owner(hidden) == "postgresql@15-main.service (postgres)"
    assert process_text(hidden) == "postgresql@15-main.service (postgres)"
    only_user = listener(631, pid=None, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES, user="root")
    assert process_text(only_user) == "root's process"
    nothing = listener(631, pid=None, owner_unknown=OwnerUnknown.NEEDS_PRIVILEGES, user=None)
    assert process_text(nothing) == "owner unknown: needs privileges"


def test_holders_text_says_master_and_workers() -> None:
    assert holders_text(_nginx()) == "nginx: master + 2 workers"
    one = listener(3000, process="python3", app="http.server", pid=7)
    assert holders_text(one) == "http.server (PID 7)"
    mixed = listener(
        5353,
        process="avahi-daemon",
        pid=10,
        pids=(10, 20),
        holders=(ProcessInfo(pid=10, ppid=1), ProcessInfo(pid=20, ppid=900)),
        app="avahi-daemon",
    )
    assert holders_text(mixed) == "avahi-daemon and 1 other process"
    assert who_text(mixed) == "avahi-daemon (PID 10, +1 more)"


@pytest.mark.parametrize(
    ("port", "process", "app", "expected"),
    [
        (5432, "postgres", "postgres", ("postgresql", False)),  # the holder is the service
        (6379, "redis-server", "redis-server", ("redis", False)),
        (5173, "python3", "python3", ("usually vite", True)),  # a guess the owner does not confirm
        (5173, "python3", "http.server", ("", False)),  # recognised: it says more
        (9229, "socat", "socat", ("usually node-inspector", True)),
    ],
)
def test_service_words(port: int, process: str, app: str, expected: tuple[str, bool]) -> None:
    from portwatch.core.services import service_name

    row = listener(port, process=process, app=app, service=service_name(port, "tcp"))
    words = service_words(row)
    assert (words.text, words.hint) == expected


def test_search_words_hold_every_name() -> None:
    row = listener(3000, app="http.server", project="shop", unit="u.service", container="c1")
    assert search_words(row, "Shop frontend") == (
        "Shop frontend",
        "http.server",
        "shop",
        "u.service",
        "c1",
    )


def test_labels_by_port_before_app() -> None:
    labels = Labels(ports={3000: "Shop frontend"}, apps={"nginx": "Web server"})
    assert labels.for_listener(listener(3000, app="nginx")) == "Shop frontend"
    assert labels.for_listener(listener(80, app="nginx")) == "Web server"
    assert labels.for_listener(listener(81, app="caddy")) is None


def test_labels_go_through_the_settings_file_and_bad_ones_are_refused() -> None:
    settings = Settings().with_port_label(3000, "  Shop   frontend ").with_app_label("nginx", "Web")
    data = json.loads(json.dumps(settings.to_json()))
    assert data["port_labels"] == {"3000": "Shop frontend"}
    loaded, problems = settings_from_json(data)
    assert problems == []
    assert loaded.labels.for_listener(listener(3000)) == "Shop frontend"
    assert loaded.with_port_label(3000, "").port_labels == ()
    _, problems = settings_from_json({"port_labels": {"70000": "x"}})
    assert problems == ["'port_labels': port 70000 is out of range: ports are 1-65535"]
    _, problems = settings_from_json({"app_labels": {"nginx": 3}})
    assert len(problems) == 1
    assert "app_labels" in problems[0]
    with pytest.raises(SettingsError, match="control characters"):
        check_label("evil\x1b[31m")
    with pytest.raises(SettingsError, match="at most"):
        check_label("x" * 81)


def test_a_dual_stack_pair_held_by_the_same_processes_is_one_port() -> None:
    v4 = _nginx("0.0.0.0")
    v6 = _nginx("::")
    local = listener(5432, "127.0.0.1", pid=900)
    other = listener(5432, "192.168.1.5", pid=901)  # another program on the same number
    rows = [v4, v6, local, other]
    ports = person_ports(rows)
    assert [(p.port, len(p.listeners)) for p in ports] == [(80, 2), (5432, 1), (5432, 1)]
    assert count_ports(rows) == 3
    assert count_ports(rows, Exposure.PUBLIC) == 1
