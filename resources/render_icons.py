"""Render portwatch's icons from the one SVG source, with Qt's own SVG renderer.

    python resources/render_icons.py OUT_DIR [--svg resources/portwatch.svg]

Writes into OUT_DIR (a build folder; nothing here is committed):

    hicolor/<N>x<N>/apps/io.github.portwatch.Portwatch.png   N = 16 … 512
    hicolor/scalable/apps/io.github.portwatch.Portwatch.svg
    portwatch.ico    Windows: PNG entries 16 … 256 (Vista and later read PNG in ICO)
    portwatch.icns   macOS: ic11 … ic10 PNG chunks (16@2x … 512@2x)
    portwatch.png    256 px, for AppImage and README use

No tool beyond PySide6 is needed: the ICO and ICNS containers are written
here, they are a header and a table of PNG blobs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
from pathlib import Path

APP_ID = "io.github.portwatch.Portwatch"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS chunk types whose payload is a PNG, with their pixel size
# (Apple's "icns" format; ic11-ic14 are the @2x variants of 16/32/128/256).
ICNS_CHUNKS = (
    ("ic11", 32),
    ("ic12", 64),
    ("ic07", 128),
    ("ic13", 256),
    ("ic08", 256),
    ("ic14", 512),
    ("ic09", 512),
    ("ic10", 1024),
)
DEFAULT_SVG = Path(__file__).resolve().parent / "portwatch.svg"


class IconError(Exception):
    """The SVG cannot be read or an icon cannot be written."""


def render_pngs(svg: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes of the SVG at each size (square, transparent background)."""
    # Rendering needs no display; the offscreen platform keeps this usable in CI.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise IconError(f"{svg}: not a readable SVG")
    pngs: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise IconError(f"cannot encode a {size} px PNG")
        buffer.close()
        pngs[size] = bytes(data.data())
    return pngs


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO file holding one PNG entry per size (sizes up to 256)."""
    sizes = sorted(pngs)
    if any(size > 256 for size in sizes):
        raise IconError("ICO entries are at most 256 px")
    header = struct.pack("<HHH", 0, 1, len(sizes))  # reserved, type 1 = icon, count
    offset = len(header) + 16 * len(sizes)
    entries = b""
    blobs = b""
    for size in sizes:
        blob = pngs[size]
        # Width/height 0 means 256; 32 bits per pixel, one plane.
        dim = 0 if size == 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def build_icns(chunks: list[tuple[str, bytes]]) -> bytes:
    """An ICNS file: 'icns' + total length, then (type, length, PNG) chunks, big-endian."""
    body = b""
    for kind, blob in chunks:
        body += kind.encode("ascii") + struct.pack(">I", 8 + len(blob)) + blob
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_all(svg: Path, out: Path) -> list[Path]:
    """Every icon file portwatch's installers use; returns the paths written."""
    all_sizes = tuple(sorted({*PNG_SIZES, *ICO_SIZES, *(s for _, s in ICNS_CHUNKS)}))
    pngs = render_pngs(svg, all_sizes)
    written: list[Path] = []
    try:
        for size in PNG_SIZES:
            path = out / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pngs[size])
            written.append(path)
        scalable = out / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
        scalable.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg, scalable)
        written.append(scalable)
        ico = out / "portwatch.ico"
        ico.write_bytes(build_ico({size: pngs[size] for size in ICO_SIZES}))
        icns = out / "portwatch.icns"
        icns.write_bytes(build_icns([(kind, pngs[size]) for kind, size in ICNS_CHUNKS]))
        flat = out / "portwatch.png"
        flat.write_bytes(pngs[256])
        written += [ico, icns, flat]
    except OSError as exc:
        raise IconError(f"cannot write icons into {out}: {exc.strerror or exc}") from exc
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render portwatch's icons from its SVG.")
    parser.add_argument("out", type=Path, help="build folder to write into")
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="the SVG source")
    args = parser.parse_args(argv)
    try:
        written = render_all(args.svg, args.out)
    except IconError as exc:
        sys.stderr.write(f"render_icons: {exc}\n")
        return 1
    sys.stdout.write(f"render_icons: {len(written)} files in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
