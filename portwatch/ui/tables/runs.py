"""Changed row numbers grouped into runs and rectangles, so one signal covers many rows."""

from __future__ import annotations

from collections.abc import Iterable


def contiguous_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted row numbers grouped into contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def blocks(cells: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(first column, last column, row) changes grouped into rectangles.

    Rows next to each other with the same column span become one block
    (first row, last row, first column, last column).
    """
    grouped: list[tuple[int, int, int, int]] = []
    for first_col, last_col, row in sorted(cells):
        if grouped:
            top, bottom, left, right = grouped[-1]
            if (left, right) == (first_col, last_col) and bottom == row - 1:
                grouped[-1] = (top, row, left, right)
                continue
        grouped.append((row, row, first_col, last_col))
    return grouped
