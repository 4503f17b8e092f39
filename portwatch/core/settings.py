"""User settings: a JSON file with a schema version, loaded tolerantly, saved atomically.

Loading never fails for what is in the file. A file that does not parse, is
not an object, or has fields of the wrong type is copied aside as
``settings.json.bad-<time>``; every field that was readable is kept, the
others take their defaults, and :class:`LoadResult` carries one message for
the user. The repaired settings are written back, so the message is shown
once, not at every start.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from portwatch.core import paths
from portwatch.core.files import write_atomic
from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpec, PortSpecError, parse_port_list, parse_port_spec

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

MIN_INTERVAL = 0.5
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
    # Keys written by a newer portwatch: kept so saving does not drop them.
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def watched_specs(self) -> list[PortSpec]:
        return [watch.ports for watch in self.watched_ports]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "schema_version": SCHEMA_VERSION,
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
            }
        )
        return data

    def with_watched_added(self, specs: list[PortSpec]) -> Settings:
        have = {watch.ports for watch in self.watched_ports}
        added = tuple(WatchedPort(spec) for spec in specs if spec not in have)
        return replace(self, watched_ports=self.watched_ports + added)

    def with_watched_removed(self, specs: list[PortSpec]) -> tuple[Settings, list[PortSpec]]:
        """Drop exactly these entries; returns the new settings and what was not watched."""
        remove = set(specs)
        kept = tuple(watch for watch in self.watched_ports if watch.ports not in remove)
        present = {watch.ports for watch in self.watched_ports}
        missing = [spec for spec in specs if spec not in present]
        return replace(self, watched_ports=kept), missing


# --- validation of single values: shared by the loader, the dialog and the CLI ---


def check_interval(value: float) -> float:
    if not math.isfinite(value) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise SettingsError(
            f"scan interval {value:g} s is out of range: use {MIN_INTERVAL:g} to {MAX_INTERVAL:g} s"
        )
    return float(value)


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


def parse_ignore_processes(text: str) -> tuple[str, ...]:
    """'node, java' → ('node', 'java'): names separated by commas."""
    names = [name.strip() for name in text.split(",")]
    return tuple(dict.fromkeys(name for name in names if name))


# --- loading ---


@dataclass(frozen=True, slots=True)
class LoadResult:
    settings: Settings
    # What was wrong with the file (empty when it was fine or missing).
    problems: tuple[str, ...] = ()
    # Where the unreadable original was kept, if it was.
    backup: Path | None = None

    @property
    def message(self) -> str | None:
        """One message for the user, or None when there is nothing to say."""
        if not self.problems:
            return None
        kept = f" The original is kept as {self.backup}." if self.backup else ""
        listed = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"Some settings could not be read and were reset to defaults: {listed}{more}.{kept}"


def _wrong(key: str, value: Any, expected: str) -> str:
    shown = json.dumps(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"'{key}' should be {expected}, not {shown}"


class _Reader:
    """Reads one field at a time; a bad field keeps its default and adds a problem."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def get(self, key: str, default: Any, convert: Callable[[Any], Any], expected: str) -> Any:
        if key not in self.data:
            return default
        raw = self.data[key]
        try:
            return convert(raw)
        except (SettingsError, PortSpecError, TypeError, ValueError) as exc:
            detail = str(exc) if isinstance(exc, SettingsError | PortSpecError) else None
            self.problems.append(f"'{key}': {detail}" if detail else _wrong(key, raw, expected))
            return default


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    return float(value)


def _int_in(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        if not low <= value <= high:
            raise SettingsError(f"{value} is out of range: use {low} to {high}")
        return value

    return convert


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError
    return tuple(dict.fromkeys(item.strip() for item in value if item.strip()))


def _port_specs(value: Any) -> tuple[PortSpec, ...]:
    if isinstance(value, str):
        return tuple(parse_port_list(value, allow_empty=True))
    if not isinstance(value, list) or not all(isinstance(item, str | int) for item in value):
        raise TypeError
    return tuple(parse_port_list([str(item) for item in value], allow_empty=True))


def _watched(value: Any, problems: list[str]) -> tuple[WatchedPort, ...]:
    if not isinstance(value, list):
        raise TypeError
    result: list[WatchedPort] = []
    for index, item in enumerate(value):
        where = f"'watched_ports' entry {index + 1}"
        entry = {"ports": str(item)} if isinstance(item, str | int) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("ports"), str | int):
            problems.append(f"{where} is not an object with a 'ports' field; dropped")
            continue
        try:
            spec = parse_port_spec(str(entry["ports"]))
        except PortSpecError as exc:
            problems.append(f"{where}: {exc}; dropped")
            continue
        reader = _Reader(entry)
        owner = reader.get("expected_owner", None, _optional_string, "a string or null")
        watch = WatchedPort(
            ports=spec,
            notify_occupied=reader.get("notify_occupied", True, _bool, "true or false"),
            notify_freed=reader.get("notify_freed", True, _bool, "true or false"),
            expected_owner=owner or None,
            allowed_exposure=reader.get(
                "allowed_exposure", None, _allowed_exposure, "loopback, lan, public or null"
            ),
        )
        problems.extend(f"{where}: {problem}" for problem in reader.problems)
        if all(w.ports != spec for w in result):
            result.append(watch)
    return tuple(result)


def _optional_string(value: Any) -> str | None:
    if value is None:
        return None
    return _string(value).strip()


def _allowed_exposure(value: Any) -> Exposure | None:
    if value is not None and not isinstance(value, str):
        raise TypeError
    return check_allowed_exposure(value)


def settings_from_json(data: Any) -> tuple[Settings, list[str]]:
    """Build settings from parsed JSON; returns them and what was wrong."""
    defaults = Settings()
    if not isinstance(data, dict):
        return defaults, [f"the file holds {type(data).__name__}, not an object"]
    reader = _Reader(data)
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        log.warning(
            "settings schema %s is newer than this portwatch (%s): reading what it knows",
            version,
            SCHEMA_VERSION,
        )
    watched = defaults.watched_ports
    if "watched_ports" in data:
        try:
            watched = _watched(data["watched_ports"], reader.problems)
        except TypeError:
            reader.problems.append(_wrong("watched_ports", data["watched_ports"], "a list"))
    settings = Settings(
        scan_interval=reader.get(
            "scan_interval",
            defaults.scan_interval,
            lambda v: check_interval(_number(v)),
            "a number of seconds",
        ),
        watched_ports=watched,
        exposure_alert=reader.get("exposure_alert", True, _bool, "true or false"),
        exposure_level=reader.get(
            "exposure_level",
            defaults.exposure_level,
            lambda v: check_exposure_level(_string(v)),
            '"lan" or "public"',
        ),
        ignore_processes=reader.get("ignore_processes", (), _string_list, "a list of names"),
        ignore_ports=reader.get("ignore_ports", (), _port_specs, 'a list like ["53", "tcp/631"]'),
        first_remote_client_alert=reader.get(
            "first_remote_client_alert", False, _bool, "true or false"
        ),
        quiet_period=reader.get(
            "quiet_period",
            defaults.quiet_period,
            lambda v: check_quiet_period(_number(v)),
            "a number of seconds",
        ),
        summary_threshold=reader.get(
            "summary_threshold", defaults.summary_threshold, _int_in(2, 1000), "a whole number"
        ),
        notification_style=reader.get(
            "notification_style",
            defaults.notification_style,
            lambda v: NotificationStyle(_string(v)),
            '"system", "tray" or "in_app"',
        ),
        start_at_login=reader.get("start_at_login", False, _bool, "true or false"),
        history_retention_days=reader.get(
            "history_retention_days",
            defaults.history_retention_days,
            _int_in(1, 36_500),
            "a whole number of days",
        ),
        history_max_rows=reader.get(
            "history_max_rows",
            defaults.history_max_rows,
            _int_in(1_000, 10_000_000),
            "a whole number of rows",
        ),
        history_max_mb=reader.get(
            "history_max_mb",
            defaults.history_max_mb,
            _int_in(1, 100_000),
            "a whole number of megabytes",
        ),
        extra=tuple((k, v) for k, v in data.items() if k not in _KNOWN_KEYS),
    )
    return settings, reader.problems


_KNOWN_KEYS = frozenset(Settings().to_json())


def _backup(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bad-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.bad-{stamp}-{counter}")
        counter += 1
    try:
        shutil.copy2(path, target)
    except OSError as exc:
        log.warning("could not keep a copy of the bad settings file: %s", exc)
        return None
    return target


def load_settings(path: Path | None = None) -> LoadResult:
    """Read the settings file; never raises for what is (or is not) in it."""
    path = path or paths.settings_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadResult(Settings())
    except OSError as exc:
        return LoadResult(Settings(), (f"the file could not be read ({exc.strerror or exc})",))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        settings, problems = Settings(), [f"the file is not valid JSON ({exc})"]
    else:
        settings, problems = settings_from_json(data)
    if not problems:
        return LoadResult(settings)
    backup = _backup(path)
    log.warning("settings file %s had problems: %s", path, "; ".join(problems))
    try:
        save_settings(settings, path)
    except OSError as exc:
        log.warning("could not write the repaired settings: %s", exc)
    return LoadResult(settings, tuple(problems), backup)


# --- saving ---


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically and privately (0600): see :func:`portwatch.core.files.write_atomic`."""
    path = path or paths.settings_file()
    text = json.dumps(settings.to_json(), indent=2, sort_keys=False) + "\n"
    return write_atomic(path, text)
