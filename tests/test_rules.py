"""Alert rules: watched ports, exposure, policies, quiet period, batching, start-up."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.alerts.engine import AlertRules
from portwatch.core.alerts.texts import summarize
from portwatch.core.diff import diff
from portwatch.core.model import Connection, Exposure, Listener, Snapshot
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import Settings, WatchedPort
from tests.support.factories import node_listener as listener


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Run:
    """Feeds snapshots through diff + rules like the app does."""

    def __init__(self, settings: Settings, *initial: Listener) -> None:
        self.settings = settings
        self.clock = Clock()
        self.rules = AlertRules(self.clock)
        self.t = 1_700_000_000.0
        self.previous: Snapshot | None = None
        self.startup = self.step(*initial)

    def step(self, *rows: Listener, connections: tuple[Connection, ...] = ()) -> list[Alert]:
        self.t += 2
        new = Snapshot(self.t, 0.01, tuple(rows), connections)
        alerts = self.rules.evaluate(self.previous, new, diff(self.previous, new), self.settings)
        self.previous = new
        return alerts


WATCH_3000 = Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),), quiet_period=30)


def loud(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.notify]


def test_startup_is_one_summary_not_one_alert_per_listener() -> None:
    run = Run(
        WATCH_3000,
        listener(3000),
        listener(22, "0.0.0.0", pid=1, process="sshd"),
        listener(631, "127.0.0.1", pid=2, process="cupsd"),
        listener(8080, "::", pid=3, process="java"),
    )
    assert len(run.startup) == 1
    summary = run.startup[0]
    assert summary.kind is AlertKind.STARTUP
    assert summary.title == "portwatch is watching 4 ports in use"
    assert "Watched ports in use: 3000 (node)" in summary.body
    assert "Open to the network: 22 (sshd), 8080 (java)" in summary.body
    assert summary.notify
    # Nothing changed: nothing to say.
    assert run.previous is not None
    assert run.step(*run.previous.listeners) == []


def test_quiet_startup_is_not_notified() -> None:
    run = Run(Settings(), listener(631, pid=2, process="cupsd"))
    assert [a.notify for a in run.startup] == [False]


def test_watched_port_occupied_then_freed() -> None:
    run = Run(replace(WATCH_3000, quiet_period=0))
    alerts = run.step(listener(3000))
    assert [(a.kind, a.port, a.process) for a in alerts] == [(AlertKind.OCCUPIED, 3000, "node")]
    assert alerts[0].title == "Port 3000 is in use"
    assert alerts[0].body == "node (PID 100) listens on tcp 127.0.0.1:3000"
    freed = run.step()
    assert [(a.kind, a.port) for a in freed] == [(AlertKind.FREED, 3000)]
    # Critical is kept for broken policies: everything else leaves with the server's timeout.
    assert freed[0].urgency is Urgency.NORMAL
    assert freed[0].body == "node (PID 100) stopped listening on tcp 127.0.0.1:3000"


def test_unwatched_loopback_port_is_silent() -> None:
    run = Run(WATCH_3000)
    assert run.step(listener(4000)) == []


def test_dual_stack_server_is_one_alert() -> None:
    run = Run(WATCH_3000)
    alerts = run.step(listener(3000, "127.0.0.1"), listener(3000, "::1"))
    assert len(alerts) == 1
    assert "127.0.0.1:3000, [::1]:3000" in alerts[0].body


def test_notify_switches_per_watch() -> None:
    settings = Settings(
        watched_ports=(WatchedPort(PortSpec(3000, 3000), notify_occupied=False),), quiet_period=0
    )
    run = Run(settings)
    assert run.step(listener(3000)) == []
    assert [a.kind for a in run.step()] == [AlertKind.FREED]
    settings = Settings(
        watched_ports=(WatchedPort(PortSpec(3000, 3000), notify_freed=False),), quiet_period=0
    )
    run = Run(settings, listener(3000))
    assert run.step() == []


def test_protocol_specific_watch() -> None:
    settings = Settings(watched_ports=(WatchedPort(PortSpec(5353, 5353, "udp")),))
    run = Run(settings)
    assert run.step(listener(5353, proto="tcp")) == []
    run = Run(settings)
    assert [a.kind for a in run.step(listener(5353, proto="udp"))] == [AlertKind.OCCUPIED]


def test_public_bind_alerts_globally_and_names_port_and_process() -> None:
    run = Run(Settings())
    alerts = run.step(listener(8000, "0.0.0.0", pid=7, process="python3"))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind is AlertKind.EXPOSED
    assert alert.title == "Port 8000 is open to the network"
    assert alert.body == "python3 (PID 7) listens on tcp 0.0.0.0:8000 (public)"
    assert alert.urgency is Urgency.NORMAL


def test_lan_level_and_ignore_list() -> None:
    run = Run(Settings())
    assert run.step(listener(8000, "192.168.1.5")) == []
    run = Run(Settings(exposure_level=Exposure.LAN))
    assert [a.kind for a in run.step(listener(8000, "192.168.1.5"))] == [AlertKind.EXPOSED]
    run = Run(Settings(ignore_processes=("NODE",)))
    assert run.step(listener(8000, "0.0.0.0")) == []
    run = Run(Settings(ignore_ports=(PortSpec(8000, 8010, "tcp"),)))
    assert run.step(listener(8005, "0.0.0.0")) == []
    run = Run(Settings(exposure_alert=False))
    assert run.step(listener(8000, "0.0.0.0")) == []


def test_expected_owner_policy() -> None:
    settings = Settings(
        watched_ports=(
            WatchedPort(
                PortSpec(5432, 5432),
                expected_owner="postgres",
                allowed_exposure=Exposure.LOOPBACK,
            ),
        )
    )
    run = Run(settings)
    assert [a.kind for a in run.step(listener(5432, pid=9, process="postgres"))] == [
        AlertKind.OCCUPIED
    ]
    run = Run(settings)
    alerts = run.step(listener(5432, pid=9, process="nc"))
    assert [(a.kind, a.urgency) for a in alerts] == [(AlertKind.UNEXPECTED_OWNER, Urgency.CRITICAL)]
    assert alerts[0].title == "Port 5432: unexpected owner nc"
    assert alerts[0].body.endswith("expected postgres")
    # The right owner bound too widely.
    run = Run(settings)
    alerts = run.step(listener(5432, "0.0.0.0", pid=9, process="postgres"))
    assert [a.kind for a in alerts] == [AlertKind.EXPOSURE_POLICY]
    assert alerts[0].title == "Port 5432 is public, allowed loopback only"
    # By executable path, too; an owner we cannot see is not accused.
    by_exe = replace(
        settings,
        watched_ports=(WatchedPort(PortSpec(5432, 5432), expected_owner="/usr/bin/postgres"),),
    )
    assert [a.kind for a in Run(by_exe).step(listener(5432, process="postgres"))] == [
        AlertKind.OCCUPIED
    ]
    assert [a.kind for a in Run(by_exe).step(listener(5432, pid=None))] == [AlertKind.OCCUPIED]


def test_owner_change_on_watched_port() -> None:
    settings = Settings(
        watched_ports=(WatchedPort(PortSpec(3000, 3000), expected_owner="node"),), quiet_period=0
    )
    run = Run(settings, listener(3000, pid=1, process="node"))
    alerts = run.step(listener(3000, pid=2, process="ruby"))
    assert [a.kind for a in alerts] == [AlertKind.UNEXPECTED_OWNER]
    assert "was node (PID 1)" in alerts[0].body


def test_exposure_widening_alerts_and_narrowing_does_not() -> None:
    run = Run(Settings(quiet_period=0), listener(3000))
    alerts = run.step(listener(3000, "0.0.0.0"))
    assert [a.kind for a in alerts] == [AlertKind.EXPOSED]
    assert alerts[0].title == "Port 3000 is now open to the network"
    assert "moved from 127.0.0.1:3000 (loopback) to 0.0.0.0:3000 (public)" in alerts[0].body
    assert run.step(listener(3000)) == []


def test_flapping_port_alerts_once_per_quiet_period() -> None:
    run = Run(WATCH_3000)
    notified = []
    for _ in range(5):
        notified += loud(run.step(listener(3000)))
        notified += loud(run.step())
        run.clock.now += 2
    # In use, then one "restarted": the same program took it again.
    assert [a.kind for a in notified] == [AlertKind.OCCUPIED, AlertKind.RESTARTED]
    # The held-back alerts still exist, marked, for the Alerts list.
    run.clock.now += 31
    again = run.step(listener(3000))
    assert [(a.kind, a.notify, a.suppressed) for a in again] == [(AlertKind.RESTARTED, True, False)]
    held = run.step()
    assert [(a.kind, a.notify, a.suppressed) for a in held] == [(AlertKind.FREED, True, False)]
    # A stranger taking it within the minute is news, not a restart.
    other = run.step(listener(3000, pid=300, process="ruby", exe="/usr/bin/ruby"))
    assert [(a.kind, a.notify) for a in other] == [(AlertKind.OCCUPIED, False)]


def test_quiet_period_does_not_hide_a_worse_kind_of_news() -> None:
    run = Run(WATCH_3000)
    assert loud(run.step(listener(3000)))
    run.step()
    alerts = run.step(listener(3000, "0.0.0.0"))
    assert [(a.kind, a.notify) for a in alerts] == [(AlertKind.EXPOSED, True)]


def test_many_events_in_one_scan_become_one_summary() -> None:
    settings = Settings(
        watched_ports=(WatchedPort(PortSpec(3000, 3010)),),
    )
    run = Run(settings)
    alerts = run.step(*(listener(port, pid=50) for port in range(3000, 3006)))
    notified = loud(alerts)
    assert len(notified) == 1
    summary = notified[0]
    assert summary.kind is AlertKind.SUMMARY
    assert summary.title == "6 ports opened by node"
    assert summary.body == "Ports 3000, 3001, 3002, 3003, 3004, 3005"
    assert summary.ports == (3000, 3001, 3002, 3003, 3004, 3005)
    # Each single alert is still there for the Alerts list.
    assert sum(1 for a in alerts if a.kind is AlertKind.OCCUPIED and not a.notify) == 6


def test_summary_of_mixed_processes() -> None:
    run = Run(Settings(summary_threshold=3))
    alerts = run.step(
        listener(8000, "0.0.0.0", pid=1, process="node"),
        listener(8001, "0.0.0.0", pid=1, process="node"),
        listener(9000, "0.0.0.0", pid=2, process="python3"),
    )
    summary = loud(alerts)[0]
    assert summary.title == "3 port alerts"
    assert summary.body == "2 opened to the network by node; 1 opened to the network by python3"
    assert summary.urgency is Urgency.NORMAL


def test_below_threshold_stays_individual() -> None:
    run = Run(Settings())
    alerts = run.step(listener(8000, "0.0.0.0"), listener(8001, "0.0.0.0"))
    assert [a.kind for a in loud(alerts)] == [AlertKind.EXPOSED, AlertKind.EXPOSED]


def test_first_remote_client() -> None:
    settings = Settings(first_remote_client_alert=True, exposure_alert=False)
    run = Run(settings, listener(3000, "0.0.0.0"), listener(4000, "0.0.0.0", remote=1))
    peer = Connection("tcp", 4, "192.168.1.20", 3000, "192.168.1.77", 51000, "ESTABLISHED", 100)
    alerts = run.step(
        listener(3000, "0.0.0.0", remote=1),
        listener(4000, "0.0.0.0", remote=1),
        connections=(peer,),
    )
    # 4000 already had a remote client at start-up: not "first".
    assert [(a.kind, a.port) for a in alerts] == [(AlertKind.REMOTE_CLIENT, 3000)]
    assert alerts[0].body == "192.168.1.77:51000 connected to node (PID 100) on tcp 0.0.0.0:3000"
    # The second client is not news.
    assert run.step(listener(3000, "0.0.0.0", remote=2), listener(4000, "0.0.0.0")) == []
    off = Run(replace(settings, first_remote_client_alert=False), listener(3000, "0.0.0.0"))
    assert off.step(listener(3000, "0.0.0.0", remote=1)) == []


def test_summaries_count_ports_as_a_person_names_them() -> None:
    # 0.0.0.0:80 and [::]:80 of one nginx changed owner: two alerts, one port.
    def exposed(port: int, process: str) -> Alert:
        return Alert(AlertKind.EXPOSED, 1.0, f"Port {port}", "", port=port, process=process)

    summary = summarize([exposed(80, "nginx"), exposed(80, "nginx"), exposed(443, "caddy")], at=1.0)
    assert summary.body == "1 opened to the network by nginx; 1 opened to the network by caddy"
    alone = summarize([exposed(80, "nginx"), exposed(80, "nginx"), exposed(81, "nginx")], at=1.0)
    assert alone.title == "2 ports opened to the network by nginx"


def test_the_startup_summary_counts_a_dual_stack_pair_as_one_port() -> None:
    run = Run(Settings(), listener(80, "0.0.0.0", pid=1), listener(80, "::", pid=1))
    assert run.startup[0].title == "portwatch is watching 1 port in use"


def test_first_remote_client_of_a_pre_fork_server_names_the_peer_a_worker_accepted() -> None:
    """One socket, master 100 and workers 101, 102: the worker's connection is the socket's."""
    settings = Settings(first_remote_client_alert=True, exposure_alert=False)
    shared = (100, 101, 102)
    run = Run(settings, listener(8080, "0.0.0.0", pids=shared))
    peer = Connection("tcp", 4, "192.168.1.20", 8080, "192.168.1.77", 51000, "ESTABLISHED", 102)
    other = Connection("tcp", 4, "192.168.1.20", 8080, "192.168.1.99", 52000, "ESTABLISHED", 999)
    alerts = run.step(listener(8080, "0.0.0.0", remote=1, pids=shared), connections=(other, peer))
    assert [(a.kind, a.port) for a in alerts] == [(AlertKind.REMOTE_CLIENT, 8080)]
    assert (
        alerts[0].body
        == "192.168.1.77:51000 connected to node (PID 100, +2 more) on tcp 0.0.0.0:8080"
    )


def test_alerts_name_the_app_its_project_and_the_users_label() -> None:
    settings = Settings(watched_ports=(WatchedPort(PortSpec(3000, 3001)),), quiet_period=0)
    run = Run(settings)
    shop = listener(3000, app="http.server", project="shop-frontend", process="python3")
    alerts = run.step(shop)
    assert alerts[0].body == "http.server — shop-frontend (PID 100) listens on tcp 127.0.0.1:3000"
    assert alerts[0].holder == "http.server — shop-frontend"
    assert alerts[0].process == "python3"
    labelled = replace(settings, port_labels=((3000, "Shop frontend"),))
    run = Run(labelled)
    alerts = run.step(shop)
    assert alerts[0].body == "Shop frontend (PID 100) listens on tcp 127.0.0.1:3000"
    assert alerts[0].holder == "Shop frontend"
    # A label on the app names it on every port it takes.
    by_app = replace(settings, app_labels=(("http.server", "Docs preview"),))
    run = Run(by_app)
    alerts = run.step(replace(shop, port=3001))
    assert alerts[0].body.startswith("Docs preview (PID 100) listens on")


def test_a_summary_groups_alerts_by_app_not_by_process_name() -> None:
    run = Run(Settings(summary_threshold=3))
    alerts = run.step(
        listener(8000, "0.0.0.0", pid=1, process="python3", app="uvicorn app:main"),
        listener(8001, "0.0.0.0", pid=1, process="python3", app="uvicorn app:main"),
        listener(9000, "0.0.0.0", pid=2, process="python3", app="http.server", project="docs"),
    )
    summary = loud(alerts)[0]
    assert summary.title == "3 port alerts"
    assert summary.body == (
        "2 opened to the network by uvicorn app:main; 1 opened to the network by http.server — docs"
    )
    # Three alerts of one process name, two apps: the summary names no single holder.
    assert summary.process == "python3"
    assert summary.holder is None
    one = Run(Settings(summary_threshold=2))
    alerts = one.step(
        listener(8000, "0.0.0.0", pid=1, process="python3", app="uvicorn app:main"),
        listener(8001, "0.0.0.0", pid=1, process="python3", app="uvicorn app:main"),
    )
    assert loud(alerts)[0].title == "2 ports opened to the network by uvicorn app:main"
    assert loud(alerts)[0].holder == "uvicorn app:main"


def test_a_hidden_owner_is_named_by_the_unit_and_user_the_kernel_reports() -> None:
    settings = Settings(watched_ports=(WatchedPort(PortSpec(5432, 5432)),), quiet_period=0)
    run = Run(settings)
    hidden = listener(
        5432, pid=None, process=None, user="postgres", unit="postgresql@15-main.service"
    )
    alerts = run.step(hidden)
    assert alerts[0].body == ("postgresql@15-main.service (postgres) listens on tcp 127.0.0.1:5432")
    assert alerts[0].holder == "postgresql@15-main.service (postgres)"
    unknown = Run(settings)
    alerts = unknown.step(listener(5432, pid=None, process=None, user=None))
    assert alerts[0].body.startswith("owner unknown")
    assert alerts[0].holder == "owner unknown"


# --- restarts, withdrawals, short-lived ports -------------------------------------------


def shop(port: int, address: str = "0.0.0.0", pid: int = 700, **fields: Any) -> Listener:
    """python3 running the shop's dev server."""
    base: dict[str, Any] = {"process": "python3", "exe": "/usr/bin/python3.11", "project": "shop"}
    return listener(port, address, pid=pid, **{**base, **fields})


def test_the_same_program_taking_a_public_port_again_is_no_alert() -> None:
    run = Run(Settings(), shop(8000))
    assert run.step() == []  # freed: not watched, never told, nothing to say
    assert run.step(shop(8000, pid=701)) == []
    # Narrower is no news either.
    run.step()
    assert run.step(shop(8000, "127.0.0.1", pid=702)) == []


def test_a_restart_that_reaches_further_or_another_program_is_news() -> None:
    run = Run(Settings(), shop(8000, "127.0.0.1"))
    run.step()
    wider = run.step(shop(8000, pid=701))
    assert [(a.kind, a.notify) for a in wider] == [(AlertKind.EXPOSED, True)]
    run.step()
    run.clock.now += 31  # past the quiet period of the first
    other_project = run.step(shop(8000, pid=702, project="blog"))
    assert [(a.kind, a.notify) for a in other_project] == [(AlertKind.EXPOSED, True)]


def test_a_restart_after_the_window_is_a_new_start() -> None:
    run = Run(Settings(), shop(8000))
    run.step()
    run.clock.now += 61
    assert [a.kind for a in run.step(shop(8000, pid=701))] == [AlertKind.EXPOSED]


def test_a_watched_port_restarted_within_the_quiet_period_is_told_once() -> None:
    run = Run(WATCH_3000)
    assert [a.kind for a in loud(run.step(shop(3000, "127.0.0.1")))] == [AlertKind.OCCUPIED]
    run.clock.now += 5
    freed = run.step()
    assert [(a.kind, a.notify) for a in freed] == [(AlertKind.FREED, False)]  # quiet period
    restarted = run.step(shop(3000, "127.0.0.1", pid=701))
    assert [(a.kind, a.notify) for a in restarted] == [(AlertKind.RESTARTED, True)]
    assert restarted[0].title == "Port 3000 restarted (PID 700 → 701)"
    assert restarted[0].body == "python3 — shop (PID 701) took tcp 127.0.0.1:3000 again"
    assert restarted[0].urgency is Urgency.NORMAL


def test_a_restart_between_two_scans_is_one_notice_not_an_owner_change() -> None:
    run = Run(WATCH_3000, shop(3000))
    # The same socket key, a new process of the same program: no "open to the network".
    alerts = run.step(shop(3000, pid=701))
    assert [(a.kind, a.notify) for a in alerts] == [(AlertKind.RESTARTED, True)]
    unwatched = Run(Settings(), shop(8000))
    assert unwatched.step(shop(8000, pid=701)) == []


def test_a_restart_that_breaks_a_policy_is_still_critical() -> None:
    watch = WatchedPort(PortSpec(3000, 3000), allowed_exposure=Exposure.LOOPBACK)
    run = Run(Settings(watched_ports=(watch,)), shop(3000))
    run.step()
    alerts = run.step(shop(3000, pid=701))
    assert [(a.kind, a.urgency) for a in alerts] == [(AlertKind.EXPOSURE_POLICY, Urgency.CRITICAL)]


def test_a_port_told_as_open_and_gone_soon_after_is_withdrawn() -> None:
    run = Run(Settings())
    opened = run.step(shop(9000))
    assert [(a.kind, a.notify) for a in opened] == [(AlertKind.EXPOSED, True)]
    gone = run.step()
    assert [(a.kind, a.notify, a.port) for a in gone] == [(AlertKind.WITHDRAWN, False, 9000)]
    assert gone[0].title == "Port 9000 closed again"
    assert gone[0].body == "python3 — shop (PID 700) stopped listening on tcp 0.0.0.0:9000"
    # Once is enough: a port never told is not withdrawn.
    run.clock.now += 120
    assert run.step(shop(9001, "127.0.0.1")) == []
    assert run.step() == []


def test_short_lived_ports_of_one_program_are_one_summary_a_minute() -> None:
    run = Run(Settings())
    told = []
    for port in range(41000, 41006):
        told += run.step(shop(port, ephemeral=True, pid=port))
        run.clock.now += 5
    # The first is told at once; the other five are listed quietly.
    assert [(a.port, a.notify) for a in told if a.kind is AlertKind.EXPOSED] == [
        (41000, True),
        *((port, False) for port in range(41001, 41006)),
    ]
    assert not [a for a in told if a.kind is AlertKind.SUMMARY]
    run.clock.now += 30
    later = loud(run.step())
    assert [a.kind for a in later] == [AlertKind.SUMMARY]
    assert later[0].title == "5 ports opened to the network by python3 — shop"
    assert later[0].body == (
        "Ports 41001, 41002, 41003, 41004, 41005: short-lived ports, in the last minute"
    )
    # A watched port in that range is told each time.
    watched = Run(Settings(watched_ports=(WatchedPort(PortSpec(41000, 41010)),)))
    alerts = [watched.step(shop(port, ephemeral=True, pid=port)) for port in (41000, 41001)]
    exposed = [[a.notify for a in step if a.kind is AlertKind.EXPOSED] for step in alerts]
    assert exposed == [[True], [True]]
