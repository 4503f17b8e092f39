"""The main window's toolbar: the search box, the listener toggles, Group by app, Pause, Settings.

Other parts add their actions after these (``install_actions``). A control
that works on some tabs only says which (``limit_to``): on the other tabs it
is greyed out, and its tooltip names the tabs it works on (``show_tab``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLineEdit, QToolBar, QToolButton, QWidget

from portwatch.ui.tables.filters import ListenerToggles

SEARCH_DEBOUNCE_MS = 150
# The Pause button's text while monitoring, and while paused.
PAUSE_TEXT, RESUME_TEXT = "Pause", "Resume"
# The main window's own tabs, by their titles.
LISTENERS_TAB, CONNECTIONS_TAB = "Listeners", "Connections"


def tabs_text(tabs: tuple[str, ...]) -> str:
    """'the Listeners tab', 'the Listeners and Connections tabs'."""
    if len(tabs) == 1:
        return f"the {tabs[0]} tab"
    return f"the {', '.join(tabs[:-1])} and {tabs[-1]} tabs"


class FilterBar(QToolBar):
    search_changed = Signal()  # typing paused for SEARCH_DEBOUNCE_MS: search now
    toggles_changed = Signal()  # a listener toggle was switched
    pause_toggled = Signal(bool)
    settings_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent)
        self.setObjectName("mainToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search: port, process, address, service (e.g. postgres)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(340)
        self.search_action = self.addWidget(self.search)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.search_changed)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())

        self.addSeparator()
        self.tcp_action = self._toggle("TCP", True, "Show TCP listeners")
        self.udp_action = self._toggle("UDP", True, "Show UDP sockets")
        self.hide_loopback_action = self._toggle(
            "Hide loopback-only", False, "Hide sockets reachable only from this machine"
        )
        self.only_public_action = self._toggle(
            "Only public", False, "Show only sockets reachable on every interface or publicly"
        )
        for action in self.persisted_toggles().values():
            action.toggled.connect(self.toggles_changed)
        self.addSeparator()
        # The window remembers this one with its layout (it is a view, not a filter).
        self.group_action = self._toggle(
            "Group by app", False, "Show the ports under the app or project that holds them"
        )
        self.addSeparator()
        self.pause_action = self._toggle(PAUSE_TEXT, False, "Pause monitoring")
        self.pause_action.toggled.connect(self.pause_toggled)
        self._fix_pause_width()
        self.settings_action = QAction("Settings…", self)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.settings_requested)
        self.addAction(self.settings_action)

        # The tabs each limited control works on, as one group per set of tabs
        # (a disabled group greys its actions whatever their own state).
        self._tab = LISTENERS_TAB  # the window opens on it
        self._scopes: dict[tuple[str, ...], QActionGroup] = {}
        self.limit_to([self.search_action], (LISTENERS_TAB, CONNECTIONS_TAB))
        self.limit_to([*self.persisted_toggles().values(), self.group_action], (LISTENERS_TAB,))

    def _toggle(self, text: str, checked: bool, tip: str) -> QAction:
        action = QAction(text, self)
        action.setCheckable(True)
        action.setChecked(checked)
        action.setToolTip(tip)
        self.addAction(action)
        return action

    def limit_to(self, actions: Iterable[QAction], tabs: tuple[str, ...]) -> None:
        """These actions work on ``tabs`` only: elsewhere they are greyed out,
        their tooltip naming those tabs. Pause and Settings work everywhere."""
        group = self._scopes.get(tabs)
        if group is None:
            group = self._scopes[tabs] = QActionGroup(self)
            # A group's checkable actions are exclusive by default: these are not.
            group.setExclusionPolicy(QActionGroup.ExclusionPolicy.None_)
        for action in actions:
            group.addAction(action)
        self.show_tab(self._tab)

    def show_tab(self, title: str) -> None:
        """The tab titled ``title`` is shown: enable the controls that work on it, grey the rest."""
        self._tab = title
        for tabs, group in self._scopes.items():
            works = title in tabs
            group.setEnabled(works)
            where = tabs_text(tabs)
            for action in group.actions():
                # The action's own words as they are now (Open in browser changes
                # its own with the selection), without what an earlier tab added.
                tooltip = action.toolTip()
                for added in (f" (works only on {where})", f"Works only on {where}"):
                    tooltip = tooltip.removesuffix(added)
                if not works:
                    tooltip = (
                        f"{tooltip} (works only on {where})"
                        if tooltip
                        else f"Works only on {where}"
                    )
                action.setToolTip(tooltip)
                widget = self.widgetForAction(action)
                if widget is not None and not isinstance(widget, QToolButton):
                    widget.setToolTip(tooltip)  # the search box shows its own tooltip

    def _fix_pause_width(self) -> None:
        """The Pause button as wide as its widest text: Resume moves no button after it."""
        button = self.widgetForAction(self.pause_action)
        shown = self.pause_action.text()
        widths = []
        for text in (PAUSE_TEXT, RESUME_TEXT):
            self.pause_action.setText(text)
            widths.append(button.sizeHint().width())
        self.pause_action.setText(shown)
        button.setMinimumWidth(max(widths))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # Another font or style measures the texts differently.
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fix_pause_width()

    def set_search_now(self, text: str) -> None:
        """Put ``text`` in the search box and search at once (no typing pause to wait for)."""
        self.search.setText(text)
        self._search_timer.stop()
        self.search_changed.emit()

    def toggles(self) -> ListenerToggles:
        return ListenerToggles(
            tcp=self.tcp_action.isChecked(),
            udp=self.udp_action.isChecked(),
            hide_loopback=self.hide_loopback_action.isChecked(),
            only_public=self.only_public_action.isChecked(),
        )

    def persisted_toggles(self) -> dict[str, QAction]:
        """The toggles the window saves, by their key in its settings file."""
        return {
            "tcp": self.tcp_action,
            "udp": self.udp_action,
            "hide_loopback": self.hide_loopback_action,
            "only_public": self.only_public_action,
        }

    @property
    def paused(self) -> bool:
        return self.pause_action.isChecked()

    def set_paused(self, paused: bool) -> None:
        """Reflect the monitoring state (without emitting pause_toggled again)."""
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.setText(RESUME_TEXT if paused else PAUSE_TEXT)
        self.pause_action.setToolTip("Resume monitoring" if paused else "Pause monitoring")
        self.pause_action.blockSignals(False)
