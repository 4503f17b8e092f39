"""What a table cell shows: the columns, the roles beyond Qt's, colours and tooltips."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette
from PySide6.QtGui import Qt as QtText  # Qt's text functions (mightBeRichText) live in QtGui

from portwatch.core.safetext import visible, visible_lines

T = TypeVar("T")

AnyIndex = QModelIndex | QPersistentModelIndex

# Roles beyond Qt's own. SORT_ROLE gives raw values Qt compares natively
# (ints, and strings built to sort in numeric order); ITEM_ROLE the item itself.
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ITEM_ROLE = int(Qt.ItemDataRole.UserRole) + 2
ROW_STATE_ROLE = int(Qt.ItemDataRole.UserRole) + 3

# Qt's roles as plain ints: data() runs for every painted cell and compares them.
DISPLAY = int(Qt.ItemDataRole.DisplayRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)

NEW_BACKGROUND = QColor(46, 157, 91, 70)
GONE_BACKGROUND = QColor(200, 60, 60, 45)
GONE_FOREGROUND = QColor(130, 130, 130)
FLASH_BACKGROUND = QColor(240, 180, 40, 90)

NEW_BRUSH = QBrush(NEW_BACKGROUND)
GONE_BRUSH = QBrush(GONE_BACKGROUND)
GONE_TEXT_BRUSH = QBrush(GONE_FOREGROUND)
FLASH_BRUSH = QBrush(FLASH_BACKGROUND)


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """One column: its title, its text, its sort value, and how to align it."""

    title: str
    text: Callable[[T], str]
    sort: Callable[[T], Any]
    numeric: bool = False
    tooltip: str = ""


_TEXT_ALIGNMENT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_NUMBER_ALIGNMENT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def alignment(numeric: bool) -> Qt.AlignmentFlag:
    """Numbers right-aligned (titles over their digits), text left."""
    return _NUMBER_ALIGNMENT if numeric else _TEXT_ALIGNMENT


# A tooltip longer than this (a 100 KB command line) is cut: the details pane has it all.
TOOLTIP_LIMIT = 2000


def plain_tooltip(text: str, *, multiline: bool = False) -> str:
    """A tooltip that shows ``text`` as it is: visible escapes, never read as markup.

    One line (newlines shown as ``\\n``) unless ``multiline``. Qt guesses
    whether a tooltip is rich text (``Qt.mightBeRichText``); text it would take
    for markup is sent as its HTML-escaped form, which shows the same characters.
    """
    shown = visible_lines(text) if multiline else visible(text)
    if len(shown) > TOOLTIP_LIMIT:
        shown = f"{shown[:TOOLTIP_LIMIT]}… ({len(shown) - TOOLTIP_LIMIT:,} more characters)"
    if QtText.mightBeRichText(shown):
        return QtText.convertFromPlainText(shown, Qt.WhiteSpaceMode.WhiteSpaceNormal)
    return shown


# Dimmed text stays readable: WCAG's 4.5:1 for body text, on both row colours.
MIN_CONTRAST = 4.5


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG's contrast ratio of two opaque colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def dim_text_colour(palette: QPalette) -> QColor:
    """The palette's text moved toward the background as far as it stays readable.

    Derived from the palette, so it is dim in a light theme and a dark one
    alike, and never below ``MIN_CONTRAST`` against the row colours (where the
    theme's own text is already at the edge, it stays that text).
    """
    group = QPalette.ColorGroup.Active
    text = palette.color(group, QPalette.ColorRole.Text)
    backgrounds = (
        palette.color(group, QPalette.ColorRole.Base),
        palette.color(group, QPalette.ColorRole.AlternateBase),
    )
    base = backgrounds[0]
    for step in range(12, 0, -1):  # from 60 % of the way to the background, down
        share = step / 20
        mixed = QColor.fromRgbF(
            text.redF() + (base.redF() - text.redF()) * share,
            text.greenF() + (base.greenF() - text.greenF()) * share,
            text.blueF() + (base.blueF() - text.blueF()) * share,
        )
        if all(contrast_ratio(mixed, back) >= MIN_CONTRAST for back in backgrounds):
            return mixed
    return text


_dim_brushes: dict[int, QBrush] = {}


def dim_text_brush() -> QBrush:
    """:func:`dim_text_colour` of the application's palette (made once per palette)."""
    palette = QGuiApplication.palette()
    key = palette.cacheKey()
    brush = _dim_brushes.get(key)
    if brush is None:
        _dim_brushes.clear()  # a theme change: the old palette's brush is done with
        brush = _dim_brushes[key] = QBrush(dim_text_colour(palette))
    return brush
