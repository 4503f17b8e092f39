"""Small widgets: the exposure badge and the dismissable notice bar."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QWidget,
)

from portwatch.core.model import Exposure
from portwatch.ui.icons import EXPOSURE_COLOURS, EXPOSURE_WORDS
from portwatch.ui.tables.cells import ROW_STATE_ROLE

_WORD_TO_EXPOSURE = {word: exposure for exposure, word in EXPOSURE_WORDS.items()}


class ExposureBadgeDelegate(QStyledItemDelegate):
    """Paints the exposure as a coloured pill with its word: never colour alone."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        exposure = _WORD_TO_EXPOSURE.get(text)
        if exposure is None:
            super().paint(painter, option, index)
            return
        # Background (selection, row highlight) as usual, without the text.
        blank = QStyleOptionViewItem(option)
        self.initStyleOption(blank, index)
        blank.text = ""
        style = blank.widget.style() if blank.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, blank, painter, blank.widget)

        state = index.data(ROW_STATE_ROLE)  # greyed when gone
        colour = QColor(EXPOSURE_COLOURS[exposure])
        if state == "gone":
            colour = QColor("#9AA0A6")
        metrics = option.fontMetrics
        pad_x = 8
        width = metrics.horizontalAdvance(text) + 2 * pad_x
        height = min(option.rect.height() - 4, metrics.height() + 4)
        rect = QRectF(
            option.rect.left() + 4,
            option.rect.top() + (option.rect.height() - height) / 2,
            min(width, option.rect.width() - 8),
            height,
        )
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(QColor("#FFFFFF"))
        font = option.font
        font.setBold(exposure is Exposure.PUBLIC)
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 24, max(hint.height(), option.fontMetrics.height() + 8))


class NoticeBar(QFrame):
    """A one-line message across the window top with a close button."""

    dismissed = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("#FFF4D6"))
        palette.setColor(QPalette.ColorRole.WindowText, QColor("#4A3B00"))
        self.setPalette(palette)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setOpenExternalLinks(True)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        self.close_button = close
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
