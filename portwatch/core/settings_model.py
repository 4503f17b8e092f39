"""What the settings are: the values, their defaults and the checks shared by every editor.

The loader (:mod:`portwatch.core.settings_json`), the Settings dialog and the
command line all check a value with the same function here, so they agree on
what is allowed. :mod:`portwatch.core.settings` reads and writes the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from portwatch.core.model import Exposure
from portwatch.core.naming import MAX_LABEL, NO_LABELS, Labels
from portwatch.core.portspec import PortSpec
from portwatch.core.safetext import visible

SCHEMA_VERSION = 1

# The one floor and ceiling for "every N seconds": the scan interval (settings,
# dialog, --interval, the scan worker) and `free --wait`.
MIN_INTERVAL = 0.2
MAX_INTERVAL = 3600.0
MAX_QUIET_PERIOD = 86_400.0


class NotificationStyle(StrEnum):
    """How an alert reaches the user (every alert is in the Alerts list as well)."""

    SYSTEM = "system"  # the desktop's notification service, else the tray balloon
    TRAY = "tray"  # the tray icon's balloon
    IN_APP = "in_app"  # the Alerts list only


class SettingsError(ValueError):
    """A value that cannot be stored; ``str()`` is a message for a person."""


@dataclass(frozen=True, slots=True)
class WatchedPort:
    """One watched port or range, with what to say about it."""

    ports: PortSpec
    notify_occupied: bool = True
    notify_freed: bool = True
    # A process name ("postgres") or an executable path ("/usr/lib/postgresql/16/bin/postgres").
    expected_owner: str | None = None
    # The widest exposure that is fine; None means any.
    allowed_exposure: Exposure | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ports": str(self.ports),
            "notify_occupied": self.notify_occupied,
            "notify_freed": self.notify_freed,
            "expected_owner": self.expected_owner,
            "allowed_exposure": str(self.allowed_exposure) if self.allowed_exposure else None,
        }


@dataclass(frozen=True, slots=True)
class Settings:
    # The file's format version; a newer one (from a newer portwatch) is kept as it was.
    schema_version: int = SCHEMA_VERSION
    scan_interval: float = 2.0
    watched_ports: tuple[WatchedPort, ...] = ()
    exposure_alert: bool = True
    # Alert for new binds at least this exposed: PUBLIC (default) or LAN.
    exposure_level: Exposure = Exposure.PUBLIC
    ignore_processes: tuple[str, ...] = ()
    ignore_ports: tuple[PortSpec, ...] = ()
    first_remote_client_alert: bool = False
    quiet_period: float = 30.0
    # This many alerts or more in one scan become one summary notification.
    summary_threshold: int = 3
    notification_style: NotificationStyle = NotificationStyle.SYSTEM
    start_at_login: bool = False
    history_retention_days: int = 90
    history_max_rows: int = 200_000
    # The recorder keeps the history database under this size (megabytes).
    history_max_mb: int = 100
    # Names the user gave ("Rename…"): (port, label) and (app, label) pairs.
    port_labels: tuple[tuple[int, str], ...] = ()
    app_labels: tuple[tuple[str, str], ...] = ()
    # Keys written by a newer portwatch: kept so saving does not drop them.
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def labels(self) -> Labels:
        """The user's names for ports and apps, for :mod:`portwatch.core.naming`."""
        if not self.port_labels and not self.app_labels:
            return NO_LABELS
        return Labels(ports=dict(self.port_labels), apps=dict(self.app_labels))

    def with_port_label(self, port: int, label: str | None) -> Settings:
        """The port named ``label`` (checked), or its name removed (None or "")."""
        kept = tuple(item for item in self.port_labels if item[0] != port)
        if label is None or not label.strip():
            return replace(self, port_labels=kept)
        return replace(self, port_labels=(*kept, (port, check_label(label))))

    def with_app_label(self, app: str, label: str | None) -> Settings:
        """The app named ``label`` (checked), or its name removed (None or "")."""
        kept = tuple(item for item in self.app_labels if item[0] != app)
        if label is None or not label.strip():
            return replace(self, app_labels=kept)
        return replace(self, app_labels=(*kept, (app, check_label(label))))

    def watched_specs(self) -> list[PortSpec]:
        return [watch.ports for watch in self.watched_ports]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "schema_version": max(self.schema_version, SCHEMA_VERSION),
                "scan_interval": self.scan_interval,
                "watched_ports": [watch.to_json() for watch in self.watched_ports],
                "exposure_alert": self.exposure_alert,
                "exposure_level": str(self.exposure_level),
                "ignore_processes": list(self.ignore_processes),
                "ignore_ports": [str(spec) for spec in self.ignore_ports],
                "first_remote_client_alert": self.first_remote_client_alert,
                "quiet_period": self.quiet_period,
                "summary_threshold": self.summary_threshold,
                "notification_style": str(self.notification_style),
                "start_at_login": self.start_at_login,
                "history_retention_days": self.history_retention_days,
                "history_max_rows": self.history_max_rows,
                "history_max_mb": self.history_max_mb,
                "port_labels": {str(port): label for port, label in self.port_labels},
                "app_labels": dict(self.app_labels),
            }
        )
        return data

    def with_watched_added(self, specs: list[PortSpec]) -> Settings:
        have = {watch.ports for watch in self.watched_ports}
        added = tuple(WatchedPort(spec) for spec in dict.fromkeys(specs) if spec not in have)
        return replace(self, watched_ports=self.watched_ports + added)

    def with_watched_removed(self, specs: list[PortSpec]) -> tuple[Settings, list[PortSpec]]:
        """Drop exactly these entries; returns the new settings and what was not watched."""
        remove = set(specs)
        kept = tuple(watch for watch in self.watched_ports if watch.ports not in remove)
        present = {watch.ports for watch in self.watched_ports}
        missing = [spec for spec in specs if spec not in present]
        return replace(self, watched_ports=kept), missing


# --- merging two edits of the same settings ---


def _merge_items(base: tuple[Any, ...], mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> Any:
    """A list edited on two sides: my additions, changes and removals applied to theirs."""

    def key(item: Any) -> Any:
        if isinstance(item, WatchedPort):
            return item.ports
        return item[0] if isinstance(item, tuple) else item  # a label: by what it names

    base_items = {key(item): item for item in base}
    mine_items = {key(item): item for item in mine}
    removed = base_items.keys() - mine_items.keys()
    changed = {k: v for k, v in mine_items.items() if base_items.get(k) != v}
    merged = [changed.pop(key(item), item) for item in theirs if key(item) not in removed]
    return (*merged, *changed.values())


_LISTS = frozenset(
    {"watched_ports", "ignore_processes", "ignore_ports", "port_labels", "app_labels"}
)


def merge_settings(base: Settings, mine: Settings, theirs: Settings) -> Settings:
    """``mine`` is an edit of ``base``; ``theirs`` is what the file holds now.

    Each value I changed is mine, every other value theirs; in lists (watched
    and ignored ports, ignored processes) my additions, changes and removals
    are applied to their list, so an edit made meanwhile by someone else (a
    `portwatch watch-port add` while the dialog was open) is kept.
    """
    changes: dict[str, Any] = {}
    for item in fields(Settings):
        name = item.name
        if name in ("schema_version", "extra"):
            continue
        before, after = getattr(base, name), getattr(mine, name)
        if before == after:
            continue
        if name in _LISTS:
            changes[name] = _merge_items(before, after, getattr(theirs, name))
        else:
            changes[name] = after
    return replace(theirs, **changes)


# --- validation of single values: shared by the loader, the dialog and the CLI ---


def check_interval(value: float, what: str = "scan interval") -> float:
    if not math.isfinite(value) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise SettingsError(
            f"{what} {value:g} is out of range: use {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds"
        )
    return float(value)


def parse_interval(text: str, what: str = "interval") -> float:
    """Seconds as typed (``2``, ``0.5``, `` 1e1 ``), from MIN_INTERVAL to MAX_INTERVAL."""
    stripped = text.strip()
    # float() also takes "1_0" and full-width digits: the same rule as ports, ASCII only.
    if not stripped.isascii() or "_" in stripped:
        raise SettingsError(f"'{_cut(stripped)}' is not a number of seconds")
    try:
        value = float(stripped)
    except ValueError:
        raise SettingsError(f"'{_cut(stripped)}' is not a number of seconds") from None
    return check_interval(value, what)


def _cut(text: str) -> str:
    return visible(text if len(text) <= 40 else text[:37] + "...")


def check_quiet_period(value: float) -> float:
    if not math.isfinite(value) or not 0 <= value <= MAX_QUIET_PERIOD:
        raise SettingsError(
            f"quiet period {value:g} s is out of range: use 0 to {MAX_QUIET_PERIOD:g} s"
        )
    return float(value)


def check_exposure_level(text: str) -> Exposure:
    if text not in (Exposure.LAN, Exposure.PUBLIC):
        raise SettingsError(f"exposure level '{text}' is not one of: lan, public")
    return Exposure(text)


def check_allowed_exposure(text: str | None) -> Exposure | None:
    if text is None or text == "":
        return None
    try:
        return Exposure(text)
    except ValueError:
        raise SettingsError(
            f"allowed exposure '{text}' is not one of: loopback, lan, public"
        ) from None


def check_label(text: str) -> str:
    """A name the user gives a port or an app: one line of at most MAX_LABEL characters."""
    label = " ".join(text.split())
    if not label:
        raise SettingsError("a name needs at least one letter or digit")
    if len(label) > MAX_LABEL:
        raise SettingsError(f"a name may be {MAX_LABEL} characters long at most")
    if visible(label) != label:
        raise SettingsError("a name may not hold control characters")
    return label


def parse_ignore_processes(text: str) -> tuple[str, ...]:
    """'node, java' → ('node', 'java'): names separated by commas."""
    names = [name.strip() for name in text.split(",")]
    return tuple(dict.fromkeys(name for name in names if name))
