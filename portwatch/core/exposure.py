"""How exposed a bound address is: loopback, a LAN address, or public."""

from __future__ import annotations

import functools
import ipaddress

from portwatch.core.model import Exposure

WILDCARDS = frozenset({"0.0.0.0", "::", "*", ""})  # noqa: S104 - these are what we detect


def is_wildcard(address: str) -> bool:
    return strip_scope(address) in WILDCARDS


def strip_scope(address: str) -> str:
    """fe80::1%eth0 → fe80::1: the zone does not change what the address is."""
    return address.split("%", 1)[0]


@functools.lru_cache(maxsize=4096)
def classify(address: str) -> Exposure:
    """Classify a bound local address.

    Wildcards listen on every interface, so they count as public; an address
    that does not parse is treated as public too, because guessing "safe" is
    the worse mistake for a monitor.
    """
    bare = strip_scope(address)
    if bare in WILDCARDS:
        return Exposure.PUBLIC
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return Exposure.PUBLIC
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return Exposure.LOOPBACK
    if ip.is_private or ip.is_link_local:
        # Covers RFC 1918, fc00::/7 unique-local, 169.254/16 and fe80::/10,
        # plus CGNAT 100.64/10 (ip.is_private is False there, handled below).
        return Exposure.LAN
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return Exposure.LAN
    return Exposure.PUBLIC


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def is_loopback_peer(address: str) -> bool:
    """True for a peer on this machine's loopback (127/8, ::1, ::ffff:127.x)."""
    try:
        ip = ipaddress.ip_address(strip_scope(address))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
