"""Where rows go in a sorted order, and how table row numbers shift after removals.

Plain list arithmetic for ``SortProxy``, kept apart from its Qt signalling.
"""

from __future__ import annotations

import bisect
from itertools import repeat
from typing import Any


def sorted_place(
    keys: list[Any], rows: list[int], value: Any, table_row: int, descending: bool
) -> int:
    """Where a table row with sort value ``value`` goes among ``rows``
    (sorted, with their sort values ``keys``)."""
    if descending:
        # keys descend: bisect by hand for the run of keys equal to value
        low, high = 0, len(keys)
        while low < high:
            middle = (low + high) // 2
            if keys[middle] > value:
                low = middle + 1
            else:
                high = middle
        end, high = low, len(keys)
        while end < high:
            middle = (end + high) // 2
            if keys[middle] < value:
                high = middle
            else:
                end = middle + 1
    else:
        low = bisect.bisect_left(keys, value)
        end = bisect.bisect_right(keys, value, low)
    # Among equal values, rows go by their table row, ascending.
    return bisect.bisect_left(rows, table_row, low, end)


def removal_remap(removed: list[tuple[int, int]], rows_left: int) -> list[int]:
    """Old table row number -> new one (-1: removed), after the (first, last)
    runs ``removed`` left ``rows_left`` rows in the table.

    The runs were removed from the last to the first, so each is in the
    numbering from before any of them.
    """
    remap: list[int] = []
    gap = kept = 0
    for first, last in sorted(removed):
        remap.extend(range(kept, kept + first - gap))
        kept += first - gap
        remap.extend(repeat(-1, last - first + 1))
        gap = last + 1
    total = rows_left + len(remap) - kept
    remap.extend(range(kept, kept + total - gap))
    return remap
