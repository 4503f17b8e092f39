"""What a table cell shows: the columns, the roles beyond Qt's, colours and tooltips."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
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
