"""Turning two snapshots into events: bound, freed, owner changed, exposure changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from portwatch.core.model import Exposure, Listener, OwnerUnknown, Snapshot
from portwatch.core.naming import NO_LABELS, Labels, who_text


class EventKind(StrEnum):
    BOUND = "bound"
    FREED = "freed"
    OWNER_CHANGED = "owner_changed"
    EXPOSURE_CHANGED = "exposure_changed"


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    listener: Listener
    at: float
    # The listener before the change (owner or exposure change), if any.
    previous: Listener | None = None

    def to_json(self, label: str | None = None) -> dict[str, Any]:
        """The event, the listener's every field and ``label`` (the user's name for it)."""
        data: dict[str, Any] = {"event": str(self.kind), "time": self.at}
        data.update(self.listener.to_json(label))
        if self.previous is not None:
            data["previous_pid"] = self.previous.pid
            data["previous_process"] = self.previous.process
            data["previous_exposure"] = str(self.previous.exposure)
            data["previous_address"] = self.previous.address
        return data

    def describe(self, labels: Labels = NO_LABELS) -> str:
        """One line for a terminal: owners as :func:`naming.who_text` words them.

        'bound    tcp 127.0.0.1:3000 by http.server — shop-frontend (PID 4242) · loopback'.
        """
        row = self.listener
        who = who_text(row, labels.for_listener(row))
        where = f"{row.proto} {row.endpoint}"
        if self.kind is EventKind.BOUND:
            return f"bound    {where} by {who} · {row.exposure}"
        if self.kind is EventKind.FREED:
            return f"freed    {where} (was {who})"
        if self.kind is EventKind.OWNER_CHANGED:
            previous = self.previous
            before = who_text(previous, labels.for_listener(previous)) if previous else "?"
            return f"owner    {where}: {before} → {who}"
        before_exp = self.previous.exposure if self.previous else "?"
        return f"exposure {where}: {before_exp} → {row.exposure} ({who})"


Binding = tuple[str, int, str, int]  # (proto, family, address, port)


def _widest(rows: Iterable[Listener]) -> Listener:
    return max(rows, key=lambda r: r.exposure.rank)


def _holders(rows: Iterable[Listener]) -> set[int]:
    """Every process holding any of ``rows`` (a row without ``pids`` stands for its ``pid``)."""
    held: set[int] = set()
    for row in rows:
        held.update(row.holder_pids)
    return held


def _exposure_changes(
    old: Iterable[Listener], new: Iterable[Listener], at: float
) -> tuple[list[Event], set[tuple[str, int]]]:
    """One event per port the same processes now hold on a wider or narrower bind,
    and the ports (proto, port) those events stand for."""
    events: list[Event] = []
    handled: set[tuple[str, int]] = set()
    old_ports: dict[tuple[str, int], list[Listener]] = defaultdict(list)
    new_ports: dict[tuple[str, int], list[Listener]] = defaultdict(list)
    for row in old:
        old_ports[(row.proto, row.port)].append(row)
    for row in new:
        new_ports[(row.proto, row.port)].append(row)

    for port_key, new_rows in new_ports.items():
        old_rows = old_ports.get(port_key)
        if not old_rows:
            continue
        old_addresses = {(r.family, r.address) for r in old_rows}
        new_addresses = {(r.family, r.address) for r in new_rows}
        if old_addresses == new_addresses:
            continue
        old_pids = _holders(old_rows)
        new_pids = _holders(new_rows)
        if old_pids and new_pids and not old_pids & new_pids:
            # Another process took the port on another address between two scans
            # (a dev server restarted with --host): the old one freed it, the new
            # one bound it, and the history must say who held it when.
            continue
        was, now = _widest(old_rows), _widest(new_rows)
        if was.exposure is not now.exposure:
            events.append(Event(EventKind.EXPOSURE_CHANGED, now, at, previous=was))
            handled.add(port_key)
    return events, handled


def diff(old: Snapshot | None, new: Snapshot) -> list[Event]:
    """Events that lead from ``old`` to ``new``.

    A listener is one socket (one row per bind, every holder on it), so a
    socket that changes hands among its holders (a pre-fork server's worker
    respawned, a reload that replaces every worker) is no news while its main
    holder stays, and an owner change when the main holder changes: never a
    freed plus a bound. A port that stays occupied by the same processes but
    moves to a wider or narrower bind (a dev server that rebinds on 0.0.0.0
    instead of 127.0.0.1) is one ``exposure_changed`` event, not a freed plus
    a bound; if another process took it, it is a freed plus a bound. An
    owner that was unknown and becomes known (or the reverse) is not a change
    of owner: it is the same socket seen with more or less privilege.

    A stale snapshot (the table could not be read) is no news: no events
    lead to it, and none from it (it may stand for no picture at all).
    """
    if old is None or old.stale is not None or new.stale is not None:
        return []
    at = new.taken_at
    before = old.by_key()
    after = new.by_key()
    events, exposure_handled = _exposure_changes(old.listeners, new.listeners, at)

    for key, row in after.items():
        if (key[0], key[3]) in exposure_handled:
            continue
        previous = before.get(key)
        if previous is None:
            events.append(Event(EventKind.BOUND, row, at))
        elif previous.pid is not None and row.pid is not None and previous.pid != row.pid:
            events.append(Event(EventKind.OWNER_CHANGED, row, at, previous=previous))

    events.extend(
        Event(EventKind.FREED, row, at)
        for key, row in before.items()
        if key not in after and (key[0], key[3]) not in exposure_handled
    )

    order = {
        EventKind.FREED: 0,
        EventKind.OWNER_CHANGED: 1,
        EventKind.EXPOSURE_CHANGED: 2,
        EventKind.BOUND: 3,
    }
    events.sort(key=lambda e: (order[e.kind], e.listener.port, e.listener.address))
    return events


def exposure_of(rows: Iterable[Listener]) -> Exposure | None:
    rows = list(rows)
    return _widest(rows).exposure if rows else None


class PendingOwnerGate:
    """Holds back new sockets whose owner is still being looked up.

    The Linux owner walk may need a poll or two for a socket it has not seen
    (see ``OwnerUnknown.PENDING``). An alert or a history row written at once
    would say "owner unknown: looking up" and never name the process; held
    back for at most ``max_scans`` scans, the socket arrives with its owner.
    Sockets already known, and every socket of the first snapshot, pass at once.
    """

    def __init__(self, max_scans: int = 5) -> None:
        self.max_scans = max_scans
        self._waited: dict[Binding, int] = {}

    def settle(self, previous: Snapshot | None, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` without the new sockets still waiting for their owner."""
        if snapshot.stale is not None:
            return snapshot  # no news: nothing to hold back, nothing to count
        if previous is None:
            self._waited.clear()
            return snapshot
        known = {(r.proto, r.family, r.address, r.port) for r in previous.listeners}
        waited: dict[Binding, int] = {}
        held: set[Binding] = set()
        for row in snapshot.listeners:
            binding = (row.proto, row.family, row.address, row.port)
            if row.owner_unknown is not OwnerUnknown.PENDING or binding in known:
                continue
            scans = self._waited.get(binding, 0) + 1
            if scans <= self.max_scans:
                waited[binding] = scans
                held.add(binding)
        self._waited = waited
        if not held:
            return snapshot
        kept = tuple(
            row
            for row in snapshot.listeners
            if (row.proto, row.family, row.address, row.port) not in held
        )
        return replace(snapshot, listeners=kept)
