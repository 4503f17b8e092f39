"""What a listener is called: the user's label, the app and its project, its holders.

The one wording of an owner as a person knows it, for the Process column,
``who`` and ``list``, the tray menu and notifications:

- "Shop frontend" (a label the user gave the port or the app),
- "http.server — shop-frontend" (the app and the project it runs in),
- "nginx (3 processes)", "postgres (postgresql@15-main.service)",
  "web (shop_web_1)" (how many processes hold it, its unit or container),
- "postgresql@15-main.service (postgres)" where the process cannot be seen
  but the kernel says whose socket it is and in which unit.

The text is as the OS gave it: a caller that shows it escapes it
(``safetext.visible``) as its output needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from portwatch.core.model import Listener, OwnerUnknown
from portwatch.core.owner_text import UNKNOWN_PROCESS, owner_name

# Longest label a user may give (it is shown in a table cell and a menu).
MAX_LABEL = 80


@dataclass(frozen=True, slots=True)
class Labels:
    """Names the user gave: by port number, and by app (as ``Listener.app`` reads)."""

    ports: Mapping[int, str] = field(default_factory=dict)
    apps: Mapping[str, str] = field(default_factory=dict)

    def for_listener(self, listener: Listener) -> str | None:
        """The port's label, else the app's, else None."""
        label = self.ports.get(listener.port)
        if label is None and listener.app is not None:
            label = self.apps.get(listener.app)
        return label

    def __bool__(self) -> bool:
        return bool(self.ports) or bool(self.apps)


NO_LABELS = Labels()


def app_and_project(listener: Listener) -> str:
    """'http.server — shop-frontend', 'nginx', or the owner's words when no app is known."""
    if listener.app is None:
        return kernel_owner(listener) or listener.owner_label
    app, project = listener.app, listener.project
    if not project or project == app:
        return app
    # "http.server shop-frontend" serving the project's own folder: said once.
    if app.endswith(f" {project}"):
        app = app[: -len(project) - 1]
    return f"{app} — {project}"


def kernel_owner(listener: Listener) -> str | None:
    """'postgresql@15-main.service (postgres)' for a socket whose process is hidden."""
    if listener.pid is not None:
        return None
    where = listener.container or listener.unit
    if where is None:
        return f"{listener.user}'s process" if listener.user else None
    return f"{where} ({listener.user})" if listener.user else where


def process_text(listener: Listener, label: str | None = None) -> str:
    """The Process column: the label or app, then what says more about it.

    'Shop frontend', 'http.server — shop-frontend', 'nginx (3 processes)',
    'postgres (postgresql@15-main.service)', 'web (shop_web_1)'.
    """
    name = label or app_and_project(listener)
    if listener.pid is None:
        return name
    extras: list[str] = []
    if len(listener.pids) > 1:
        extras.append(f"{len(listener.pids)} processes")
    if listener.container:
        extras.append(listener.container)
    elif listener.unit:
        extras.append(listener.unit)
    return f"{name} ({', '.join(extras)})" if extras else name


def who_text(listener: Listener, label: str | None = None) -> str:
    """For a sentence: 'http.server — shop-frontend (PID 4242)', 'nginx (PID 40, +2 more)'."""
    if listener.pid is None:
        return label or app_and_project(listener)
    # A number but no name: "unknown process (PID 4242)", not "PID 4242 (PID 4242)".
    named = listener.app or listener.process
    name = label or (app_and_project(listener) if named else UNKNOWN_PROCESS)
    others = len(listener.pids) - 1
    more = f", +{others} more" if others > 0 else ""
    return f"{name} (PID {listener.pid}{more})"


def holders_text(listener: Listener) -> str:
    """The details pane's line about who holds the socket.

    'nginx: master + 2 workers' (the others are the main one's children),
    'nginx and 1 other process', 'python3 (PID 4242)', or the owner's words.
    """
    if listener.pid is None:
        reason = listener.owner_unknown or OwnerUnknown.NOT_FOUND
        return kernel_owner(listener) or owner_name(None, None, reason)
    name = listener.app or listener.owner_label
    others = listener.holders[1:]
    if not others:
        return f"{name} (PID {listener.pid})"
    count = len(others)
    if all(info.ppid == listener.pid for info in others):
        return f"{name}: master + {count} worker{'' if count == 1 else 's'}"
    return f"{name} and {count} other process{'' if count == 1 else 'es'}"


@dataclass(frozen=True, slots=True)
class ServiceWords:
    """The Service column: the port's usual service, as a fact or as a hint."""

    text: str  # "" when nothing is worth showing
    hint: bool  # a guess from the port number that the owner does not confirm


def service_words(listener: Listener) -> ServiceWords:
    """'postgresql' when the holder is that service; 'usually vite' when it is not known to be.

    Nothing when the app is recognised and says more than the port number
    (http.server on 5173 is not "usually vite").
    """
    service = listener.service
    if not service:
        return ServiceWords("", hint=False)
    names = [n for n in (listener.app, listener.process, listener.unit) if n]
    if any(_same_program(service, name) for name in names):
        return ServiceWords(service, hint=False)
    if listener.app and listener.process and listener.app != listener.process:
        return ServiceWords("", hint=False)  # recognised: the app column says more
    return ServiceWords(f"usually {service}", hint=True)


def _same_program(service: str, name: str) -> bool:
    """'postgresql' and 'postgres', 'http' and 'httpd', 'redis' and 'redis-server'."""
    a = "".join(ch for ch in service.lower() if ch.isalnum())
    b = "".join(ch for ch in name.lower() if ch.isalnum())
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= 3 and longer.startswith(shorter)


def search_words(listener: Listener, label: str | None = None) -> tuple[str, ...]:
    """The names a search should find the listener by (label, app, project, unit, container)."""
    return tuple(
        word
        for word in (label, listener.app, listener.project, listener.unit, listener.container)
        if word
    )


__all__ = [
    "MAX_LABEL",
    "NO_LABELS",
    "Labels",
    "ServiceWords",
    "app_and_project",
    "holders_text",
    "kernel_owner",
    "process_text",
    "search_words",
    "service_words",
    "who_text",
]
