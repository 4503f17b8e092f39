"""Ports as a person counts them: a dual-stack pair held by the same processes is one port.

The kernel has a socket for ``0.0.0.0:80`` and another for ``[::]:80``; a
person has "port 80". Counts people read (the status bar, the tray tooltip
and menu, summaries, notifications) go through :func:`person_ports`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portwatch.core.model import Exposure, Listener

# One port to a person: its number and who holds it (the same holders on
# every address and protocol it is bound to). Sockets nobody could name are
# told apart by how they were reported.
PortIdentity = tuple[int, object]


@dataclass(frozen=True, slots=True)
class PersonPort:
    """One port as a person names it, with every socket it stands for."""

    port: int
    listeners: tuple[Listener, ...]

    @property
    def main(self) -> Listener:
        """The most exposed of its sockets (what the port's words describe)."""
        return max(self.listeners, key=lambda row: row.exposure.rank)

    @property
    def exposure(self) -> Exposure:
        return self.main.exposure


def _identity(listener: Listener) -> PortIdentity:
    if listener.pids:
        return (listener.port, frozenset(listener.pids))
    return (listener.port, (listener.owner_unknown, listener.user, listener.unit))


def person_ports(listeners: Iterable[Listener]) -> list[PersonPort]:
    """The ports in ``listeners`` as a person counts them, in port order."""
    grouped: dict[PortIdentity, list[Listener]] = {}
    for row in listeners:
        grouped.setdefault(_identity(row), []).append(row)
    ports = [PersonPort(port=key[0], listeners=tuple(rows)) for key, rows in grouped.items()]
    ports.sort(key=lambda p: p.port)
    return ports


def count_ports(listeners: Iterable[Listener], exposure: Exposure | None = None) -> int:
    """How many ports a person would count (of ``exposure`` only, when given)."""
    ports = person_ports(listeners)
    if exposure is None:
        return len(ports)
    return sum(1 for port in ports if port.exposure is exposure)


def count_words(listeners: Iterable[Listener]) -> list[str]:
    """'12 ports in use', '5 public', '1 LAN' (the last two only when not 0).

    The status bar's and the tray's counts, in one wording.
    """
    ports = person_ports(listeners)
    public = sum(1 for port in ports if port.exposure is Exposure.PUBLIC)
    lan = sum(1 for port in ports if port.exposure is Exposure.LAN)
    words = [f"{len(ports)} port{'' if len(ports) == 1 else 's'} in use"]
    if public:
        words.append(f"{public} public")
    if lan:
        words.append(f"{lan} LAN")
    return words


__all__ = ["PersonPort", "count_ports", "count_words", "person_ports"]
