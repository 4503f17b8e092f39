"""The notification's icon: the PNG a package installed, else a theme name; never the SVG."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from portwatch.core.paths import APP_ID, resource_path
from portwatch.notify.dbus import FALLBACK_ICON, default_icon


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x2e\x9d\x5b\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _install(share: Path, sizes: tuple[int, ...]) -> dict[int, Path]:
    """As the .deb and the .rpm do: PNGs of these sizes and the SVG in the hicolor theme."""
    hicolor = share / "icons" / "hicolor"
    scalable = hicolor / "scalable" / "apps"
    scalable.mkdir(parents=True)
    (scalable / f"{APP_ID}.svg").write_text(resource_path("portwatch.svg").read_text())
    pngs = {}
    for size in sizes:
        apps = hicolor / f"{size}x{size}" / "apps"
        apps.mkdir(parents=True)
        pngs[size] = apps / f"{APP_ID}.png"
        pngs[size].write_bytes(_png())
    return pngs


@pytest.mark.parametrize(
    ("sizes", "chosen"),
    [((16, 48, 64, 128, 256, 512), 128), ((16, 32), 32), ((256, 512), 256)],
)
def test_a_packaged_install_gives_its_png_up_to_128_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, ...], chosen: int
) -> None:
    pngs = _install(tmp_path / "share", sizes)
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))
    icon = default_icon()
    assert icon == str(pngs[chosen])
    assert Path(icon).is_file()


def test_the_users_own_data_folder_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = _install(tmp_path / "system", (128,))
    user = _install(tmp_path / "user", (128,))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "system"))
    assert default_icon() == str(user[128]) != str(system[128])


def test_without_an_installed_png_a_theme_name_not_the_svg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pip install: the SVG in portwatch's resources, and at most an SVG in a theme.
    _install(tmp_path / "share", ())
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))
    assert resource_path("portwatch.svg").is_file()
    icon = default_icon()
    assert icon == FALLBACK_ICON
    assert "/" not in icon
    assert not icon.endswith(".svg")


@pytest.mark.usefixtures("qapp")
def test_a_pip_install_renders_the_app_icon_into_the_cache_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtGui import QImage

    from portwatch.core import paths
    from portwatch.ui.notify_icon import ICON_SIZE, notification_icon

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "empty"))
    icon = Path(notification_icon())
    assert icon.parent == paths.cache_dir()
    assert icon.suffix == ".png"
    image = QImage(str(icon))
    assert (image.width(), image.height()) == (ICON_SIZE, ICON_SIZE)
    # The badge is drawn: its middle is the loopback green, not transparent.
    assert image.pixelColor(ICON_SIZE // 2, ICON_SIZE // 2).alpha() == 255
    made = icon.stat().st_mtime_ns
    assert notification_icon() == str(icon)
    assert icon.stat().st_mtime_ns == made  # drawn once
    # A package's PNG wins over the rendered one.
    pngs = _install(tmp_path / "share", (64,))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))
    assert notification_icon() == str(pngs[64])
