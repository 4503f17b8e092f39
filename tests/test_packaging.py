"""Packaging: desktop metadata, `--self-test`, and (slow) the Linux bundle and .deb, built."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from portwatch import __version__
from tests.support.desktop import Desktop, desktop, desktop_no_tray
from tests.support.procs import wait_until

__all__ = ["desktop", "desktop_no_tray"]  # fixtures used below

REPO = Path(__file__).resolve().parent.parent
APP_ID = "io.github.portwatch.Portwatch"
LINUX = REPO / "resources" / "linux"
RUNTIME_PACKAGES = [
    line.strip()
    for line in (REPO / "packaging" / "linux" / "runtime-packages.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
SELF_TEST_LINE = re.compile(
    rf"^portwatch {re.escape(__version__)} self-test ok: (\d+) listeners?, (\d+) public, "
    r"scan \d+ ms, Qt 6\.\d+\.\d+ \((\w+)\), resources ok, \d+ ms total$"
)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # run()'s overloads cannot tell text mode through **kwargs: the call itself is fine.
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


# --- desktop metadata -----------------------------------------------------------


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstreamcli is not installed")
def test_metainfo_is_valid_appstream() -> None:
    result = run(
        ["appstreamcli", "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed"
)
def test_desktop_entry_is_valid() -> None:
    result = run(["desktop-file-validate", str(LINUX / f"{APP_ID}.desktop")], timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_desktop_entry_and_metainfo_agree() -> None:
    entry = (LINUX / f"{APP_ID}.desktop").read_text()
    assert "\nExec=portwatch\n" in entry
    assert f"\nIcon={APP_ID}\n" in entry
    metainfo = (LINUX / f"{APP_ID}.metainfo.xml").read_text()
    assert f"<id>{APP_ID}</id>" in metainfo
    assert f'<launchable type="desktop-id">{APP_ID}.desktop</launchable>' in metainfo
    assert f'<release version="{__version__}"' in metainfo


# --- --self-test from the source tree ------------------------------------------


def test_self_test_from_source_prints_one_line() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = run([sys.executable, "-m", "portwatch", "--self-test"], cwd=REPO, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    match = SELF_TEST_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(3) == "offscreen"
    assert int(match.group(2)) <= int(match.group(1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland only")
def test_self_test_without_display_falls_back_to_offscreen() -> None:
    """A bundle smoke-tested on a headless machine must not abort in the xcb plugin."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env.pop("WAYLAND_DISPLAY", None)
    result = run([sys.executable, "-m", "portwatch", "--self-test"], cwd=REPO, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    match = SELF_TEST_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(3) == "offscreen"


def test_self_test_names_what_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from portwatch.core import paths
    from portwatch.selftest import run_self_test

    monkeypatch.setattr(paths, "resources_dir", lambda: REPO / "no-such-folder")
    assert run_self_test() == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"portwatch {__version__} self-test FAILED: the app icon ")
    assert captured.err.rstrip().endswith("is missing")
    assert "no-such-folder" in captured.err


# --- the Linux bundle and .deb, built for real (slow) ----------------------------


@dataclass
class Build:
    out: Path
    deb: Path
    seconds: float


@pytest.fixture(scope="module")
def linux_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if not sys.platform.startswith("linux"):
        pytest.skip("the .deb is built on Linux only")
    for tool, package in (
        ("dpkg-deb", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("patchelf", "patchelf"),
    ):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt-get install {package})")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is missing: the test extra in pyproject.toml must list it")
    out = tmp_path_factory.mktemp("packaging")
    started = time.monotonic()
    result = run(
        [str(REPO / "packaging" / "build_linux.sh"), str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-4000:]
    deb = Path(result.stdout.strip().splitlines()[-1])
    assert deb.is_file(), result.stdout
    print(f"\nLinux bundle + .deb built in {seconds:.0f} s")
    return Build(out, deb, seconds)


@pytest.fixture(scope="module")
def unpacked(linux_build: Build, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb's files extracted into a temporary root, as dpkg would install them."""
    root = tmp_path_factory.mktemp("root")
    result = run(["dpkg-deb", "-x", str(linux_build.deb), str(root)], timeout=120)
    assert result.returncode == 0, result.stderr
    return root


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deb_control_fields(linux_build: Build) -> None:
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    assert linux_build.deb.name == f"portwatch_{__version__}_{arch}.deb"
    info = run(["dpkg-deb", "-I", str(linux_build.deb)], timeout=60).stdout
    fields = dict(
        line.strip().split(": ", 1)
        for line in info.splitlines()
        if re.match(r"^ [A-Z][\w-]+: ", line)
    )
    assert fields["Package"] == "portwatch"
    assert fields["Version"] == __version__
    assert fields["Architecture"] == arch
    entries = fields["Depends"].split(", ")
    depends = {}
    for entry in entries:
        match = re.fullmatch(r"([a-z0-9][a-z0-9.+-]+)(?: \(>= ([\w.:~+-]+)\))?", entry)
        assert match, entry
        depends[match.group(1)] = match.group(2)
    # The one runtime list (also used by the README's set-up and CI) is all in it.
    assert set(RUNTIME_PACKAGES) <= set(depends), set(RUNTIME_PACKAGES) - set(depends)
    # Versions from dpkg-shlibdeps: a Debian-12 build never installs on Debian 11's glibc.
    assert depends["libc6"] is not None
    assert tuple(int(x) for x in depends["libc6"].split(".")[:2]) >= (2, 34)
    known = run(["apt-cache", "show", "--no-all-versions", *sorted(depends)], timeout=60)
    assert known.returncode == 0, known.stderr
    assert int(fields["Installed-Size"]) > 10_000  # KiB


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deb_file_list(linux_build: Build) -> None:
    listing = run(["dpkg-deb", "-c", str(linux_build.deb)], timeout=60).stdout
    paths = {line.split()[5] for line in listing.splitlines()}
    expected = {
        "./usr/lib/portwatch/portwatch",
        "./usr/lib/portwatch/_internal/portwatch/_resources/portwatch.svg",
        "./usr/share/man/man1/portwatch.1.gz",
        "./usr/share/doc/portwatch/changelog.gz",
        f"./usr/share/applications/{APP_ID}.desktop",
        f"./usr/share/metainfo/{APP_ID}.metainfo.xml",
        f"./usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
        "./usr/share/doc/portwatch/copyright",
    } | {
        f"./usr/share/icons/hicolor/{n}x{n}/apps/{APP_ID}.png"
        for n in (16, 22, 24, 32, 48, 64, 128, 256, 512)
    }
    assert expected <= paths, expected - paths
    assert "./usr/bin/portwatch -> ../lib/portwatch/portwatch" in listing
    # /opt belongs to the system: removing portwatch must never remove it.
    assert not [p for p in paths if p.startswith("./opt")]
    # Left out on purpose: Qt translations, the GTK theme, unused Qt modules, the icon script.
    assert not [p for p in paths if p.endswith(".qm")]
    assert not [p for p in paths if "qgtk3" in p or "libgtk-3" in p]
    assert not [p for p in paths if re.search(r"Qt(Qml|Quick|Pdf|WebEngine|Multimedia)", p)]
    assert not [p for p in paths if p.endswith("render_icons.py")]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_library_of_the_bundle_resolves(unpacked: Path) -> None:
    """ldd over every ELF file: nothing is 'not found' with the bundle's own folders."""
    internal = unpacked / "usr" / "lib" / "portwatch" / "_internal"
    lib_path = f"{internal}:{internal / 'PySide6' / 'Qt' / 'lib'}"
    missing = []
    for path in internal.parent.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        result = run(["ldd", str(path)], env={**os.environ, "LD_LIBRARY_PATH": lib_path})
        missing += [
            f"{path.name}: {line.strip()}"
            for line in result.stdout.splitlines()
            if "not found" in line
        ]
    assert not missing


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bundled_binary_self_test_offscreen(unpacked: Path, tmp_path: Path) -> None:
    binary = unpacked / "usr" / "lib" / "portwatch" / "portwatch"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        **{k: v for k, v in os.environ.items() if k.startswith("XDG_")},
    }
    # Run from an unrelated folder with no PYTHONPATH: the bundle must be self-contained.
    result = run([str(binary), "--self-test"], cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    match = SELF_TEST_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(3) == "offscreen"
    assert run([str(binary), "--version"], env=env).stdout.strip() == f"portwatch {__version__}"


@pytest.mark.slow
@pytest.mark.desktop
@pytest.mark.timeout(600)
def test_bundled_binary_self_test_on_x11(unpacked: Path, desktop_no_tray: Desktop) -> None:
    """The xcb platform plugin and the X libraries it needs load from the bundle."""
    binary = unpacked / "usr" / "lib" / "portwatch" / "portwatch"
    env = {k: v for k, v in desktop_no_tray.env.items() if k != "QT_QPA_PLATFORM"}
    result = run([str(binary), "--self-test"], env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    match = SELF_TEST_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(3) == "xcb"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_appimage_appdir_runs(linux_build: Build, tmp_path: Path) -> None:
    """The AppImage recipe up to its AppDir (appimagetool itself needs the network)."""
    result = run(
        [
            str(REPO / "packaging" / "linux" / "build_appimage.sh"),
            str(linux_build.out / "dist" / "portwatch"),
            str(linux_build.out / "build" / "portwatch" / "icons"),
            str(tmp_path),
        ],
        env={**os.environ, "APPIMAGETOOL": "none"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    appdir = Path(result.stdout.strip())
    for name in ("AppRun", f"{APP_ID}.desktop", f"{APP_ID}.png", ".DirIcon"):
        assert (appdir / name).exists(), name
    assert (appdir / "usr" / "share" / "metainfo" / f"{APP_ID}.appdata.xml").is_file()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = run([str(appdir / "AppRun"), "--self-test"], cwd=tmp_path, env=env, timeout=120)
    assert started.returncode == 0, started.stderr
    assert SELF_TEST_LINE.match(started.stdout.strip()), started.stdout


@pytest.mark.slow
@pytest.mark.desktop
@pytest.mark.timeout(600)
def test_menu_entry_starts_the_bundled_tray_app(
    unpacked: Path, desktop: Desktop, tmp_path: Path
) -> None:
    """The installed entry's Exec, resolved like /usr/bin/portwatch, puts an icon in the tray."""
    entry = unpacked / "usr" / "share" / "applications" / f"{APP_ID}.desktop"
    exec_line = next(
        line.split("=", 1)[1] for line in entry.read_text().splitlines() if line.startswith("Exec=")
    )
    # /usr/bin/portwatch -> ../lib/portwatch/portwatch, relocated into the temporary root.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "portwatch").symlink_to(unpacked / "usr" / "lib" / "portwatch" / "portwatch")
    env = {k: v for k, v in desktop.env.items() if k != "QT_QPA_PLATFORM"}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    argv = exec_line.split()
    resolved = shutil.which(argv[0], path=env["PATH"])
    assert resolved == str(bin_dir / "portwatch")
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(
        [resolved, *argv[1:]], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def app_item_registered() -> bool:
            items = desktop.registered_status_notifier_items()
            return app.pid in [desktop.connection_pid(item) for item in items]

        assert wait_until(app_item_registered, timeout=30), (tmp_path / "app.log").read_text()
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=15) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=10)
        log.close()
    assert "Traceback" not in (tmp_path / "app.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deb_has_md5sums_changelog_man_page_and_every_licence(
    linux_build: Build, unpacked: Path, tmp_path: Path
) -> None:
    control = tmp_path / "control"
    assert run(["dpkg-deb", "-e", str(linux_build.deb), str(control)]).returncode == 0
    sums = (control / "md5sums").read_text().splitlines()
    assert len(sums) > 100
    # Every line checks out against the unpacked files (md5sum -c, from the root).
    checked = run(["md5sum", "--quiet", "-c", str(control / "md5sums")], cwd=unpacked, timeout=120)
    assert checked.returncode == 0, checked.stdout[-2000:]
    doc = unpacked / "usr" / "share" / "doc" / "portwatch"
    changelog = run(["zcat", str(doc / "changelog.gz")]).stdout
    assert changelog.startswith(f"portwatch ({__version__}) ")
    copyright_text = (doc / "copyright").read_text()
    for licence in ("MIT", "LGPL-3.0-only", "PSF-2.0", "BSD-3-Clause", "Unicode-ICU"):
        assert f"\nLicense: {licence}\n" in copyright_text, licence
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in copyright_text
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in copyright_text
    # Every system library copied into the bundle has its own paragraph.
    internal = unpacked / "usr" / "lib" / "portwatch" / "_internal"
    carried_by_qt = ("libQt6", "libpyside6", "libshiboken6", "libicu", "libpython")
    for library in internal.glob("lib*.so*"):
        if library.name.startswith(carried_by_qt):
            continue  # in the Qt, ICU and Python paragraphs, by pattern
        assert f"/_internal/{library.name}" in copyright_text, library.name
    for prefix in carried_by_qt:
        assert f"/_internal/{prefix}*" in copyright_text, prefix
    if shutil.which("man"):
        page = run(
            ["man", "-l", str(unpacked / "usr" / "share" / "man" / "man1" / "portwatch.1.gz")],
            env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "MAN_KEEP_FORMATTING": ""},
            timeout=60,
        )
        assert page.returncode == 0, page.stderr
        # Generated from the argparse definitions: the commands are there.
        for word in ("--self-test", "list", "who", "autostart"):
            assert word in page.stdout, word


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bundle_has_no_build_machine_runpath_and_no_dangling_links(unpacked: Path) -> None:
    bundle = unpacked / "usr" / "lib" / "portwatch"
    dangling = [str(p) for p in bundle.rglob("*") if p.is_symlink() and not p.exists()]
    assert not dangling
    foreign = []
    for path in bundle.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        runpath = run(["patchelf", "--print-rpath", str(path)]).stdout.strip()
        foreign += [f"{path.name}: {e}" for e in runpath.split(":") if e and "$ORIGIN" not in e]
    assert not foreign


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rpm_from_the_same_bundle_has_versioned_requires(linux_build: Build) -> None:
    if not shutil.which("rpm"):
        pytest.skip("rpm is not installed (apt-get install rpm)")
    rpm = linux_build.out / f"portwatch-{__version__}-1.{os.uname().machine}.rpm"
    assert rpm.is_file(), sorted(p.name for p in linux_build.out.iterdir())
    requires = run(["rpm", "-qpR", str(rpm)], timeout=60).stdout.splitlines()
    assert any(re.fullmatch(r"libc\.so\.6\(GLIBC_2\.\d+\)\(64bit\)", r) for r in requires)
    assert "libEGL.so.1()(64bit)" in requires
    # The bundle's own libraries are neither required from nor offered to the system.
    assert not [r for r in requires if r.startswith(("libQt6", "libpython", "libshiboken"))]
    provides = run(["rpm", "-qp", "--provides", str(rpm)], timeout=60).stdout.splitlines()
    assert not [p for p in provides if ".so" in p]
    files = run(["rpm", "-qpl", str(rpm)], timeout=60).stdout.splitlines()
    assert "/usr/lib/portwatch/portwatch" in files
    assert "/usr/share/doc/portwatch/copyright" in files
    assert not [f for f in files if f.startswith("/opt")]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_builds_give_the_same_deb(linux_build: Build, tmp_path: Path) -> None:
    """Reproducible by default: a second build elsewhere, byte for byte the same .deb."""
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "PYTHONHASHSEED")}
    result = run(
        [str(REPO / "packaging" / "build_linux.sh"), str(tmp_path / "second")],
        env={**env, "PYTHON": sys.executable, "NO_RPM": "1"},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    second = Path(result.stdout.strip().splitlines()[-1])
    first_sum = hashlib.sha256(linux_build.deb.read_bytes()).hexdigest()
    second_sum = hashlib.sha256(second.read_bytes()).hexdigest()
    print(f"\n.deb sha256, two builds: {first_sum} {second_sum}")
    assert first_sum == second_sum
