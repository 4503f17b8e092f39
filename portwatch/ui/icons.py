"""The app icon and the tray states, all drawn from ``resources/portwatch.svg``.

The SVG is drawn in the loopback green (#2E9D5B). A state is that source with
the colour swapped (amber for LAN, red for public, grey when paused, plus a
pause mark); on macOS the tray wants a template icon, a black mask the menu
bar tints itself.
"""

from __future__ import annotations

import functools
import logging
import sys

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from portwatch.core.model import Exposure
from portwatch.core.paths import resource_path

log = logging.getLogger(__name__)

SVG_NAME = "portwatch.svg"
SOURCE_COLOUR = "#2E9D5B"

EXPOSURE_COLOURS: dict[Exposure, str] = {
    Exposure.LOOPBACK: "#2E9D5B",
    Exposure.LAN: "#D68A00",
    Exposure.PUBLIC: "#C9372C",
}
EXPOSURE_WORDS: dict[Exposure, str] = {
    Exposure.LOOPBACK: "loopback",
    Exposure.LAN: "LAN",
    Exposure.PUBLIC: "public",
}
IDLE_COLOUR = "#5E6B73"  # nothing listening yet / no scan yet
PAUSED_COLOUR = "#8A9399"
PAUSE_MARK_COLOUR = "#20262B"
TEMPLATE_COLOUR = "#000000"

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


@functools.cache
def svg_source() -> str:
    try:
        return resource_path(SVG_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        log.warning("icon source missing (%s): using a plain badge", exc)
        return _FALLBACK_SVG


def render(svg: str, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def coloured_svg(colour: str) -> str:
    return svg_source().replace(SOURCE_COLOUR, colour)


def _with_pause_mark(image: QImage, colour: str) -> QImage:
    """Two bars in the lower-right corner, on a light disc so they read on any badge."""
    size = image.width()
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    disc = size * 0.5
    origin = size - disc
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#FFFFFF"))
    painter.drawEllipse(QRectF(origin, origin, disc, disc))
    painter.setBrush(QColor(colour))
    bar_w, bar_h = disc * 0.16, disc * 0.5
    top = origin + (disc - bar_h) / 2
    centre = origin + disc / 2
    painter.drawRect(QRectF(centre - bar_w * 1.6, top, bar_w, bar_h))
    painter.drawRect(QRectF(centre + bar_w * 0.6, top, bar_w, bar_h))
    painter.end()
    return image


def _template(image: QImage) -> QImage:
    """Black, with dark parts opaque and light parts clear: a macOS menu-bar template.

    Drawn from the black badge, so the white socket becomes a cut-out the menu
    bar's own colour shows through.
    """
    # Work on the bytes: a per-pixel pixelColor/setPixelColor loop trips a
    # reference-counting crash in PySide6 6.12 ("none_dealloc").
    source = image.convertToFormat(QImage.Format.Format_ARGB32)
    width, height = source.width(), source.height()
    stride = source.bytesPerLine()
    pixels = bytes(source.constBits())[: stride * height]
    out = bytearray(width * height * 4)
    for y in range(height):
        row = y * stride
        for x in range(width):
            # Format_ARGB32 in memory on little-endian machines: B, G, R, A.
            b, g, r, a = pixels[row + 4 * x : row + 4 * x + 4]
            lightness = (max(r, g, b) + min(r, g, b)) // 2
            out[(y * width + x) * 4 + 3] = a * (255 - lightness) // 255
    mask = QImage(bytes(out), width, height, width * 4, QImage.Format.Format_ARGB32)
    return mask.copy()  # own the pixels: the bytes object above is temporary


def state_colour(exposure: Exposure | None, *, paused: bool) -> str:
    if paused:
        return PAUSED_COLOUR
    if exposure is None:
        return IDLE_COLOUR
    return EXPOSURE_COLOURS[exposure]


@functools.cache
def tray_icon(exposure: Exposure | None, paused: bool, template: bool | None = None) -> QIcon:
    """The tray icon for a state; cached, so a poll costs a dict lookup."""
    if template is None:
        template = sys.platform == "darwin"
    # A template carries no colour: the states differ by the pause mark only.
    colour = TEMPLATE_COLOUR if template else state_colour(exposure, paused=paused)
    svg = coloured_svg(colour)
    icon = QIcon()
    for size in SIZES[:6]:
        image = render(svg, size)
        if paused:
            image = _with_pause_mark(image, PAUSE_MARK_COLOUR)
        if template:
            image = _template(image)
        icon.addPixmap(QPixmap.fromImage(image))
    if template:
        icon.setIsMask(True)
    return icon


@functools.cache
def app_icon() -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(QPixmap.fromImage(render(svg_source(), size)))
    return icon


_FALLBACK_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    f'<rect x="2" y="2" width="60" height="60" rx="13" fill="{SOURCE_COLOUR}"/></svg>'
)
