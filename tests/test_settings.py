"""Settings: defaults, round trip, recovery from bad files, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import (
    SCHEMA_VERSION,
    NotificationStyle,
    Settings,
    SettingsWriteError,
    WatchedPort,
    load_settings,
    save_settings,
)


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bad-*"))


def test_missing_file_gives_defaults_and_no_message() -> None:
    result = load_settings()
    assert result.settings == Settings()
    assert result.message is None
    assert not paths.settings_file().exists()


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert s.scan_interval == 2.0
    assert s.exposure_alert is True
    assert s.exposure_level is Exposure.PUBLIC
    assert s.quiet_period == 30.0
    assert s.summary_threshold == 3
    assert s.notification_style is NotificationStyle.SYSTEM
    assert (s.history_retention_days, s.history_max_rows) == (90, 200_000)


def test_round_trip_in_the_platformdirs_config_folder(isolated_user_dirs: Path) -> None:
    settings = Settings(
        scan_interval=5.0,
        watched_ports=(
            WatchedPort(PortSpec(3000, 3000)),
            WatchedPort(
                PortSpec(5432, 5432, "tcp"),
                notify_freed=False,
                expected_owner="postgres",
                allowed_exposure=Exposure.LOOPBACK,
            ),
        ),
        exposure_level=Exposure.LAN,
        ignore_processes=("cupsd",),
        ignore_ports=(PortSpec(53, 53, "udp"),),
        first_remote_client_alert=True,
        quiet_period=0.0,
        notification_style=NotificationStyle.TRAY,
    )
    path = save_settings(settings)
    assert path == paths.settings_file()
    assert str(path).startswith(str(isolated_user_dirs / "config" / "portwatch"))
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["watched_ports"][1] == {
        "ports": "tcp/5432",
        "notify_occupied": True,
        "notify_freed": False,
        "expected_owner": "postgres",
        "allowed_exposure": "loopback",
    }
    result = load_settings()
    assert result.settings == settings
    assert result.message is None
    assert _backups(path) == []


def test_corrupt_json_is_kept_aside_and_told_once() -> None:
    path = paths.settings_file()
    path.write_text('{"scan_interval": 5, "watched_ports": [')
    result = load_settings()
    assert result.settings == Settings()
    assert result.message is not None
    assert "not valid JSON" in result.message
    backups = _backups(path)
    assert len(backups) == 1
    assert result.backup == backups[0]
    assert backups[0].read_text() == '{"scan_interval": 5, "watched_ports": ['
    # The repaired file is valid now: the next start says nothing.
    again = load_settings()
    assert again.message is None
    assert again.settings == Settings()
    assert len(_backups(path)) == 1


def test_wrong_typed_fields_keep_the_good_ones() -> None:
    path = paths.settings_file()
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "scan_interval": "fast",
                "exposure_alert": "yes",
                "exposure_level": "lan",
                "quiet_period": 10,
                "watched_ports": [
                    {"ports": "3000", "expected_owner": "node"},
                    {"ports": "70000"},
                    "5173",
                    42,
                    {"nope": 1},
                    {"ports": "8000-8010", "notify_freed": "no"},
                ],
                "ignore_processes": "cupsd",
                "notification_style": "carrier pigeon",
                "history_max_rows": 5,
                "future_key": {"kept": True},
            }
        )
    )
    result = load_settings()
    s = result.settings
    assert s.scan_interval == Settings().scan_interval
    assert s.exposure_alert is True
    assert s.exposure_level is Exposure.LAN
    assert s.quiet_period == 10.0
    assert [str(w.ports) for w in s.watched_ports] == ["3000", "5173", "42", "8000-8010"]
    assert s.watched_ports[0].expected_owner == "node"
    assert s.watched_ports[3].notify_freed is True
    assert s.ignore_processes == ()
    assert s.notification_style is NotificationStyle.SYSTEM
    assert s.history_max_rows == 200_000
    problems = "\n".join(result.problems)
    for expected in (
        "'scan_interval' should be a number of seconds",
        "'exposure_alert' should be true or false",
        "entry 2: port 70000 is out of range",
        "entry 5 is not an object",
        "'notify_freed' should be true or false",
        "'ignore_processes' should be a list of names",
        "'notification_style' should be",
        "'history_max_rows': 5 is out of range",
    ):
        assert expected in problems
    assert len(_backups(path)) == 1
    # Unknown keys survive the rewrite.
    assert json.loads(path.read_text())["future_key"] == {"kept": True}
    assert load_settings().message is None


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "null", "", "\xff\xfe"])
def test_not_an_object(content: str) -> None:
    path = paths.settings_file()
    path.write_bytes(content.encode("latin-1"))
    result = load_settings()
    assert result.settings == Settings()
    assert result.message
    assert "Some settings could not be read" in result.message


def test_partial_file_fills_defaults_silently() -> None:
    paths.settings_file().write_text('{"scan_interval": 7.5}')
    result = load_settings()
    assert result.settings == Settings(scan_interval=7.5)
    assert result.message is None


def test_out_of_range_interval_is_a_problem() -> None:
    paths.settings_file().write_text('{"scan_interval": 0}')
    result = load_settings()
    assert result.settings.scan_interval == 2.0
    assert result.problems == (
        "'scan_interval': scan interval 0 is out of range: use 0.2 to 3600 seconds",
    )


def test_save_is_atomic_and_leaves_no_temp_files(monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_settings(Settings(scan_interval=3.0))
    before = path.read_text()
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append((str(src), str(dst)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SettingsWriteError, match="the disk is full"):
        save_settings(Settings(scan_interval=9.0))
    monkeypatch.setattr(os, "replace", real_replace)
    # The old file is intact and the temporary file was in the same folder and is gone.
    assert path.read_text() == before
    assert calls
    assert Path(calls[0][0]).parent == path.parent
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json", "settings.json.lock"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_add_and_remove_watched() -> None:
    s = Settings().with_watched_added([PortSpec(3000, 3000), PortSpec(5173, 5173)])
    s = s.with_watched_added([PortSpec(3000, 3000)])
    assert [str(w.ports) for w in s.watched_ports] == ["3000", "5173"]
    s, missing = s.with_watched_removed([PortSpec(3000, 3000), PortSpec(9, 9)])
    assert [str(w.ports) for w in s.watched_ports] == ["5173"]
    assert missing == [PortSpec(9, 9)]
