"""The address a browser opens for a listener: http or https, a host a browser accepts."""

from __future__ import annotations

import ipaddress

from portwatch.core.exposure import is_wildcard, strip_scope
from portwatch.core.model import Listener

HTTPS_PORTS = frozenset({443, 8443})


def browser_url(listener: Listener) -> str | None:
    """The URL a browser should open for a TCP listener; None for UDP."""
    if listener.proto != "tcp":
        return None
    scheme = "http"
    if listener.port in HTTPS_PORTS or "https" in (listener.service or "").lower():
        scheme = "https"
    return f"{scheme}://{url_host(listener.address)}:{listener.port}/"


def url_host(address: str) -> str:
    """localhost for a wildcard bind, an IPv6 address in brackets (zone as %25)."""
    if is_wildcard(address):
        return "localhost"
    bare = strip_scope(address)
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return address
    if ip.version == 6:
        zone = address[len(bare) + 1 :] if "%" in address else ""
        return f"[{bare}%25{zone}]" if zone else f"[{bare}]"
    return bare
