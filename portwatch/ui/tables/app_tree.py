"""The "Group by app" tree: one node per app or project, its ports under it.

How a group is named and what its cells show is in ``app_tree_cells``.

Updated like the flat table: ``apply`` diffs the snapshot against what the
tree holds and emits inserts, removes and ``dataChanged`` on the group and
child level, never a reset; a snapshot whose ``listeners_generation`` was
applied last does nothing. A group whose ports all moved to one new name (a
label given, a project found) is renamed in place, so the view keeps it
expanded and selected.

Indexes: a group's index has internal id 0; a child's carries its group's
id (never reused), which finds the group and so the parent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, overload

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt

from portwatch.core.model import Listener, ListenerKey
from portwatch.core.naming import NO_LABELS, Labels
from portwatch.core.safetext import visible
from portwatch.ui.tables.app_tree_cells import (
    HEADERS,
    LAST_COLUMN,
    NUMERIC,
    AppTreeColumn,
    changed_columns,
    child_sort,
    child_text,
    group_name,
    group_sort,
    group_text,
    group_texts,
)
from portwatch.ui.tables.cells import (
    ALIGNMENT,
    DISPLAY,
    ITEM_ROLE,
    SORT_ROLE,
    TOOLTIP,
    AnyIndex,
    alignment,
)
from portwatch.ui.tables.runs import blocks, contiguous_runs

Haystack = Callable[[Listener], str]


@dataclass(eq=False, slots=True)
class _Group:
    ident: int  # the internal id of its children's indexes
    name: str
    position: int
    children: list[Listener] = field(default_factory=list)
    haystacks: list[str] = field(default_factory=list)
    rows: dict[ListenerKey, int] = field(default_factory=dict)
    texts: tuple[str, ...] = ()  # what its row shows, to tell a change

    def renumber(self) -> None:
        self.rows = {child.key: row for row, child in enumerate(self.children)}


class AppTreeModel(QAbstractItemModel):
    """Apps and projects with their listeners; ``apply`` a snapshot's listeners, ``set_labels``."""

    def __init__(self, haystack: Haystack, parent: QObject | None = None) -> None:
        """``haystack``: a listener's lower-case search text (the flat table's own)."""
        super().__init__(parent)
        self._haystack = haystack
        self._labels = NO_LABELS
        self._listeners: tuple[Listener, ...] = ()
        self._generation: int | None = None
        self._groups: list[_Group] = []
        self._by_name: dict[str, _Group] = {}
        self._by_ident: dict[int, _Group] = {}
        self._idents = itertools.count(1)

    # --- updates ---------------------------------------------------------------------

    @property
    def labels(self) -> Labels:
        return self._labels

    def apply(self, listeners: Iterable[Listener], *, generation: int | None = None) -> None:
        """Bring the tree to ``listeners``; the generation applied last again does nothing."""
        if generation is not None and generation == self._generation:
            return
        self._generation = generation
        self._listeners = tuple(listeners)
        self._sync(self._labels)

    def set_labels(self, labels: Labels) -> None:
        """The user's names changed: groups are renamed or regrouped, children restyled."""
        if labels == self._labels:
            return
        before, self._labels = self._labels, labels
        self._sync(before)

    def _sync(self, labels_before: Labels) -> None:
        wanted: dict[str, dict[ListenerKey, Listener]] = {}
        placed: set[ListenerKey] = set()
        for item in self._listeners:
            if item.key in placed:  # a duplicate key in one snapshot: keep the first
                continue
            placed.add(item.key)
            wanted.setdefault(group_name(item, self._labels), {})[item.key] = item
        touched = self._rename(wanted)
        touched |= self._remove(wanted)
        touched |= self._update(wanted, labels_before)
        self._add(wanted)
        self._restyle(touched)

    def _rename(self, wanted: dict[str, dict[ListenerKey, Listener]]) -> set[int]:
        """Groups whose ports all go to one name no group has yet take that name."""
        name_of = {key: name for name, members in wanted.items() for key in members}
        renamed: set[int] = set()
        for group in self._groups:
            if group.name in wanted:
                continue
            names = {name_of[child.key] for child in group.children if child.key in name_of}
            if len(names) != 1:
                continue
            (name,) = names
            if name in self._by_name:
                continue
            del self._by_name[group.name]
            group.name = name
            self._by_name[name] = group
            renamed.add(group.ident)
        return renamed

    def _remove(self, wanted: dict[str, dict[ListenerKey, Listener]]) -> set[int]:
        """Groups no longer wanted go, and children no longer in their group."""
        touched: set[int] = set()
        groups = self._groups
        for position in range(len(groups) - 1, -1, -1):
            group = groups[position]
            members = wanted.get(group.name)
            if members is None:
                self.beginRemoveRows(QModelIndex(), position, position)
                del groups[position]
                del self._by_name[group.name]
                del self._by_ident[group.ident]
                for later in groups[position:]:  # their children's parent() moves up now
                    later.position -= 1
                self.endRemoveRows()
                continue
            doomed = [row for row, child in enumerate(group.children) if child.key not in members]
            if not doomed:
                continue
            parent = self.createIndex(position, 0, 0)
            for first, last in reversed(contiguous_runs(doomed)):
                self.beginRemoveRows(parent, first, last)
                del group.children[first : last + 1]
                del group.haystacks[first : last + 1]
                self.endRemoveRows()
            group.renumber()
            touched.add(group.ident)
        return touched

    def _update(
        self, wanted: dict[str, dict[ListenerKey, Listener]], labels_before: Labels
    ) -> set[int]:
        """Changed children in place, new ones appended to their group."""
        touched: set[int] = set()
        relabelled = labels_before != self._labels
        for group in self._groups:
            members = wanted[group.name]
            parent = self.createIndex(group.position, 0, 0)
            changed: list[tuple[int, int, int]] = []  # (first column, last column, row)
            for row, old in enumerate(group.children):
                new = members[old.key]
                same = new is old or new == old
                if not same:
                    group.children[row] = new
                if not same or relabelled:
                    group.haystacks[row] = self._haystack(new)
                span = self._child_span(old, new, labels_before) if not same or relabelled else None
                if span is not None:
                    changed.append((*span, row))
            for top, bottom, left, right in blocks(changed):
                self.dataChanged.emit(
                    self.index(top, left, parent), self.index(bottom, right, parent)
                )
            fresh = [item for key, item in members.items() if key not in group.rows]
            if fresh:
                start = len(group.children)
                self.beginInsertRows(parent, start, start + len(fresh) - 1)
                group.children.extend(fresh)
                group.haystacks.extend(self._haystack(item) for item in fresh)
                group.renumber()
                self.endInsertRows()
            if changed or fresh:
                touched.add(group.ident)
        return touched

    def _child_span(
        self, old: Listener, new: Listener, labels_before: Labels
    ) -> tuple[int, int] | None:
        """The columns of a child whose text changed (its labels as they were, and are)."""
        span = changed_columns(old, labels_before, new, self._labels)
        if span is None and old != new:
            # Nothing visible changed (a tooltip, the item behind the row): the whole row.
            return 0, LAST_COLUMN
        return span

    def _add(self, wanted: dict[str, dict[ListenerKey, Listener]]) -> None:
        """New groups, with their children, appended in one batch."""
        names = [name for name in wanted if name not in self._by_name]
        if not names:
            return
        start = len(self._groups)
        self.beginInsertRows(QModelIndex(), start, start + len(names) - 1)
        for position, name in enumerate(names, start):
            children = list(wanted[name].values())
            group = _Group(next(self._idents), name, position, children)
            group.haystacks = [self._haystack(item) for item in children]
            group.renumber()
            group.texts = group_texts(name, children)
            self._groups.append(group)
            self._by_name[name] = group
            self._by_ident[group.ident] = group
        self.endInsertRows()

    def _restyle(self, touched: set[int]) -> None:
        """The group rows whose name or sums changed say so."""
        for ident in touched:
            group = self._by_ident.get(ident)
            if group is None:
                continue
            texts = group_texts(group.name, group.children)
            if texts == group.texts:
                continue
            changed = [
                col for col, (a, b) in enumerate(zip(texts, group.texts, strict=True)) if a != b
            ]
            group.texts = texts
            first, last = (min(changed), max(changed)) if changed else (0, LAST_COLUMN)
            self.dataChanged.emit(
                self.createIndex(group.position, first, 0),
                self.createIndex(group.position, last, 0),
            )

    # --- access for the view, the filter and tests ---------------------------------------

    def group_names(self) -> list[str]:
        """The groups' names, in the model's order (not the view's)."""
        return [group.name for group in self._groups]

    def group_row(self, name: str) -> int | None:
        group = self._by_name.get(name)
        return None if group is None else group.position

    def listener_at(self, index: AnyIndex) -> Listener | None:
        """The listener of a child index (None for a group or an invalid index)."""
        group = self._group_of_child(index)
        if group is None or not 0 <= index.row() < len(group.children):
            return None
        return group.children[index.row()]

    def haystack_at(self, index: AnyIndex) -> str:
        """A child's search text, with its group's name (so a search finds a whole app)."""
        group = self._group_of_child(index)
        if group is None or not 0 <= index.row() < len(group.haystacks):
            return ""
        return f"{group.haystacks[index.row()]}\n{visible(group.name).lower()}"

    def _group_of_child(self, index: AnyIndex) -> _Group | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        return self._by_ident.get(index.internalId())

    # --- Qt model interface --------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex | None = None) -> QModelIndex:
        if not 0 <= column < len(HEADERS) or row < 0:
            return QModelIndex()
        if parent is None or not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._groups) else QModelIndex()
        if parent.internalId() != 0 or not 0 <= parent.row() < len(self._groups):
            return QModelIndex()  # a child has no children
        group = self._groups[parent.row()]
        if row >= len(group.children):
            return QModelIndex()
        return self.createIndex(row, column, group.ident)

    @overload
    def parent(self) -> QObject | None: ...
    @overload
    def parent(self, child: AnyIndex) -> QModelIndex: ...
    def parent(self, child: AnyIndex | None = None) -> QObject | QModelIndex | None:
        if child is None:
            return super().parent()
        group = self._group_of_child(child)
        if group is None:
            return QModelIndex()
        return self.createIndex(group.position, 0, 0)

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        if parent is None or not parent.isValid():
            return len(self._groups)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        row = parent.row()
        return len(self._groups[row].children) if 0 <= row < len(self._groups) else 0

    def columnCount(self, parent: AnyIndex | None = None) -> int:
        del parent  # every row has the same columns
        return len(HEADERS)

    def hasChildren(self, parent: AnyIndex | None = None) -> bool:
        return self.rowCount(parent) > 0

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == DISPLAY:
            return HEADERS[section]
        if role == ALIGNMENT:
            return alignment(section in NUMERIC)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: AnyIndex, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        col = index.column()
        if role == ALIGNMENT:
            return alignment(col in NUMERIC)
        if index.internalId() == 0:
            row = index.row()
            if not 0 <= row < len(self._groups):
                return None
            group = self._groups[row]
            if role == DISPLAY:
                return group_text(group.name, group.children, col)
            if role == SORT_ROLE:
                return group_sort(group.name, group.children, col)
            return None
        item = self.listener_at(index)
        if item is None:
            return None
        if role == DISPLAY:
            return child_text(item, self._labels, col)
        if role == SORT_ROLE:
            return child_sort(item, self._labels, col)
        if role == ITEM_ROLE:
            return item
        if role == TOOLTIP and col == AppTreeColumn.SUMMARY and len(item.pids) > 1:
            return "PIDs " + ", ".join(str(pid) for pid in item.pids)
        return None


__all__ = ["AppTreeModel", "Haystack"]
