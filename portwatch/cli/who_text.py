"""What `who PORT` says: a sentence per port as a person counts it, then each socket's details.

"Port 3000: http.server — shop-frontend (PID 4242), listening on 127.0.0.1
(only this computer)", the table `list` prints for its sockets, then for each
socket its app (when a label named it), process, holders, project, folder,
unit, container, command, executable and user. Every text another program
chose goes through :func:`safetext.visible`: one line each, nothing a
terminal would obey.
"""

from __future__ import annotations

from collections.abc import Sequence

from portwatch.cli.common import format_listeners, format_time
from portwatch.core.model import Exposure, Listener
from portwatch.core.naming import Labels, app_and_project, holders_text, who_text
from portwatch.core.person_ports import PersonPort, person_ports
from portwatch.core.safetext import visible

REACH = {
    Exposure.LOOPBACK: "only this computer",
    Exposure.LAN: "this computer and the local network",
    Exposure.PUBLIC: "every network",
}
# Holders named one by one in the details; a pre-fork server may have dozens.
MAX_PIDS_SHOWN = 10
# The details' names, padded so the values line up ("container:" is the longest).
_WIDTH = len("container: ")


def _and(words: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def port_sentence(port: PersonPort, labels: Labels) -> str:
    """'Port 3000: nginx (PID 40, +2 more), listening on 0.0.0.0 and :: (every network)'."""
    main = port.main
    addresses = list(dict.fromkeys(row.address for row in port.listeners))
    protos = {row.proto for row in port.listeners}
    over = "" if protos == {"tcp"} else " over UDP" if protos == {"udp"} else " over TCP and UDP"
    who = visible(who_text(main, labels.for_listener(main)))
    where = visible(_and(addresses))
    return f"Port {port.port}: {who}, listening on {where}{over} ({REACH[port.exposure]})"


def _pids(listener: Listener) -> str:
    shown = ", ".join(str(pid) for pid in listener.pids[:MAX_PIDS_SHOWN])
    more = len(listener.pids) - MAX_PIDS_SHOWN
    return f"{shown}, … {len(listener.pids)} in all" if more > 0 else shown


def _line(name: str, value: str) -> str:
    return f"  {f'{name}:':<{_WIDTH}}{value}"


def details(listener: Listener, label: str | None) -> list[str]:
    """The lines about one socket whose holder is known (its first line names it)."""
    lines = [f"{listener.proto} {listener.endpoint}  {visible(who_text(listener, label))}"]
    if label and listener.app:
        lines.append(_line("app", visible(app_and_project(listener))))
    if listener.process and listener.process != listener.app:
        lines.append(_line("process", visible(listener.process)))
    if len(listener.pids) > 1:
        holders = f"{visible(holders_text(listener))} (PIDs {_pids(listener)})"
        lines.append(_line("holders", holders))
    for name, value in (
        ("project", listener.project),
        ("folder", listener.cwd),
        ("unit", listener.unit),
        ("container", listener.container),
    ):
        if value:
            lines.append(_line(name, visible(value)))
    if listener.cmdline:
        lines.append(_line("command", visible(" ".join(listener.cmdline))))
    if listener.exe:
        lines.append(_line("exe", visible(listener.exe)))
    user = visible(listener.user or "-")
    lines.append(_line("user", f"{user}   started: {format_time(listener.started)}"))
    return lines


def who_lines(rows: Sequence[Listener], labels: Labels) -> list[str]:
    """The sentences about the port, the table of its sockets, then each owned one's details."""
    lines = [port_sentence(port, labels) for port in person_ports(rows)]
    lines += ["", *format_listeners(rows, labels).splitlines()]
    for row in rows:
        if row.pid is None:
            continue
        lines.append("")
        lines += details(row, labels.for_listener(row))
    return lines
