"""Start at login: XDG autostart files, LaunchAgent plists and the Run key, in temp folders."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.core.autostart import (
    AutostartError,
    LaunchCommand,
    autostart_manager,
    launch_command,
)
from portwatch.core.autostart.linux import XdgAutostart, exec_value
from portwatch.core.autostart.macos import LaunchAgentAutostart
from portwatch.core.autostart.windows import RUN_KEY, RunKeyAutostart
from portwatch.core.paths import resource_path
from portwatch.entry import main

APP_ID = "io.github.portwatch.Portwatch"
REPO = Path(__file__).resolve().parent.parent


def unescape_exec(value: str) -> list[str]:
    """Undo the Desktop Entry escaping as a desktop does: string level, then Exec quoting."""
    string = value.replace("\\\\", "\\")
    words: list[str] = []
    word: str | None = None
    quoted = False
    chars = iter(string)
    for ch in chars:
        if quoted:
            if ch == "\\":
                escaped = next(chars)
                assert escaped in '"`$\\', f"bad escape \\{escaped}"
                word = (word or "") + escaped
            elif ch == '"':
                quoted = False
            else:
                word = (word or "") + ch
        elif ch == '"':
            quoted = True
            word = word or ""
        elif ch == " ":
            if word is not None:
                words.append(word)
            word = None
        else:
            word = (word or "") + ch
    assert not quoted, "unterminated quote"
    if word is not None:
        words.append(word)
    return [w.replace("%%", "%") for w in words]


def desktop_values(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line)


# --- Linux -----------------------------------------------------------------


def install_themed_icon(monkeypatch: pytest.MonkeyPatch, share: Path) -> None:
    """As the .deb and the .rpm do: the icon in the hicolor theme of a data folder."""
    apps = share / "icons" / "hicolor" / "scalable" / "apps"
    apps.mkdir(parents=True)
    (apps / f"{APP_ID}.svg").write_text("<svg/>")
    monkeypatch.setenv("XDG_DATA_DIRS", str(share))


def test_xdg_enable_writes_a_desktop_file_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_themed_icon(monkeypatch, tmp_path / "share")
    manager = autostart_manager("linux")
    expected = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / f"{APP_ID}.desktop"
    assert manager.location() == str(expected)
    assert not manager.is_enabled()

    manager.enable()
    assert manager.is_enabled()
    values = desktop_values(expected)
    assert values["Type"] == "Application"
    assert values["Icon"] == APP_ID
    assert unescape_exec(values["Exec"]) == list(launch_command().argv)

    manager.disable()
    assert not expected.exists()
    assert not manager.is_enabled()
    manager.disable()  # disabling twice is fine


def test_xdg_relative_config_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The XDG spec says a relative XDG_CONFIG_HOME is invalid: fall back to ~/.config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert autostart_manager("linux").location() == str(
        Path.home() / ".config" / "autostart" / f"{APP_ID}.desktop"
    )


def test_exec_escaping_round_trips_awkward_paths() -> None:
    argv = (
        "/opt/my apps/port$watch",
        "--flag=100%",
        'say "hi"',
        "back\\slash",
        "`tick`",
    )
    assert unescape_exec(exec_value(argv)) == list(argv)
    assert exec_value(("/opt/portwatch/portwatch",)) == "/opt/portwatch/portwatch"


@pytest.mark.skipif(sys.platform == "win32", reason="runs a POSIX shell script")
def test_exec_line_really_runs_the_command(tmp_path: Path) -> None:
    """A script in a folder with a space, started through the Exec value as a desktop would."""
    folder = tmp_path / "my apps"
    folder.mkdir()
    marker = tmp_path / "started"
    script = folder / "fake portwatch"
    script.write_text(f"#!/bin/sh\necho \"$@\" > '{marker}'\n")
    script.chmod(0o755)
    manager = XdgAutostart(LaunchCommand((str(script), "50%")), folder=tmp_path / "autostart")
    manager.enable()
    argv = unescape_exec(desktop_values(Path(manager.location()))["Exec"])
    subprocess.run(argv, check=True, timeout=10)
    assert marker.read_text() == "50%\n"


def test_xdg_entry_of_a_pip_install_names_the_icon_file_it_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No icon in any theme (a venv, --user or system pip install): the path of portwatch's own."""
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "empty"))
    manager = autostart_manager("linux")
    manager.enable()
    icon = Path(desktop_values(Path(manager.location()))["Icon"])
    assert icon.is_absolute()
    assert icon == resource_path("portwatch.svg")
    assert icon.is_file()
    assert icon.read_text(encoding="utf-8").lstrip().startswith("<")
    # Installed in a theme of a data folder (the user's own too): the theme name.
    install_themed_icon(monkeypatch, Path(os.environ["XDG_DATA_HOME"]))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "empty"))
    manager.enable()
    assert desktop_values(Path(manager.location()))["Icon"] == APP_ID


def test_xdg_entry_switched_off_by_the_desktop_counts_as_off(tmp_path: Path) -> None:
    manager = XdgAutostart(LaunchCommand(("/usr/bin/portwatch",)), folder=tmp_path)
    manager.enable()
    path = Path(manager.location())
    path.write_text(path.read_text() + "Hidden=true\n")
    assert not manager.is_enabled()
    manager.enable()
    assert manager.is_enabled()
    path.write_text(path.read_text().replace("Autostart-enabled=true", "Autostart-enabled=false"))
    assert not manager.is_enabled()


def test_xdg_checkout_gets_a_working_folder(tmp_path: Path) -> None:
    manager = XdgAutostart(LaunchCommand(("python3", "-m", "portwatch"), cwd="/src/pw"), tmp_path)
    manager.enable()
    assert desktop_values(Path(manager.location()))["Path"] == "/src/pw"


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="POSIX modes; root writes anyway"
)
def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "autostart"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        manager = XdgAutostart(LaunchCommand(("/usr/bin/portwatch",)), folder=folder)
        with pytest.raises(AutostartError, match=r"cannot write .*autostart.*Permission denied"):
            manager.enable()
    finally:
        folder.chmod(0o700)


def test_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    """Works as root too: the autostart 'folder' is a regular file."""
    blocker = tmp_path / "autostart"
    blocker.write_text("not a folder")
    manager = XdgAutostart(LaunchCommand(("/usr/bin/portwatch",)), folder=blocker)
    with pytest.raises(AutostartError, match=r"cannot write .*autostart"):
        manager.enable()
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize("kind", ["xdg", "launch-agent"])
def test_entries_are_private_and_written_whole(tmp_path: Path, kind: str) -> None:
    """0600 (not the umask's 0644), written through a temporary that is not left behind."""
    command = LaunchCommand(("/usr/bin/portwatch",))
    manager: XdgAutostart | LaunchAgentAutostart = (
        XdgAutostart(command, folder=tmp_path / "entries")
        if kind == "xdg"
        else LaunchAgentAutostart(command, folder=tmp_path / "entries")
    )
    previous = os.umask(0o022)
    try:
        manager.enable()
        entry = Path(manager.location())
        assert entry.stat().st_mode & 0o777 == 0o600
        entry.chmod(0o644)  # an entry from an older version
        manager.enable()
    finally:
        os.umask(previous)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert manager.is_enabled()
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]


# --- launch command ----------------------------------------------------------


def test_launch_command_from_a_checkout_uses_python_m_with_the_checkout_as_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `portwatch` on PATH
    command = launch_command()
    assert command.argv == (sys.executable, "-m", "portwatch")
    assert command.cwd == str(REPO)


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX executable script")
def test_launch_command_prefers_the_entry_point_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    entry = tmp_path / "portwatch"
    entry.write_text("#!/bin/sh\n")
    entry.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert launch_command() == LaunchCommand((str(entry),))


def test_launch_command_of_a_bundle_is_its_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    exe = tmp_path / "portwatch"
    exe.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert launch_command() == LaunchCommand((str(exe),))


# --- macOS --------------------------------------------------------------------


def test_launch_agent_plist_parses_back(tmp_path: Path) -> None:
    manager = LaunchAgentAutostart(
        LaunchCommand(("/Applications/portwatch.app/Contents/MacOS/portwatch",)), folder=tmp_path
    )
    assert not manager.is_enabled()
    manager.enable()
    path = tmp_path / f"{APP_ID}.plist"
    assert manager.location() == str(path)
    with path.open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist == {
        "Label": APP_ID,
        "ProgramArguments": ["/Applications/portwatch.app/Contents/MacOS/portwatch"],
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
    }
    assert manager.is_enabled()
    manager.disable()
    assert not path.exists()
    assert not manager.is_enabled()


def test_launch_agent_default_folder_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["XDG_CONFIG_HOME"]).parent
    monkeypatch.setenv("HOME", str(home))
    manager = autostart_manager("darwin")
    manager.enable()
    agent = home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    assert manager.location() == str(agent)
    with agent.open("rb") as handle:
        assert plistlib.load(handle)["ProgramArguments"] == list(launch_command().argv)


def test_launch_agent_disabled_or_corrupt(tmp_path: Path) -> None:
    manager = LaunchAgentAutostart(LaunchCommand(("/x",), cwd="/src"), folder=tmp_path)
    manager.enable()
    path = Path(manager.location())
    plist = plistlib.loads(path.read_bytes())
    assert plist["WorkingDirectory"] == "/src"
    path.write_bytes(plistlib.dumps({**plist, "Disabled": True}))
    assert not manager.is_enabled()
    path.write_bytes(b"<?xml garbage")
    with pytest.raises(AutostartError, match="cannot read"):
        manager.is_enabled()


# --- Windows ------------------------------------------------------------------


class FakeRunKey:
    """The HKCU Run key as a dict; can be told to refuse writes like a locked-down policy."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {"OneDrive": '"C:\\OneDrive.exe" /background'}
        self.refuse = False

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        if self.refuse:
            raise PermissionError(13, "Access is denied")
        self.values[name] = value

    def delete(self, name: str) -> None:
        if self.refuse:
            raise PermissionError(13, "Access is denied")
        self.values.pop(name, None)


def test_run_key_value_is_one_quoted_command_line() -> None:
    registry = FakeRunKey()
    exe = "C:\\Users\\Ann Lee\\AppData\\Local\\Programs\\portwatch\\portwatch.exe"
    manager = RunKeyAutostart(LaunchCommand((exe,)), registry=registry)
    assert not manager.is_enabled()
    manager.enable()
    assert manager.is_enabled()
    assert registry.values["portwatch"] == f'"{exe}"'
    assert manager.location() == f"HKEY_CURRENT_USER\\{RUN_KEY}\\portwatch"
    manager.disable()
    assert "portwatch" not in registry.values
    # Other programs' values are left alone.
    assert registry.values == {"OneDrive": '"C:\\OneDrive.exe" /background'}
    manager.disable()


def test_run_key_refusal_is_a_clear_error() -> None:
    registry = FakeRunKey()
    registry.refuse = True
    manager = RunKeyAutostart(LaunchCommand(("C:\\pw.exe",)), registry=registry)
    with pytest.raises(AutostartError, match=r"cannot write HKEY_CURRENT_USER\\.*Access is denied"):
        manager.enable()


@pytest.mark.skipif(sys.platform == "win32", reason="the real registry exists there")
def test_real_registry_off_windows_is_a_clear_error() -> None:
    with pytest.raises(AutostartError, match="only on Windows"):
        autostart_manager("win32")


# --- CLI ------------------------------------------------------------------------


@pytest.fixture
def xdg_cli(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on the XDG backend, so a run on macOS or Windows stays in temp folders."""
    from portwatch.cli import autostart_cmds

    monkeypatch.setattr(autostart_cmds, "autostart_manager", lambda: autostart_manager("linux"))
    return Path(os.environ["XDG_CONFIG_HOME"]) / "autostart"


def test_cli_round_trip_on_status_off(capsys: pytest.CaptureFixture[str], xdg_cli: Path) -> None:
    entry = xdg_cli / f"{APP_ID}.desktop"
    assert main(["autostart", "status"]) == 0
    assert capsys.readouterr().out == "Start at login: off\n"

    assert main(["autostart", "on"]) == 0
    assert capsys.readouterr().out == f"Start at login: on ({entry})\n"
    assert entry.is_file()

    assert main(["autostart", "status"]) == 0
    assert capsys.readouterr().out == f"Start at login: on ({entry})\n"

    assert main(["autostart", "off"]) == 0
    assert capsys.readouterr().out == "Start at login: off\n"
    assert not entry.exists()


def test_cli_error_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], xdg_cli: Path
) -> None:
    xdg_cli.write_text("a file, not a folder")
    assert main(["autostart", "on"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("portwatch: start at login: cannot write ")
    assert captured.err.count("\n") == 1


def test_cli_bad_action_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["autostart", "maybe"])
    assert exited.value.code == 2
    assert "invalid choice: 'maybe'" in capsys.readouterr().err
