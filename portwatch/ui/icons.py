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
    """Black with the source's alpha: what macOS wants for a menu-bar template."""
    mask = QImage(image.size(), QImage.Format.Format_ARGB32_Premultiplied)
    mask.fill(Qt.GlobalColor.transparent)
    painter = QPainter(mask)
    painter.drawImage(0, 0, image)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(mask.rect(), QColor("#000000"))
    painter.end()
    return mask


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
    svg = coloured_svg(state_colour(exposure, paused=paused))
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
