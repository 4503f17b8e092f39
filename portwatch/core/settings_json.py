"""Reading the settings file's JSON: guarded parsing, then one field at a time.

:func:`parse_settings_bytes` turns the file's bytes into JSON values or says
why it cannot: a file too large, nested too deeply or holding a number too
long to read is :class:`UnreadableError` (the file is left alone); bytes that are
not JSON at all are :class:`NotJsonError` (the file is repaired, with a backup).

:func:`settings_from_json` never raises: a field of the wrong type or out of
range keeps its default and adds one problem for the user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpecError, parse_port, parse_port_list, parse_port_spec
from portwatch.core.settings_model import (
    SCHEMA_VERSION,
    NotificationStyle,
    Settings,
    SettingsError,
    WatchedPort,
    check_allowed_exposure,
    check_exposure_level,
    check_interval,
    check_label,
    check_quiet_period,
)

# A settings file with 8,000 watched ports is about 1.3 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
# Objects and lists inside each other: the settings need 3 levels.
MAX_DEPTH = 64


class UnreadableError(Exception):
    """The file holds JSON that portwatch will not read; ``str()`` says why, for a person."""


class NotJsonError(Exception):
    """The file is not JSON (or not UTF-8); ``str()`` says where it breaks."""


def _deeper_than(value: Any, limit: int) -> bool:
    """True when lists and objects in ``value`` nest more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_settings_bytes(raw: bytes) -> Any:
    """The JSON value in ``raw``; raises :class:`UnreadableError` or :class:`NotJsonError`."""
    if len(raw) > MAX_FILE_BYTES:
        raise UnreadableError(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJsonError(
            f"the file is not valid JSON (not UTF-8 text at byte {exc.start})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotJsonError(f"the file is not valid JSON ({exc})") from None
    except RecursionError:
        raise UnreadableError("lists or objects in it are nested too deeply to read") from None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise UnreadableError("it holds a number too long to read") from None
    if _deeper_than(data, MAX_DEPTH):
        raise UnreadableError("lists or objects in it are nested too deeply to read")
    return data


def _wrong(key: str, value: Any, expected: str) -> str:
    try:
        shown = json.dumps(value)
    except ValueError:
        shown = type(value).__name__
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


def _port_item(item: Any) -> str:
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise TypeError
    return str(item)


def _port_specs(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        return tuple(parse_port_list(value, allow_empty=True))
    if not isinstance(value, list):
        raise TypeError
    return tuple(parse_port_list([_port_item(item) for item in value], allow_empty=True))


def _optional_string(value: Any) -> str | None:
    if value is None:
        return None
    return _string(value).strip()


def _allowed_exposure(value: Any) -> Exposure | None:
    if value is not None and not isinstance(value, str):
        raise TypeError
    return check_allowed_exposure(value)


def _port_labels(value: Any) -> tuple[tuple[int, str], ...]:
    if not isinstance(value, dict):
        raise TypeError
    labels: dict[int, str] = {}
    for key, label in value.items():
        port = parse_port(str(key))
        if not isinstance(label, str):
            raise TypeError
        labels[port] = check_label(label)
    return tuple(labels.items())


def _app_labels(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise TypeError
    labels: dict[str, str] = {}
    for app, label in value.items():
        if not isinstance(label, str) or not app.strip():
            raise TypeError
        labels[app] = check_label(label)
    return tuple(labels.items())


def _watched(value: Any, problems: list[str]) -> tuple[WatchedPort, ...]:
    if not isinstance(value, list):
        raise TypeError
    # Keyed by the ports, so a repeated entry is found in constant time (8,000 entries: linear).
    result: dict[Any, WatchedPort] = {}
    for index, item in enumerate(value):
        where = f"'watched_ports' entry {index + 1}"
        entry = {"ports": item} if isinstance(item, str | int) else item
        ports = entry.get("ports") if isinstance(entry, dict) else None
        if isinstance(ports, bool) or not isinstance(ports, str | int):
            problems.append(f"{where} is not an object with a 'ports' field; dropped")
            continue
        try:
            spec = parse_port_spec(str(ports))
        except PortSpecError as exc:
            problems.append(f"{where}: {exc}; dropped")
            continue
        except ValueError:  # an integer too long for str()
            problems.append(f"{where}: the port is not a number from 1 to 65535; dropped")
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
        result.setdefault(spec, watch)
    return tuple(result.values())


def schema_version_of(data: Any) -> int:
    """The file's format version: a newer one is kept; missing or odd ones are ours."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return version
    return SCHEMA_VERSION


def settings_from_json(data: Any) -> tuple[Settings, list[str]]:
    """Build settings from parsed JSON; returns them and what was wrong. Never raises."""
    defaults = Settings()
    if not isinstance(data, dict):
        return defaults, [f"the file holds {type(data).__name__}, not an object"]
    reader = _Reader(data)
    watched = defaults.watched_ports
    if "watched_ports" in data:
        try:
            watched = _watched(data["watched_ports"], reader.problems)
        except TypeError:
            reader.problems.append(_wrong("watched_ports", data["watched_ports"], "a list"))
    settings = Settings(
        schema_version=schema_version_of(data),
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
        port_labels=reader.get(
            "port_labels", (), _port_labels, 'an object like {"3000": "Shop frontend"}'
        ),
        app_labels=reader.get(
            "app_labels", (), _app_labels, 'an object like {"nginx": "Web server"}'
        ),
        extra=tuple((k, v) for k, v in data.items() if k not in KNOWN_KEYS),
    )
    return settings, reader.problems


KNOWN_KEYS = frozenset(Settings().to_json())
