"""User settings: a JSON file with a schema version, loaded tolerantly, edited under a lock.

- :func:`load_settings` never raises. A file that cannot be read (no
  permission, a folder, too large, nested too deeply, a number too long) gives
  the defaults and a message, and is never written over. A file that is not
  JSON, or has fields of the wrong type, is copied aside as
  ``settings.json.bad-<time>`` (0600); every readable field is kept, the
  others take their defaults, and the repaired settings are written back, so
  the message is shown once.
- :func:`edit_settings` is the one read-modify-write: under an exclusive
  lock (:mod:`portwatch.core.settings_lock`) it reads the file, applies a
  change and writes the result with :func:`portwatch.core.files.write_atomic`.
  It raises :class:`SettingsFileError` (one line for a person) and changes
  nothing when the file cannot be read or written.
- Keys and a ``schema_version`` from a newer portwatch are kept as they were.

The values and their checks are in :mod:`portwatch.core.settings_model`, the
JSON reading in :mod:`portwatch.core.settings_json`; both are re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from portwatch.core import paths
from portwatch.core.files import DIR_MODE, write_atomic
from portwatch.core.safetext import visible
from portwatch.core.settings_json import (
    MAX_FILE_BYTES,
    NotJsonError,
    UnreadableError,
    parse_settings_bytes,
    settings_from_json,
)
from portwatch.core.settings_lock import exclusive_lock
from portwatch.core.settings_model import (
    MAX_INTERVAL,
    MAX_QUIET_PERIOD,
    MIN_INTERVAL,
    SCHEMA_VERSION,
    NotificationStyle,
    Settings,
    SettingsError,
    WatchedPort,
    check_allowed_exposure,
    check_exposure_level,
    check_interval,
    check_quiet_period,
    merge_settings,
    parse_ignore_processes,
    parse_interval,
)

log = logging.getLogger(__name__)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_INTERVAL",
    "MAX_QUIET_PERIOD",
    "MIN_INTERVAL",
    "SCHEMA_VERSION",
    "Edit",
    "LoadResult",
    "NotificationStyle",
    "Settings",
    "SettingsError",
    "SettingsFileError",
    "SettingsReadError",
    "SettingsWriteError",
    "WatchedPort",
    "check_allowed_exposure",
    "check_exposure_level",
    "check_interval",
    "check_quiet_period",
    "edit_settings",
    "load_settings",
    "merge_settings",
    "parse_ignore_processes",
    "parse_interval",
    "save_settings",
    "settings_from_json",
]


class SettingsFileError(Exception):
    """The settings file could not be read or written; ``str()`` is one line for a person."""


class SettingsReadError(SettingsFileError):
    pass


class SettingsWriteError(SettingsFileError):
    pass


_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ELOOP: "it is a symbolic link loop",
}


def _reason(exc: OSError) -> str:
    reason = _REASONS.get(exc.errno or 0)
    if reason is None:
        text = exc.strerror or str(exc) or type(exc).__name__
        reason = text[:1].lower() + text[1:]
    return reason


def _shown(path: Path | str) -> str:
    return visible(str(path))


def _settings_path(path: Path | None) -> Path:
    """``path``, or the platformdirs settings file; a folder that cannot be made is a read error."""
    if path is not None:
        return path
    try:
        return paths.settings_file()
    except OSError as exc:
        where = exc.filename or "the settings folder"
        raise SettingsReadError(
            f"cannot make the settings folder ({_shown(where)}: {_reason(exc)})"
        ) from None


# --- loading ---


@dataclass(frozen=True, slots=True)
class LoadResult:
    settings: Settings
    # What was wrong with the file (empty when it was fine or missing).
    problems: tuple[str, ...] = ()
    # Where the unreadable original was kept, if it was.
    backup: Path | None = None
    # Why the file could not be read at all (the defaults are used; the file is left alone).
    error: str | None = None

    @property
    def message(self) -> str | None:
        """One message for the user, or None when there is nothing to say."""
        if self.error:
            return (
                f"{self.error[:1].upper()}{self.error[1:]}. portwatch uses its default "
                "settings for now and leaves the file as it is."
            )
        if not self.problems:
            return None
        kept = f" The original is kept as {_shown(self.backup)}." if self.backup else ""
        listed = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"Some settings could not be read and were reset to defaults: {listed}{more}.{kept}"

    @property
    def newer_message(self) -> str | None:
        """Said once when the file comes from a newer portwatch."""
        version = self.settings.schema_version
        if version <= SCHEMA_VERSION:
            return None
        return (
            f"The settings file was written by a newer portwatch (format {version}; this one "
            f"reads format {SCHEMA_VERSION}). Settings this version does not know are kept "
            "as they are."
        )


@dataclass(frozen=True, slots=True)
class _Found:
    settings: Settings
    problems: tuple[str, ...]
    raw: bytes | None  # the file's bytes, kept for the backup


def _read(path: Path) -> _Found:
    """The file's settings; raises SettingsReadError when it cannot be read at all."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return _Found(Settings(), (), None)
    except OSError as exc:
        raise SettingsReadError(
            f"cannot read the settings file {_shown(path)}: {_reason(exc)}"
        ) from None
    try:
        data = parse_settings_bytes(raw)
    except UnreadableError as exc:
        raise SettingsReadError(f"cannot read the settings file {_shown(path)}: {exc}") from None
    except NotJsonError as exc:
        return _Found(Settings(), (str(exc),), raw)
    settings, problems = settings_from_json(data)
    if settings.schema_version > SCHEMA_VERSION:
        log.info(
            "settings schema %s is newer than this portwatch (%s): reading what it knows",
            settings.schema_version,
            SCHEMA_VERSION,
        )
    return _Found(settings, tuple(problems), raw)


def _backup(path: Path, raw: bytes) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bad-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.bad-{stamp}-{counter}")
        counter += 1
    return write_atomic(target, raw)


def _write(path: Path, settings: Settings) -> None:
    text = json.dumps(settings.to_json(), indent=2, sort_keys=False) + "\n"
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise SettingsWriteError(
            f"cannot save the settings file {_shown(path)}: {_reason(exc)}"
        ) from None


def _repair(path: Path, found: _Found) -> Path | None:
    """Keep the bad file aside, then write the repaired settings; no backup, no rewrite."""
    if found.raw is None:
        return None
    try:
        backup = _backup(path, found.raw)
    except OSError as exc:
        raise SettingsWriteError(
            f"cannot keep a copy of the bad settings file {_shown(path)}: {_reason(exc)}"
        ) from None
    _write(path, found.settings)
    return backup


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """The settings lock; a lock that cannot be made or had is a SettingsWriteError."""
    with contextlib.ExitStack() as stack:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            stack.enter_context(exclusive_lock(path))
        except OSError as exc:
            raise SettingsWriteError(
                f"cannot save the settings file {_shown(path)}: {_reason(exc)}"
            ) from None
        _sweep_orphans(path)
        yield


def _sweep_orphans(path: Path) -> None:
    """Temporary files of a writer that was killed mid-save (every writer holds the lock)."""
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            orphan.unlink()


def load_settings(path: Path | None = None) -> LoadResult:
    """Read the settings file; never raises for what is (or is not) in it."""
    try:
        path = _settings_path(path)
        found = _read(path)
    except SettingsReadError as exc:
        log.info("%s", exc)
        return LoadResult(Settings(), error=str(exc))
    if not found.problems:
        return LoadResult(found.settings)
    log.info("settings file %s had problems: %s", path, "; ".join(found.problems))
    backup = None
    try:
        with _lock(path):
            again = _read(path)  # another process may have repaired or changed it meanwhile
            if again.problems:
                backup = _repair(path, again)
            found = again
    except (SettingsFileError, OSError) as exc:
        log.info("could not repair the settings file: %s", exc)
    return LoadResult(found.settings, found.problems, backup)


# --- editing and saving ---


@dataclass(frozen=True, slots=True)
class Edit:
    """What :func:`edit_settings` found and wrote."""

    before: Settings  # as read from the file (repaired if it had problems)
    after: Settings  # as written (the same as before when the change changed nothing)
    loaded: LoadResult  # the problems found in the file, and its backup

    @property
    def changed(self) -> bool:
        return self.after != self.before


def edit_settings(change: Callable[[Settings], Settings], path: Path | None = None) -> Edit:
    """Read, change and write the settings file as one step, under the settings lock.

    ``change`` gets the settings in the file now and returns the new ones. The
    file is written only when they differ (or it needed repair). Raises
    :class:`SettingsReadError` when the file cannot be read and
    :class:`SettingsWriteError` when it cannot be written: nothing was changed.
    """
    path = _settings_path(path)
    with _lock(path):
        found = _read(path)
        backup = _repair(path, found) if found.problems else None
        after = change(found.settings)
        if after != found.settings:
            _write(path, after)
    loaded = LoadResult(found.settings, found.problems, backup)
    return Edit(found.settings, after, loaded)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Replace the settings file with ``settings`` (atomic, 0600), under the settings lock.

    This drops whatever is in the file; to change one thing, use :func:`edit_settings`.
    Raises :class:`SettingsFileError`.
    """
    path = _settings_path(path)
    with _lock(path):
        _write(path, settings)
    return path
