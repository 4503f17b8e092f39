"""Port lists as people type them: ``3000 5173 8000-8010 tcp/5432 udp/5353``.

Syntax (one way only, so there is one thing to document):

- items are separated by spaces and/or commas;
- an item is a port (``3000``) or an inclusive range (``8000-8010``);
- an item may start with ``tcp/`` or ``udp/`` to watch one protocol only;
  without it, both TCP and UDP match;
- ports are 1-65535, written in ASCII digits only (not ``+3000``, ``3_000`` or
  full-width ``３０００``), and one range holds at most 10,000 ports.

:func:`parse_port` is the same rule for one port: every command and box that
takes a port number uses it (a box through :func:`validate_port`), so they all
accept and refuse the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portwatch.core.model import Proto
from portwatch.core.safetext import visible

MIN_PORT = 1
MAX_PORT = 65535
MAX_RANGE_PORTS = 10_000

_ITEM = re.compile(r"^(?:(?P<proto>[A-Za-z0-9]+)/)?(?P<low>[^-]+)(?:-(?P<high>.+))?$")
_SEPARATORS = re.compile(r"[\s,]+")

SYNTAX_HINT = "use 3000, 8000-8010 or tcp/5432"
# Bad input is quoted in messages up to this many characters.
_SHOWN_MAX = 40


class PortSpecError(ValueError):
    """A port list that does not parse; ``str()`` is a one-line message for a person."""


@dataclass(frozen=True, slots=True, order=True)
class PortSpec:
    """An inclusive port range, optionally for one protocol only."""

    low: int
    high: int
    proto: Proto | None = None

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def contains(self, port: int, proto: str | None = None) -> bool:
        if not self.low <= port <= self.high:
            return False
        return self.proto is None or proto is None or proto == self.proto

    def __str__(self) -> str:
        ports = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return f"{self.proto}/{ports}" if self.proto else ports


def _shown(text: str) -> str:
    """``text`` for a one-line message: escaped, and cut short if it is long."""
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 3] + "..."
    return visible(text)


def _in_range(digits: str) -> int:
    """ASCII digits → a port, or the out-of-range message (never int() on 5,000 digits)."""
    value = digits.lstrip("0") or "0"
    if len(value) > len(str(MAX_PORT)) or not MIN_PORT <= int(value) <= MAX_PORT:
        raise PortSpecError(
            f"port {_shown(value)} is out of range: ports are {MIN_PORT}-{MAX_PORT}"
        )
    return int(value)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _port(text: str, item: str) -> int:
    if not _is_digits(text):
        raise PortSpecError(f"'{_shown(item)}' is not a port or range ({SYNTAX_HINT})")
    return _in_range(text)


def parse_port(text: str) -> int:
    """One port number, 1-65535: ASCII digits only; spaces around it are ignored."""
    stripped = text.strip()
    if not stripped:
        raise PortSpecError(f"no port given (ports are {MIN_PORT}-{MAX_PORT})")
    if not _is_digits(stripped):
        raise PortSpecError(f"'{_shown(stripped)}' is not a port number ({MIN_PORT}-{MAX_PORT})")
    return _in_range(stripped)


def validate_port(text: str) -> tuple[int | None, str | None]:
    """:func:`parse_port` for a box: (port, None), or (None, a sentence that says what is wrong)."""
    if not text.strip():
        return None, f"Enter a port number ({MIN_PORT}-{MAX_PORT})."
    try:
        return parse_port(text), None
    except PortSpecError as exc:
        message = str(exc)
        return None, f"{message[:1].upper()}{message[1:]}."


def parse_port_spec(item: str) -> PortSpec:
    """One item: ``3000``, ``8000-8010``, ``tcp/5432`` or ``udp/5353-5354``."""
    item = item.strip()
    match = _ITEM.match(item)
    if not item or match is None:
        raise PortSpecError(f"'{_shown(item)}' is not a port or range ({SYNTAX_HINT})")
    proto_text = match["proto"]
    proto: Proto | None = None
    if proto_text is not None:
        lowered = proto_text.lower()
        if lowered == "tcp":
            proto = "tcp"
        elif lowered == "udp":
            proto = "udp"
        else:
            raise PortSpecError(
                f"'{_shown(proto_text)}' in '{_shown(item)}' is not a protocol: use tcp/ or udp/"
            )
    low = _port(match["low"], item)
    high = _port(match["high"], item) if match["high"] is not None else low
    if high < low:
        raise PortSpecError(
            f"range {low}-{high} is backwards: write the lower port first ({high}-{low})"
        )
    size = high - low + 1
    if size > MAX_RANGE_PORTS:
        raise PortSpecError(
            f"range {low}-{high} has {size} ports: at most {MAX_RANGE_PORTS:,} in one range"
        )
    return PortSpec(low, high, proto)


def parse_port_list(text: str | Iterable[str], *, allow_empty: bool = False) -> list[PortSpec]:
    """Parse a whole list; the first bad item raises :class:`PortSpecError`.

    Duplicates are dropped and the order of first appearance kept.
    """
    items = [text] if isinstance(text, str) else list(text)
    tokens = [tok for chunk in items for tok in _SEPARATORS.split(chunk) if tok]
    if not tokens and not allow_empty:
        raise PortSpecError(f"no ports given ({SYNTAX_HINT})")
    # A dict keeps the first appearance and drops repeats in linear time.
    return list(dict.fromkeys(parse_port_spec(token) for token in tokens))


def format_port_list(specs: Iterable[PortSpec]) -> str:
    return " ".join(str(spec) for spec in specs)


def matches_any(specs: Iterable[PortSpec], port: int, proto: str | None = None) -> bool:
    return any(spec.contains(port, proto) for spec in specs)
