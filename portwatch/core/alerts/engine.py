"""The alert rules: from two scans and the diff between them to :class:`Alert` values.

Pure logic: :meth:`AlertRules.evaluate` takes the previous and new snapshot,
the diff events between them and the settings, and returns :class:`Alert`
values. The only state (when each port last alerted, which listeners already
had a remote client) lives in the :class:`AlertRules` object; the clock is
injected so tests can drive time.

Noise control, in order:

1. The first snapshot gives one start-up summary, never one alert per listener.
2. Several listeners of one process on one port (0.0.0.0 and :: of the same
   server) make one alert.
3. Quiet period: a port alerts at most once per ``settings.quiet_period`` per
   kind of news (in use/free, owner, exposure, remote client); later alerts
   are kept for the Alerts list but not notified.
4. Batching: when ``settings.summary_threshold`` or more alerts would be
   notified from one scan, one summary is notified instead ("6 ports opened
   by node") and the single alerts go to the Alerts list only.
5. Restarts: the same program taking a port it left within a minute (a
   worker respawned, a reload, a dev server restarted), reaching no further,
   is no exposure alert; on a watched port it is one "restarted" notice.
6. Short-lived ports (the OS's ephemeral range): the first of a program is
   told, the rest of the minute become one summary.
7. A port told as taken and freed soon after gets a quiet ``withdrawn``
   alert: its notification, if still on screen, is taken away.

Critical urgency is kept for a broken port policy (an unexpected owner, a
bind wider than allowed): everything else is normal and leaves with the
notification server's timeout.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.alerts.ephemeral import EphemeralBatch
from portwatch.core.alerts.policy import (
    alerts_for_exposure,
    is_ignored,
    owner_matches,
    watch_for,
    widest,
)
from portwatch.core.alerts.quiet import QuietPeriod, batch
from portwatch.core.alerts.restarts import RecentlyFreed, is_restart
from portwatch.core.alerts.texts import holder_name, items_text, reach, shown, who
from portwatch.core.diff import Event, EventKind
from portwatch.core.exposure import is_loopback_peer
from portwatch.core.model import Listener, ListenerKey, Snapshot
from portwatch.core.naming import NO_LABELS
from portwatch.core.person_ports import count_ports
from portwatch.core.settings import Settings, WatchedPort

# Alerts that tell a port is taken: withdrawn when it is freed within WITHDRAW_WINDOW.
_TAKEN = frozenset(
    {AlertKind.EXPOSED, AlertKind.OCCUPIED, AlertKind.RESTARTED, AlertKind.UNEXPECTED_OWNER}
)
# Seconds a taken-port notification may still be on screen: critical ones stay until
# dismissed, others leave with the server's timeout (dunst: 10 s) unless hovered.
WITHDRAW_WINDOW = 600.0


class AlertRules:
    """Turns scans into alerts; holds the quiet-period timers and seen remote clients."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._quiet = QuietPeriod(clock)
        self._remote_seen: set[ListenerKey] = set()
        self._started = False
        self._labels = NO_LABELS  # the user's names, from the settings of the scan at hand
        self._recently_freed = RecentlyFreed()
        self._short_lived = EphemeralBatch()
        # Ports (proto, port) told as taken, and when (the clock): freed again soon
        # after, their notification is withdrawn.
        self._told_taken: dict[tuple[str, int], float] = {}

    def reset(self) -> None:
        """Forget everything: the next snapshot is treated as a start-up."""
        self._quiet.clear()
        self._remote_seen.clear()
        self._recently_freed.clear()
        self._short_lived.clear()
        self._told_taken.clear()
        self._started = False

    def evaluate(
        self,
        previous: Snapshot | None,
        new: Snapshot,
        events: Sequence[Event],
        settings: Settings,
    ) -> list[Alert]:
        if new.stale is not None:
            return []  # the table could not be read: no news, so no alerts
        self._labels = settings.labels
        if previous is None or not self._started:
            self._started = True
            self._remote_seen = {row.key for row in new.listeners if row.remote_connections > 0}
            return [self._startup(new, settings)]

        candidates: list[Alert] = []
        bound: dict[tuple[str, int, int | None], list[Listener]] = defaultdict(list)
        freed: dict[tuple[str, int], list[Listener]] = defaultdict(list)
        for event in events:
            row = event.listener
            if event.kind is EventKind.BOUND:
                bound[(row.proto, row.port, row.pid)].append(row)
            elif event.kind is EventKind.FREED:
                freed[(row.proto, row.port)].append(row)
            elif event.kind is EventKind.OWNER_CHANGED:
                candidates.extend(self._owner_changed(event, settings))
            else:
                candidates.extend(self._exposure_changed(event, settings))
        now = self._clock()
        # Freed first: a port left and taken again in one scan is a restart.
        for (proto, port), rows in freed.items():
            still_held = any(r.proto == proto for r in new.on_port(port))
            if not still_held:
                self._recently_freed.freed(widest(rows), now)
                candidates.extend(self._freed(rows, new.taken_at, settings))
        for rows in bound.values():
            restarted = self._recently_freed.restart_of(widest(rows), now)
            if restarted is not None:
                candidates.extend(self._restarted(widest(rows), restarted, new.taken_at, settings))
            else:
                candidates.extend(self._bound(rows, new.taken_at, settings))
        candidates.extend(self._remote_clients(new, settings))

        alerts = self._quiet.apply(candidates, settings.quiet_period)
        alerts += self._short_lived.due(now, new.taken_at)
        alerts = batch(alerts, new.taken_at, settings.summary_threshold)
        self._remember_told(alerts, now)
        return alerts

    # --- one kind of event each ---

    def _bound(self, rows: list[Listener], at: float, settings: Settings) -> list[Alert]:
        row = widest(rows)
        watch = watch_for(settings, row.port, row.proto)
        exposed = alerts_for_exposure(row, settings)
        endpoints = ", ".join(dict.fromkeys(r.endpoint for r in rows))
        listens = f"{self._who(row)} listens on {row.proto} {endpoints}"
        policy = self._policy(row, watch, at, listens)
        if policy is not None:
            if exposed and policy.kind is AlertKind.UNEXPECTED_OWNER:
                body = f"{policy.body} · reachable from {reach(row.exposure)}"
                policy = replace(policy, body=body)
            return [policy]
        if exposed:
            in_use = " (a watched port)" if watch is not None and watch.notify_occupied else ""
            body = f"{listens} ({row.exposure})"
            alert = self._exposed(row, at, f"is open to {reach(row.exposure)}{in_use}", body)
            # A watched port is told each time; a random high port once a minute per program.
            if row.ephemeral and watch is None:
                alert = self._short_lived.admit(alert, self._clock())
            return [alert]
        if watch is not None and watch.notify_occupied:
            return [
                self._alert(
                    AlertKind.OCCUPIED,
                    row,
                    at,
                    f"Port {row.port} is in use",
                    body=listens,
                )
            ]
        return []

    def _restarted(
        self, row: Listener, before: Listener, at: float, settings: Settings
    ) -> list[Alert]:
        """The program that left the port took it again: news on a watched port only."""
        watch = watch_for(settings, row.port, row.proto)
        context = f"{self._who(row)} took {row.proto} {row.endpoint} again"
        policy = self._policy(row, watch, at, context)
        if policy is not None:
            return [policy]
        if watch is None or not (watch.notify_occupied or watch.notify_freed):
            return []
        pids = f"PID {before.pid} → {row.pid}" if before.pid != row.pid else f"PID {row.pid}"
        return [
            self._alert(
                AlertKind.RESTARTED,
                row,
                at,
                f"Port {row.port} restarted ({pids})",
                body=context,
            )
        ]

    def _policy(
        self, row: Listener, watch: WatchedPort | None, at: float, context: str
    ) -> Alert | None:
        """A watched port's policy broken: a stranger owns it, or it is bound too widely."""
        if watch is None:
            return None
        if watch.expected_owner and owner_matches(row, watch.expected_owner) is False:
            return self._alert(
                AlertKind.UNEXPECTED_OWNER,
                row,
                at,
                f"Port {row.port}: unexpected owner {self._holder(row)}",
                body=f"{context}; expected {shown(watch.expected_owner)}",
                urgency=Urgency.CRITICAL,
            )
        allowed = watch.allowed_exposure
        if allowed is not None and row.exposure.rank > allowed.rank:
            return self._alert(
                AlertKind.EXPOSURE_POLICY,
                row,
                at,
                f"Port {row.port} is {row.exposure}, allowed {allowed} only",
                body=context,
                urgency=Urgency.CRITICAL,
            )
        return None

    def _exposed(self, row: Listener, at: float, what: str, body: str) -> Alert:
        """The exposure alert: 'Port 8000 <what>'. Critical is kept for broken policies."""
        return self._alert(
            AlertKind.EXPOSED,
            row,
            at,
            f"Port {row.port} {what}",
            body=body,
        )

    def _freed(self, rows: list[Listener], at: float, settings: Settings) -> list[Alert]:
        row = widest(rows)
        watch = watch_for(settings, row.port, row.proto)
        endpoints = ", ".join(dict.fromkeys(r.endpoint for r in rows))
        stopped = f"{self._who(row)} stopped listening on {row.proto} {endpoints}"
        if watch is not None and watch.notify_freed:
            # Told in the place of the "taken" notification, if that is still shown.
            return [self._alert(AlertKind.FREED, row, at, f"Port {row.port} is free", body=stopped)]
        told = self._told_taken.pop((row.proto, row.port), None)
        if told is None:
            return []
        title = f"Port {row.port} closed again"
        return [self._alert(AlertKind.WITHDRAWN, row, at, title, body=stopped, notify=False)]

    def _owner_changed(self, event: Event, settings: Settings) -> list[Alert]:
        row, before = event.listener, event.previous
        if before is not None and is_restart(before, row):
            return self._restarted(row, before, event.at, settings)
        was = self._who(before) if before is not None else "?"
        context = f"{self._who(row)} now holds {row.proto} {row.endpoint} (was {was})"
        watch = watch_for(settings, row.port, row.proto)
        policy = self._policy(row, watch, event.at, context)
        if policy is not None:
            return [policy]
        if alerts_for_exposure(row, settings):
            return [self._exposed(row, event.at, f"is open to {reach(row.exposure)}", context)]
        if watch is not None and watch.notify_occupied:
            return [
                self._alert(
                    AlertKind.OCCUPIED,
                    row,
                    event.at,
                    f"Port {row.port} changed owner",
                    body=context,
                )
            ]
        return []

    def _exposure_changed(self, event: Event, settings: Settings) -> list[Alert]:
        row, before = event.listener, event.previous
        if before is None or row.exposure.rank <= before.exposure.rank:
            return []  # narrower is good news; not worth a notification
        context = (
            f"{self._who(row)} moved from {before.endpoint} ({before.exposure}) "
            f"to {row.endpoint} ({row.exposure})"
        )
        policy = self._policy(row, watch_for(settings, row.port, row.proto), event.at, context)
        if policy is not None:
            return [policy]
        crossed = before.exposure.rank < settings.exposure_level.rank
        if crossed and alerts_for_exposure(row, settings):
            return [self._exposed(row, event.at, f"is now open to {reach(row.exposure)}", context)]
        return []

    def _remote_clients(self, new: Snapshot, settings: Settings) -> list[Alert]:
        live = {row.key for row in new.listeners}
        self._remote_seen &= live
        alerts: list[Alert] = []
        for row in new.listeners:
            if row.remote_connections <= 0 or row.key in self._remote_seen:
                continue
            self._remote_seen.add(row.key)
            if not settings.first_remote_client_alert or is_ignored(row, settings):
                continue
            # The connection is the holder's that accepted it: any of the socket's holders.
            holders = row.holder_pids
            peers = [
                conn.remote
                for conn in new.connections
                if conn.local_port == row.port
                and conn.proto == row.proto
                and (row.pid is None or conn.pid is None or conn.pid in holders)
                and not is_loopback_peer(conn.remote_address)
            ]
            peer = peers[0] if peers else "a machine on the network"
            alerts.append(
                self._alert(
                    AlertKind.REMOTE_CLIENT,
                    row,
                    new.taken_at,
                    f"First remote client on port {row.port}",
                    body=f"{peer} connected to {self._who(row)} on {row.proto} {row.endpoint}",
                )
            )
        return alerts

    # --- start-up, quiet period, batching ---

    def _startup(self, new: Snapshot, settings: Settings) -> Alert:
        lines: list[str] = []
        busy: list[str] = []
        problems: list[str] = []
        for watch in settings.watched_ports:
            held: dict[tuple[str, int], list[Listener]] = defaultdict(list)
            for row in new.listeners:
                if watch.ports.contains(row.port, row.proto):
                    held[(row.proto, row.port)].append(row)
            for (_, port), rows in sorted(held.items(), key=lambda kv: kv[0][1]):
                row = widest(rows)
                busy.append(f"{port} ({self._holder(row)})")
                policy = self._policy(row, watch, new.taken_at, "")
                if policy is not None:
                    problems.append(policy.title)
        exposed_rows: dict[tuple[str, int], Listener] = {}
        for row in new.listeners:
            if alerts_for_exposure(row, settings):
                exposed_rows.setdefault((row.proto, row.port), row)
        if settings.watched_ports:
            lines.append(
                f"Watched ports in use: {items_text(busy)}" if busy else "No watched port is in use"
            )
        if exposed_rows:
            described = [
                f"{port} ({self._holder(row)})"
                for (_, port), row in sorted(exposed_rows.items(), key=lambda kv: kv[0][1])
            ]
            lines.append(f"Open to {reach(settings.exposure_level)}: {items_text(described)}")
        lines.extend(problems)
        count = count_ports(new.listeners)  # a dual-stack pair is one port
        ports = tuple(sorted({row.port for row in exposed_rows.values()}))
        return Alert(
            kind=AlertKind.STARTUP,
            at=new.taken_at,
            title=f"portwatch is watching {count} port{'s' if count != 1 else ''} in use",
            body="\n".join(lines),
            urgency=Urgency.NORMAL if problems else Urgency.LOW,
            # Say it out loud only if there is something the user may want to act on.
            notify=bool(busy or exposed_rows or problems),
            ports=ports,
            port=ports[0] if len(ports) == 1 else None,
        )

    def _remember_told(self, alerts: list[Alert], now: float) -> None:
        """Which ports were just told as taken; forget those told too long ago to be shown."""
        for alert in alerts:
            told = alert.notify and alert.kind in _TAKEN
            if told and alert.port is not None and alert.proto is not None:
                self._told_taken[(alert.proto, alert.port)] = now
        horizon = now - WITHDRAW_WINDOW
        for key in [k for k, t in self._told_taken.items() if t < horizon]:
            del self._told_taken[key]

    def _alert(
        self,
        kind: AlertKind,
        row: Listener,
        at: float,
        title: str,
        *,
        body: str,
        urgency: Urgency = Urgency.NORMAL,
        notify: bool = True,
    ) -> Alert:
        return Alert(
            kind=kind,
            at=at,
            title=title,
            body=body,
            port=row.port,
            proto=row.proto,
            process=row.process,
            pid=row.pid,
            holder=self._holder(row),
            urgency=urgency,
            notify=notify,
            ports=(row.port,),
        )

    def _who(self, row: Listener) -> str:
        """'Shop frontend (PID 4242)', 'nginx (PID 40, +2 more)': the holder in a sentence."""
        return who(row, self._labels)

    def _holder(self, row: Listener) -> str:
        """'Shop frontend', 'http.server — shop-frontend': the holder alone, for titles."""
        return holder_name(row, self._labels)
