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
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from portwatch.core.alerts.alert import Alert, AlertKind, Urgency
from portwatch.core.alerts.policy import (
    alerts_for_exposure,
    is_ignored,
    owner_matches,
    watch_for,
    widest,
)
from portwatch.core.alerts.texts import holder_name, items_text, reach, shown, summarize, who
from portwatch.core.diff import Event, EventKind
from portwatch.core.exposure import is_loopback_peer
from portwatch.core.model import Exposure, Listener, ListenerKey, Snapshot
from portwatch.core.naming import NO_LABELS
from portwatch.core.person_ports import count_ports
from portwatch.core.settings import Settings, WatchedPort

_QUIET_GROUP = {
    AlertKind.OCCUPIED: "occupancy",
    AlertKind.FREED: "occupancy",
    AlertKind.UNEXPECTED_OWNER: "owner",
    AlertKind.EXPOSURE_POLICY: "exposure",
    AlertKind.EXPOSED: "exposure",
    AlertKind.REMOTE_CLIENT: "remote",
}


class AlertRules:
    """Turns scans into alerts; holds the quiet-period timers and seen remote clients."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_alert: dict[tuple[str, int], float] = {}
        self._remote_seen: set[ListenerKey] = set()
        self._started = False
        self._labels = NO_LABELS  # the user's names, from the settings of the scan at hand

    def reset(self) -> None:
        """Forget everything: the next snapshot is treated as a start-up."""
        self._last_alert.clear()
        self._remote_seen.clear()
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
        for rows in bound.values():
            candidates.extend(self._bound(rows, new.taken_at, settings))
        for (proto, port), rows in freed.items():
            still_held = any(r.proto == proto for r in new.on_port(port))
            if not still_held:
                candidates.extend(self._freed(rows, new.taken_at, settings))
        candidates.extend(self._remote_clients(new, settings))

        alerts = self._apply_quiet_period(candidates, settings)
        return self._batch(alerts, new.taken_at, settings)

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
            return [self._exposed(row, at, f"is open to {reach(row.exposure)}{in_use}", body)]
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
        """The exposure alert: 'Port 8000 <what>', critical when the whole network can reach it."""
        return self._alert(
            AlertKind.EXPOSED,
            row,
            at,
            f"Port {row.port} {what}",
            body=body,
            urgency=Urgency.CRITICAL if row.exposure is Exposure.PUBLIC else Urgency.NORMAL,
        )

    def _freed(self, rows: list[Listener], at: float, settings: Settings) -> list[Alert]:
        row = widest(rows)
        watch = watch_for(settings, row.port, row.proto)
        if watch is None or not watch.notify_freed:
            return []
        endpoints = ", ".join(dict.fromkeys(r.endpoint for r in rows))
        return [
            self._alert(
                AlertKind.FREED,
                row,
                at,
                f"Port {row.port} is free",
                body=f"{self._who(row)} stopped listening on {row.proto} {endpoints}",
                urgency=Urgency.LOW,
            )
        ]

    def _owner_changed(self, event: Event, settings: Settings) -> list[Alert]:
        row, before = event.listener, event.previous
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
            holders = row.pids or (row.pid,)
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

    def _apply_quiet_period(self, alerts: list[Alert], settings: Settings) -> list[Alert]:
        now = self._clock()
        result: list[Alert] = []
        for alert in alerts:
            group = _QUIET_GROUP.get(alert.kind)
            if group is None or alert.port is None:
                result.append(alert)
                continue
            key = (group, alert.port)
            last = self._last_alert.get(key)
            if last is not None and now - last < settings.quiet_period:
                result.append(replace(alert, notify=False, suppressed=True))
                continue
            self._last_alert[key] = now
            result.append(alert)
        # Forget timers that can no longer matter, so the dict stays small.
        horizon = now - settings.quiet_period
        for key in [k for k, t in self._last_alert.items() if t < horizon]:
            del self._last_alert[key]
        return result

    def _batch(self, alerts: list[Alert], at: float, settings: Settings) -> list[Alert]:
        loud = [a for a in alerts if a.notify]
        if len(loud) < settings.summary_threshold:
            return alerts
        quiet = [replace(a, notify=False) if a.notify else a for a in alerts]
        return [*quiet, summarize(loud, at)]

    def _alert(
        self,
        kind: AlertKind,
        row: Listener,
        at: float,
        title: str,
        *,
        body: str,
        urgency: Urgency = Urgency.NORMAL,
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
            ports=(row.port,),
        )

    def _who(self, row: Listener) -> str:
        """'Shop frontend (PID 4242)', 'nginx (PID 40, +2 more)': the holder in a sentence."""
        return who(row, self._labels)

    def _holder(self, row: Listener) -> str:
        """'Shop frontend', 'http.server — shop-frontend': the holder alone, for titles."""
        return holder_name(row, self._labels)
