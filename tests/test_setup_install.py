"""Set-up: the package list, resources as package data, the README's first command."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from portwatch.core.autostart import LaunchCommand
from portwatch.core.autostart.windows import run_value
from portwatch.core.child_env import user_environment
from tests.support.procs import wait_until

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SELF_TEST_OK = re.compile(r"^portwatch \S+ self-test ok: .*, resources ok, \d+ ms total$")


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # run()'s overloads cannot tell text mode through **kwargs: the call itself is fine.
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def test_the_wheel_lists_every_package() -> None:
    """pyproject lists packages by hand (for the resources mapping): none may be missing."""
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "portwatch").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found | {"portwatch._resources"} == listed, (found - listed, listed - found)
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"portwatch._resources": "resources"}


def test_test_tools_have_upper_bounds() -> None:
    for spec in PYPROJECT["project"]["optional-dependencies"]["test"]:
        if spec.split(">=")[0] in ("ruff", "mypy", "check-jsonschema"):
            assert ",<" in spec, spec


def test_resources_come_from_the_package() -> None:
    # resources/ becomes this package only when installed: a checkout has no such module.
    import portwatch._resources  # type: ignore[import-not-found,import-untyped,unused-ignore]

    from portwatch.core.paths import resource_path, resources_dir

    assert resources_dir() == Path(portwatch._resources.__file__).parent  # noqa: SLF001  # a package
    assert resource_path("portwatch.svg").is_file()
    assert (resources_dir() / "linux" / "io.github.portwatch.Portwatch.desktop").is_file()


def test_children_get_the_users_library_path_back() -> None:
    bundled = {"LD_LIBRARY_PATH": "/usr/lib/portwatch/_internal", "HOME": "/h"}
    assert user_environment(bundled, frozen=True) == {"HOME": "/h"}
    restored = user_environment({**bundled, "LD_LIBRARY_PATH_ORIG": "/opt/mine"}, frozen=True)
    assert restored == {"LD_LIBRARY_PATH": "/opt/mine", "HOME": "/h"}
    # Outside a bundle the variable is the user's own: left alone.
    assert user_environment(bundled, frozen=False) == bundled


@pytest.mark.skipif(sys.platform == "win32", reason="runs a POSIX shell")
def test_a_started_program_sees_the_users_library_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from portwatch.core import reveal

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/usr/lib/portwatch/_internal")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/home/me/lib")
    out = tmp_path / "seen"
    reveal.run_detached(["/bin/sh", "-c", f'echo "$LD_LIBRARY_PATH|$LD_LIBRARY_PATH_ORIG" > {out}'])
    assert wait_until(lambda: out.is_file() and out.read_text().endswith("\n"), timeout=30)
    assert out.read_text() == "/home/me/lib|\n"


def test_windows_login_entry_names_the_windowed_program() -> None:
    bundle = r"C:\Users\me\AppData\Local\Programs\portwatch"
    scripts = r"C:\Users\me\venv\Scripts"
    have = {rf"{bundle}\portwatch.exe", rf"{scripts}\portwatch-gui.exe", rf"{scripts}\pythonw.exe"}
    cases = {
        rf"{bundle}\portwatch-cli.exe": rf"{bundle}\portwatch.exe",
        rf"{bundle}\portwatch.exe": rf"{bundle}\portwatch.exe",
        rf"{scripts}\portwatch.exe": rf"{scripts}\portwatch-gui.exe",
    }
    for started, expected in cases.items():
        # No spaces in these paths: list2cmdline leaves them unquoted.
        assert run_value(LaunchCommand((started,)), have.__contains__) == expected, started
    module = run_value(
        LaunchCommand((rf"{scripts}\python.exe", "-m", "portwatch")), have.__contains__
    )
    assert module.startswith(rf"{scripts}\pythonw.exe -m portwatch")
    # No windowed sibling: the command stays as it was.
    assert (
        run_value(LaunchCommand((r"C:\x\portwatch.exe",)), have.__contains__)
        == r"C:\x\portwatch.exe"
    )


# --- installs for real (slow) ---------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(out)],
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return next(out.glob("portwatch-*.whl"))


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("how", ["--user", "--prefix"])
def test_an_installed_wheel_finds_its_resources(wheel: Path, tmp_path: Path, how: str) -> None:
    """A --user install and a system-style prefix install: the self-test finds the icon."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    if run([str(base), "-m", "pip", "--version"]).returncode != 0:
        pytest.skip(f"the base Python {base} has no pip for a --user install")
    target = tmp_path / "install"
    env = {**os.environ, "PYTHONUSERBASE": str(target), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    where = ["--user"] if how == "--user" else ["--prefix", str(target)]
    result = run(
        [
            str(base),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-warn-script-location",
            *where,
            str(wheel),
        ],
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    site = Path(
        sysconfig.get_path(
            "purelib",
            vars={"base": str(target), "userbase": str(target)},
            scheme="posix_user" if how == "--user" else "posix_prefix",
        )
    )
    assert (site / "portwatch" / "_resources" / "portwatch.svg").is_file()
    # The dependencies from this venv (PYTHONPATH: no .pth files, so not its editable
    # portwatch); portwatch itself from the new install.
    deps = sysconfig.get_path("purelib")
    env["PYTHONPATH"] = os.pathsep.join([str(site), deps]) if how == "--prefix" else deps
    probe = run(
        [str(base), "-c", "from portwatch.core.paths import resources_dir; print(resources_dir())"],
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == site / "portwatch" / "_resources"
    started = run([str(base), "-m", "portwatch", "--self-test"], env=env, cwd=tmp_path, timeout=120)
    assert started.returncode == 0, started.stderr
    assert SELF_TEST_OK.match(started.stdout.strip()), started.stdout


def readme_first_command() -> str:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, re.DOTALL)[0]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the README's set-up is for Debian and Ubuntu"
)
def test_readme_first_command_word_for_word_in_a_fresh_copy(tmp_path: Path) -> None:
    """The README's first command, run as written beside a fresh clone: the app comes up.

    Then it is stopped as a user would (SIGTERM to the app): it exits cleanly.
    """
    command = readme_first_command()
    assert command.startswith("cd portwatch && ")
    if not shutil.which("git"):
        pytest.skip("git is not installed (apt-get install git)")
    # A clone of the commit checked out here, as a newcomer gets it: only what is committed.
    git = ["git", "-c", "safe.directory=*"]
    head = run([*git, "rev-parse", "HEAD"], cwd=REPO)
    if head.returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout: {head.stderr.strip()}")
    copy = tmp_path / "portwatch"
    cloned = run([*git, "clone", "-q", "--no-checkout", str(REPO), str(copy)], timeout=300)
    assert cloned.returncode == 0, cloned.stderr
    checked_out = run([*git, "checkout", "-q", head.stdout.strip()], cwd=copy, timeout=300)
    assert checked_out.returncode == 0, checked_out.stderr
    home = tmp_path / "newcomer"  # conftest's own HOME is tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
    }
    log_file = home / ".local" / "state" / "portwatch" / "log" / "portwatch.log"
    output = (tmp_path / "out.txt").open("w")
    app = subprocess.Popen(
        ["bash", "-c", command],
        cwd=tmp_path,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def started() -> re.Match[str] | None:
            text = log_file.read_text() if log_file.is_file() else ""
            return re.search(r" started \(pid (\d+),", text)

        assert wait_until(lambda: bool(started()) or app.poll() is not None, timeout=600, step=0.5)
        up = started()
        assert up, (tmp_path / "out.txt").read_text()[-4000:]
        assert (copy / ".venv" / "bin" / "portwatch").is_file()
        # Stopped by its pid, as `kill PID` would: the command ends with the app's status.
        os.kill(int(up[1]), signal.SIGTERM)
        assert app.wait(timeout=60) == 0, (tmp_path / "out.txt").read_text()[-4000:]
        assert "portwatch stopped" in log_file.read_text()
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGTERM)
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(app.pid, signal.SIGKILL)
                app.wait(timeout=10)
        output.close()
    assert "Traceback" not in (tmp_path / "out.txt").read_text()
