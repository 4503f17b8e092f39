"""The icon renderer: PNG sizes, and ICO/ICNS containers that parse back."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QImageReader

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "resources" / "render_icons.py"
APP_ID = "io.github.portwatch.Portwatch"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def icons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("render_icons: 13 files")
    return out


def png_size(blob: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert blob[:8] == PNG_MAGIC
    assert blob[12:16] == b"IHDR"
    width, height = struct.unpack(">II", blob[16:24])
    return width, height


@pytest.mark.parametrize("size", [16, 22, 24, 32, 48, 64, 128, 256, 512])
def test_hicolor_png_has_its_size_and_is_not_blank(icons: Path, size: int) -> None:
    path = icons / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert png_size(path.read_bytes()) == (size, size)
    image = QImage(str(path))
    assert image.size().width() == size
    # The badge fills the middle and the corners stay transparent (rounded square).
    centre = image.pixelColor(size // 2, size // 4)
    assert centre.alpha() == 255
    assert image.pixelColor(0, 0).alpha() == 0


def test_scalable_svg_is_the_source(icons: Path) -> None:
    copied = icons / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert copied.read_bytes() == (REPO / "resources" / "portwatch.svg").read_bytes()


def test_ico_header_entries_and_png_payloads(icons: Path) -> None:
    data = (icons / "portwatch.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 7)
    sizes = []
    for index in range(count):
        width, height, _colors, _res, planes, bits, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index : 6 + 16 * (index + 1)]
        )
        blob = data[offset : offset + length]
        real = png_size(blob)
        # 0 in the directory means 256.
        assert real == (width or 256, height or 256)
        assert (planes, bits) == (1, 32)
        sizes.append(real[0])
    assert sizes == [16, 24, 32, 48, 64, 128, 256]
    assert offset + length == len(data)


def test_icns_header_chunks_and_png_payloads(icons: Path) -> None:
    data = (icons / "portwatch.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    chunks: dict[str, int] = {}
    pos = 8
    while pos < len(data):
        kind = data[pos : pos + 4].decode("ascii")
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        chunks[kind] = png_size(data[pos + 8 : pos + length])[0]
        pos += length
    assert pos == len(data)
    assert chunks == {
        "ic11": 32,
        "ic12": 64,
        "ic07": 128,
        "ic13": 256,
        "ic08": 256,
        "ic14": 512,
        "ic09": 512,
        "ic10": 1024,
    }


@pytest.mark.parametrize(("name", "count"), [("portwatch.ico", 7), ("portwatch.icns", 8)])
def test_qt_reads_every_image_of_the_containers(icons: Path, name: str, count: int) -> None:
    """An independent reader (Qt's ico/icns plugins) agrees with the layout."""
    reader = QImageReader(str(icons / name))
    assert reader.imageCount() == count
    widths = []
    for index in range(count):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        widths.append(image.width())
    assert max(widths) == (256 if name.endswith("ico") else 1024)


def test_unreadable_svg_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.svg"
    bad.write_text("not svg")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "out"), "--svg", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "render_icons: " in result.stderr
    assert "not a readable SVG" in result.stderr
    assert "Traceback" not in result.stderr
