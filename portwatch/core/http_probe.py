"""Does a listener serve web pages? Known from its port or app, else asked once over loopback.

``known_answer`` says it without a network call: yes for a web service's
port (http, http-alt, https, vite, a dev server, ...) or a web server app
(vite, uvicorn, http.server, ...), no for UDP. Otherwise ``probe_http``
connects to the listener on loopback only (127.0.0.1 for 0.0.0.0, ::1 for
::, or the loopback address it is bound on), sends ``HEAD / HTTP/1.0``,
reads a few bytes within a second and looks for a reply starting with
``HTTP/``. A socket bound on another address is never probed: it is
``UNKNOWN``, like one that refused the connection.

``WebAnswers`` keeps each socket's answer (by proto, family, address, port
and pid) so it is probed once; ``check`` blocks (run it off the UI thread),
``answer`` does not. ``web_verdict`` words what the answers mean for an
"Open in browser" action on some rows.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from portwatch.core.browser import browser_url
from portwatch.core.exposure import is_loopback_peer, is_wildcard, strip_scope
from portwatch.core.model import Listener

# More tabs than this from one click is a mistake, not a wish: only the first
# this many sockets of a selection are checked and opened.
MAX_BROWSER_TABS = 5
PROBE_TIMEOUT = 1.0  # seconds for the connection and the first bytes of the reply
MAX_REPLY = 256  # bytes read at most
REQUEST = b"HEAD / HTTP/1.0\r\n\r\n"
HTTP_REPLY = b"HTTP/"
MAX_ANSWERS = 1024  # sockets remembered; the oldest answers go first

# Port services (core.services) that are web pages or a web server's.
WEB_SERVICES = frozenset(
    {
        "http",
        "http-alt",
        "https",
        "https-alt",
        "dev-server",
        "vite",
        "angular-dev",
        "kibana",
        "prometheus",
        "rabbitmq-mgmt",
    }
)
# Apps (core.identity.apps) that serve web pages, by the first word of their name.
WEB_APPS = frozenset(
    {
        "vite",
        "next",
        "webpack-dev-server",
        "uvicorn",
        "gunicorn",
        "hypercorn",
        "http.server",
    }
)
# Apps that serve web pages when run with this subcommand ("flask run", not "flask shell").
WEB_APP_COMMANDS = frozenset(
    {"flask run", "django runserver", "rails server", "jupyter lab", "jupyter notebook"}
)

# (proto, family, address, port, pid): one socket of one holder.
WebKey = tuple[str, int, str, int, int | None]
Prober = Callable[[str, int], "WebAnswer"]


class WebAnswer(StrEnum):
    YES = "serves web pages"
    NO = "does not serve web pages"
    UNKNOWN = "cannot tell"  # not probed (not on loopback) or not reachable


def web_key(listener: Listener) -> WebKey:
    return (listener.proto, listener.family, listener.address, listener.port, listener.pid)


def known_answer(listener: Listener) -> WebAnswer | None:
    """YES or NO without a network call; None when only a probe can tell."""
    if listener.proto != "tcp":
        return WebAnswer.NO
    if listener.service in WEB_SERVICES:
        return WebAnswer.YES
    app = listener.app or ""
    if app.split(" ", 1)[0] in WEB_APPS or " ".join(app.split()[:2]) in WEB_APP_COMMANDS:
        return WebAnswer.YES
    return None


def probe_address(listener: Listener) -> str | None:
    """The loopback address to probe the listener on; None when it is bound elsewhere."""
    address = strip_scope(listener.address)
    if is_wildcard(address):
        return "::1" if listener.family == 6 else "127.0.0.1"
    return address if is_loopback_peer(address) else None


def probe_http(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> WebAnswer:
    """Ask ``host:port`` (a loopback address) for ``HEAD /``: YES if it answers in HTTP."""
    if not is_loopback_peer(host):
        return WebAnswer.UNKNOWN  # only this machine's own loopback is ever probed
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError:
            return WebAnswer.UNKNOWN
        reply = b""
        try:
            sock.sendall(REQUEST)
            while len(reply) < len(HTTP_REPLY):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                chunk = sock.recv(MAX_REPLY - len(reply))
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass  # reset or silent: what came so far decides
    # The reply's first bytes, not anywhere in it: an echo or an error that
    # quotes the request ("-ERR unknown command 'HEAD' ... 'HTTP/1.0'") is not HTTP.
    return WebAnswer.YES if reply.startswith(HTTP_REPLY) else WebAnswer.NO


class WebAnswers:
    """Each socket's answer, probed once (``check``) and then remembered."""

    def __init__(self, prober: Prober = probe_http) -> None:
        self._prober = prober
        self._lock = threading.Lock()
        self._answers: dict[WebKey, WebAnswer] = {}

    def answer(self, listener: Listener) -> WebAnswer | None:
        """Known or remembered; None while only a probe can tell. Never blocks on the network."""
        known = known_answer(listener)
        if known is not None:
            return known
        if probe_address(listener) is None:
            return WebAnswer.UNKNOWN
        with self._lock:
            return self._answers.get(web_key(listener))

    def check(self, listener: Listener) -> WebAnswer:
        """The answer, probing the socket if it was never asked (blocks up to a second)."""
        found = self.answer(listener)
        if found is not None:
            return found
        host = probe_address(listener)
        assert host is not None  # answer() said UNKNOWN otherwise
        result = self._prober(host, listener.port)
        with self._lock:
            self._answers[web_key(listener)] = result
            while len(self._answers) > MAX_ANSWERS:
                del self._answers[next(iter(self._answers))]
        return result


def web_rows(listeners: Sequence[Listener]) -> list[Listener]:
    """The rows an "Open in browser" looks at: the first MAX_BROWSER_TABS TCP sockets."""
    return [row for row in listeners if row.proto == "tcp"][:MAX_BROWSER_TABS]


@dataclass(frozen=True, slots=True)
class WebVerdict:
    """What an "Open in browser" action does for some rows, and what its tooltip says."""

    enabled: bool
    tooltip: str
    waiting: bool  # an answer is still being probed
    urls: tuple[str, ...]  # what it opens


def web_verdict(
    listeners: Sequence[Listener], answer_of: Callable[[Listener], WebAnswer | None]
) -> WebVerdict:
    rows = web_rows(listeners)
    answers = [answer_of(row) for row in rows]
    openable = [row for row, a in zip(rows, answers, strict=True) if a in OPENABLE]
    urls = tuple(dict.fromkeys(u for u in map(browser_url, openable) if u))
    if urls:
        more = f" and {len(urls) - 1} more" if len(urls) > 1 else ""
        return WebVerdict(True, f"Open {urls[0]}{more} in your browser", False, urls)
    ports = sorted({row.port for row in rows or listeners[:MAX_BROWSER_TABS]})
    if None in answers:
        these = "this port serves" if len(ports) == 1 else "these ports serve"
        return WebVerdict(False, f"Checking whether {these} web pages…", True, ())
    if not ports:
        return WebVerdict(False, "Open the selected port in your browser", False, ())
    return WebVerdict(False, _no_web_pages(ports), False, ())


OPENABLE = frozenset({WebAnswer.YES, WebAnswer.UNKNOWN})


def _no_web_pages(ports: Sequence[int]) -> str:
    if len(ports) == 1:
        return f"Port {ports[0]} does not serve web pages"
    named = ", ".join(map(str, ports[:-1])) + f" and {ports[-1]}"
    return f"Ports {named} do not serve web pages"


__all__ = [
    "MAX_BROWSER_TABS",
    "WebAnswer",
    "WebAnswers",
    "WebVerdict",
    "known_answer",
    "probe_address",
    "probe_http",
    "web_key",
    "web_rows",
    "web_verdict",
]
