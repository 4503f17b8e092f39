"""The sort value of an IP address, shared by the listener and connection tables."""

from __future__ import annotations

import functools
import ipaddress

from portwatch.core.exposure import strip_scope


@functools.lru_cache(maxsize=65536)
def address_sort_key(address: str) -> str:
    """A string that sorts addresses numerically: IPv4 before IPv6, then by value.

    A string compares in C (no Python call per comparison), so the key is the
    family and the fixed-width hex of the address.
    """
    try:
        parsed = ipaddress.ip_address(strip_scope(address))
    except ValueError:
        return f"9:{address}"
    width = 8 if parsed.version == 4 else 32
    return f"{parsed.version}:{int(parsed):0{width}x}"
