"""The words of an alert: who holds a port, how far it reaches, lists of ports, summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from portwatch.core.alerts.alert import Alert, AlertKind
from portwatch.core.model import Exposure, Listener
from portwatch.core.naming import NO_LABELS, Labels, app_and_project, kernel_owner, who_text
from portwatch.core.owner_text import OWNER_UNKNOWN
from portwatch.core.safetext import mask_text, visible

VERB = {
    AlertKind.OCCUPIED: "opened",
    AlertKind.FREED: "freed",
    AlertKind.EXPOSED: "opened to the network",
    AlertKind.UNEXPECTED_OWNER: "taken unexpectedly",
    AlertKind.EXPOSURE_POLICY: "bound too widely",
    AlertKind.REMOTE_CLIENT: "reached from the network",
    AlertKind.RESTARTED: "restarted",
}

LIST_LIMIT = 6


def shown(text: str) -> str:
    """Process text as alert texts carry it: secrets masked, one line, escapes visible.

    Alert texts go to notifications, the Alerts list and the history, so a
    process cannot put markup, terminal sequences or a password in them.
    """
    return visible(mask_text(text))


def who(listener: Listener, labels: Labels = NO_LABELS) -> str:
    """'http.server — shop-frontend (PID 4242)', 'nginx (PID 40, +2 more)', 'Shop frontend
    (PID 4242)', 'postgresql@15-main.service (postgres)' or 'owner unknown: needs privileges'.
    """
    return shown(who_text(listener, labels.for_listener(listener)))


def holder_name(listener: Listener, labels: Labels = NO_LABELS) -> str:
    """'Shop frontend', 'http.server — shop-frontend', 'nginx': the name alone, for titles."""
    label = labels.for_listener(listener)
    if label:
        return shown(label)
    if listener.pid is None:
        return shown(kernel_owner(listener) or OWNER_UNKNOWN)
    return shown(app_and_project(listener))


def reach(exposure: Exposure) -> str:
    return "the local network" if exposure is Exposure.LAN else "the network"


def items_text(items: Sequence[str]) -> str:
    """'a, b, c' with at most LIST_LIMIT items, then 'and N more'."""
    text = ", ".join(items[:LIST_LIMIT])
    if len(items) > LIST_LIMIT:
        text += f" and {len(items) - LIST_LIMIT} more"
    return text


def ports_text(ports: Sequence[int]) -> str:
    """The ports once each, in order: '3000, 3001 and 2 more'."""
    return items_text([str(p) for p in dict.fromkeys(ports)])


def _port_count(alerts: Sequence[Alert]) -> int:
    """How many ports the alerts are about: two for 0.0.0.0:80 and [::]:80 are port 80."""
    return len({a.port for a in alerts})


def summarize(alerts: Sequence[Alert], at: float) -> Alert:
    """One notification for many alerts: '6 ports opened by node'."""
    by_owner: dict[tuple[str, AlertKind], list[Alert]] = defaultdict(list)
    for alert in alerts:
        # The app as the single alerts name it; alerts of older versions carry the process.
        owner = alert.holder or (shown(alert.process) if alert.process else OWNER_UNKNOWN)
        by_owner[(owner, alert.kind)].append(alert)
    ports = tuple(dict.fromkeys(a.port for a in alerts if a.port is not None))
    urgency = max(a.urgency for a in alerts)
    owners = {owner for owner, _ in by_owner}
    kinds = {kind for _, kind in by_owner}
    if len(by_owner) == 1:
        (owner, kind), group = next(iter(by_owner.items()))
        count = _port_count(group)
        title = f"{count} port{'s' if count != 1 else ''} {VERB.get(kind, 'changed')} by {owner}"
        body = f"Ports {ports_text(ports)}"
    elif len(owners) == 1:
        owner = next(iter(owners))
        title = f"{len(ports)} ports changed by {owner}"
        body = "; ".join(
            f"{_port_count(group)} {VERB.get(kind, 'changed')}: "
            + ports_text([a.port or 0 for a in group])
            for (_, kind), group in by_owner.items()
        )
    else:
        title = f"{len(alerts)} port alerts"
        parts = [
            f"{_port_count(group)} {VERB.get(kind, 'changed')} by {owner}"
            for (owner, kind), group in sorted(by_owner.items(), key=lambda kv: -len(kv[1]))
        ]
        body = "; ".join(parts[:LIST_LIMIT])
        if len(parts) > LIST_LIMIT:
            body += f"; and {len(parts) - LIST_LIMIT} more"
    only_owner = next(iter(owners)) if len(owners) == 1 and kinds else None
    processes = {a.process for a in alerts}
    only_process = next(iter(processes)) if len(processes) == 1 else None
    return Alert(
        kind=AlertKind.SUMMARY,
        at=at,
        title=title,
        body=body,
        port=ports[0] if ports else None,
        process=only_process,
        holder=only_owner if only_owner != OWNER_UNKNOWN else None,
        urgency=urgency,
        ports=ports,
        details=tuple(alert.text for alert in alerts),
    )
