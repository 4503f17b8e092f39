"""Every settings-file oddity: the CLI says one line and exits 1; the app, defaults and a notice.

Real files, real mounts (a tmpfs that is full or read-only) and real users
(``nobody`` through setpriv, for what root cannot be refused). Nothing here
ever writes over a file that could not be read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.core import paths
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import (
    SCHEMA_VERSION,
    Settings,
    SettingsReadError,
    SettingsWriteError,
    WatchedPort,
    edit_settings,
    load_settings,
    save_settings,
)
from portwatch.entry import main

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
SETPRIV = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
TWO_PORTS = Settings(
    watched_ports=(WatchedPort(PortSpec(3000, 3000)), WatchedPort(PortSpec(5173, 5173)))
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry of ``folder`` with its bytes (None for a folder)."""
    return {p.name: (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.iterdir())}


# --- what the file holds -------------------------------------------------------------------


ODD_CONTENTS = {
    "a 5000-digit integer": b'{"scan_interval": ' + b"9" * 5000 + b"}",
    "100k-deep nesting": b'{"extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "65-deep nesting": b'{"extra": ' + b"[" * 65 + b"]" * 65 + b"}",
}


@pytest.mark.parametrize("name", sorted(ODD_CONTENTS))
def test_json_that_cannot_be_held_is_left_alone(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = paths.settings_file()
    path.write_bytes(ODD_CONTENTS[name])
    before = _snapshot(path.parent)
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.error is not None
    assert loaded.message is not None
    assert "leaves the file as it is" in loaded.message
    code, out, err = run(capsys, "watch-port", "add", "4242")
    assert (code, out) == (1, "")
    line = one_line(err)
    assert line.startswith(f"portwatch watch-port add: cannot read the settings file {path}: ")
    assert line.endswith(" — nothing was changed")
    assert ("too long" in line) if "digit" in name else ("nested too deeply" in line)
    code, out, err = run(capsys, "watch-port", "list")
    assert (code, out) == (1, "")
    one_line(err)
    with pytest.raises(SettingsReadError):
        edit_settings(lambda s: s.with_watched_added([PortSpec(1, 1)]))
    # Nothing was written, no backup, no lock file left behind in place of the settings.
    after = _snapshot(path.parent)
    assert {k: v for k, v in after.items() if k != "settings.json.lock"} == before


def test_the_settings_file_is_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.settings_file()
    path.mkdir()
    (path / "inside").write_text("mine")
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.error == f"cannot read the settings file {path}: it is a folder, not a file"
    code, out, err = run(capsys, "watch-port", "add", "3000")
    assert (code, out) == (1, "")
    assert one_line(err) == (
        f"portwatch watch-port add: cannot read the settings file {path}: "
        "it is a folder, not a file — nothing was changed"
    )
    assert (path / "inside").read_text() == "mine"


def test_a_file_larger_than_the_cap_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.settings_file()
    with path.open("wb") as out:
        out.write(b'{"pad": "')
        out.truncate(17 * 1024 * 1024)
    size = path.stat().st_size
    assert load_settings().error == (
        f"cannot read the settings file {path}: it is larger than 16 MB"
    )
    code, _, err = run(capsys, "watch-port", "add", "3000")
    assert code == 1
    assert "larger than 16 MB — nothing was changed" in one_line(err)
    assert path.stat().st_size == size


def test_a_file_with_wrong_values_is_repaired_with_a_private_backup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = paths.settings_file()
    original = b'{"scan_interval": "fast", "watched_ports": ["3000"]}'
    path.write_bytes(original)
    path.chmod(0o644)
    code, out, err = run(capsys, "watch-port", "add", "4000")
    assert (code, out) == (0, "watching 4000\n")
    assert one_line(err).startswith("note: Some settings could not be read")
    backups = sorted(path.parent.glob("settings.json.bad-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == original
    assert oct(backups[0].stat().st_mode & 0o777) == "0o600"
    assert [str(w.ports) for w in load_settings().settings.watched_ports] == ["3000", "4000"]


def test_newer_schema_and_unknown_fields_survive_an_add(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.settings_file()
    future = {"rules": [{"when": "bound", "then": ["notify", {"sound": "ping"}]}], "n": 1.5}
    path.write_text(
        json.dumps({"schema_version": 7, "watched_ports": ["3000"], "future_feature": future})
    )
    loaded = load_settings()
    assert loaded.message is None
    assert loaded.settings.schema_version == 7
    assert loaded.newer_message is not None
    assert "newer portwatch (format 7" in loaded.newer_message
    assert run(capsys, "watch-port", "add", "4000") == (0, "watching 4000\n", "")
    data = json.loads(path.read_text())
    assert data["schema_version"] == 7
    assert data["future_feature"] == future
    assert [w["ports"] for w in data["watched_ports"]] == ["3000", "4000"]
    # And an older or odd version is read as ours.
    path.write_text('{"schema_version": 0}')
    assert load_settings().settings.schema_version == SCHEMA_VERSION
    assert load_settings().newer_message is None


def test_a_missing_home_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """platformdirs under a home that cannot exist (below a file, so root is refused too)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("HOME", str(blocker / "home"))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.error is not None
    assert loaded.error.startswith("cannot make the settings folder (")
    code, out, err = run(capsys, "watch-port", "add", "3000")
    assert (code, out) == (1, "")
    assert one_line(err).startswith("portwatch watch-port add: cannot make the settings folder (")
    code, out, err = run(capsys, "watch-port", "list")
    assert (code, out) == (1, "")
    one_line(err)
    assert blocker.read_text() == ""


# --- a disk that is full or read-only (a tmpfs of the test's own) ---------------------------


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    where = Path(tempfile.mkdtemp(prefix="portwatch-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"mount refused a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            where.rmdir()


def _fill(folder: Path) -> None:
    """Write until the disk says it is full."""
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as out:
        for _ in range(10_000):  # bounded: 10,000 × 64 KiB is far more than the tmpfs
            out.write(b"\0" * 65536)
            out.flush()


def _point_config_at(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder / "portwatch" / "settings.json"


@pytest.mark.privileged
def test_a_full_disk(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with tmpfs("256k") as disk:
        path = _point_config_at(disk, monkeypatch)
        save_settings(TWO_PORTS)
        bad = disk / "portwatch" / "broken.json"
        bad.write_text('{"scan_interval": "fast"}')
        _fill(disk)
        before = path.read_bytes()
        code, out, err = run(capsys, "watch-port", "add", "4242")
        assert (code, out) == (1, "")
        assert one_line(err) == (
            f"portwatch watch-port add: cannot save the settings file {path}: "
            "the disk is full — nothing was changed"
        )
        assert path.read_bytes() == before
        # A file that needs repair on a full disk: defaults and a notice, the original kept.
        loaded = load_settings(bad)
        assert loaded.settings == Settings()
        assert loaded.message is not None
        assert loaded.backup is None
        assert bad.read_text() == '{"scan_interval": "fast"}'
        with pytest.raises(SettingsWriteError, match="the disk is full"):
            save_settings(Settings(), path)
        assert path.read_bytes() == before
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.privileged
def test_a_read_only_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs("1m") as disk:
        path = _point_config_at(disk, monkeypatch)
        save_settings(TWO_PORTS)
        (path.parent / "settings.json.lock").unlink()
        bad = path.with_name("broken.json")
        bad.write_text("{not json")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, timeout=30)
        before = path.read_bytes()
        assert load_settings().settings == TWO_PORTS
        code, out, err = run(capsys, "watch-port", "add", "4242")
        assert (code, out) == (1, "")
        assert one_line(err) == (
            f"portwatch watch-port add: cannot save the settings file {path}: "
            "the disk is read-only — nothing was changed"
        )
        code, out, _ = run(capsys, "watch-port", "list")
        assert code == 0
        assert out.split()[5:7] == ["3000", "yes"]
        loaded = load_settings(bad)
        assert loaded.settings == Settings()
        assert loaded.message is not None
        assert "not valid JSON" in loaded.message
        assert path.read_bytes() == before
        assert bad.read_text() == "{not json"


# --- as nobody: what root is never refused --------------------------------------------------


def _nobody_can_run() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        [*SETPRIV, sys.executable, "-c", "import portwatch.cli"],
        capture_output=True,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"},
        timeout=60,
    )
    return probe.returncode == 0


needs_nobody = pytest.mark.skipif(
    not _nobody_can_run(), reason="needs root, setpriv and a checkout and venv nobody can read"
)


def as_nobody(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SETPRIV, sys.executable, "-m", "portwatch", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A folder nobody can reach (pytest's own tmp folders are root's 0700)."""
    home = Path(tempfile.mkdtemp(prefix="portwatch-nobody-"))
    try:
        home.chmod(0o755)
        (home / "config" / "portwatch").mkdir(parents=True)
        for folder in (home / "config", home / "config" / "portwatch"):
            os.chown(folder, NOBODY, NOBODY)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.privileged
@needs_nobody
def test_unreadable_file_as_nobody_is_never_replaced(nobody_home: Path) -> None:
    path = save_settings(TWO_PORTS, nobody_home / "config" / "portwatch" / "settings.json")
    for owned in (path, path.with_name("settings.json.lock")):
        os.chown(owned, NOBODY, NOBODY)
    path.chmod(0o000)
    before = _snapshot(path.parent)
    env = {"HOME": str(nobody_home), "XDG_CONFIG_HOME": str(nobody_home / "config")}
    result = as_nobody("watch-port", "add", "4242", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert one_line(result.stderr) == (
        f"portwatch watch-port add: cannot read the settings file {path}: "
        "permission denied — nothing was changed"
    )
    result = as_nobody("watch-port", "remove", "3000", env=env)
    assert result.returncode == 1
    one_line(result.stderr)
    assert _snapshot(path.parent) == before
    assert oct(path.stat().st_mode & 0o777) == "0o0"
    assert load_settings(path).settings == TWO_PORTS  # root still reads both ports


@pytest.mark.privileged
@needs_nobody
def test_read_only_config_folder_as_nobody(nobody_home: Path) -> None:
    folder = nobody_home / "config" / "portwatch"
    path = save_settings(TWO_PORTS, folder / "settings.json")
    (folder / "settings.json.lock").unlink()
    os.chown(folder, 0, 0)
    folder.chmod(0o755)
    path.chmod(0o644)
    before = _snapshot(folder)
    env = {"HOME": str(nobody_home), "XDG_CONFIG_HOME": str(nobody_home / "config")}
    result = as_nobody("watch-port", "add", "4242", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert one_line(result.stderr) == (
        f"portwatch watch-port add: cannot save the settings file {path}: "
        "permission denied — nothing was changed"
    )
    listed = as_nobody("watch-port", "list", "--json", env=env)
    assert listed.returncode == 0
    assert [w["ports"] for w in json.loads(listed.stdout)] == ["3000", "5173"]
    assert _snapshot(folder) == before


@pytest.mark.privileged
@needs_nobody
def test_home_nonexistent_as_nobody() -> None:
    env = {"HOME": "/nonexistent"}
    for argv, action in ((("watch-port", "add", "3000"), "add"), (("watch-port", "list"), "list")):
        result = as_nobody(*argv, env=env)
        assert (result.returncode, result.stdout) == (1, "")
        line = one_line(result.stderr)
        assert line.startswith(f"portwatch watch-port {action}: cannot make the settings folder (")
        assert "permission denied" in line
    assert not Path("/nonexistent").exists()
