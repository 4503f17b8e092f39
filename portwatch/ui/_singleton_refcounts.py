"""Workaround: PySide6 6.12 on Python 3.11 drops references to None and True.

Measured here (PySide6-Essentials 6.12.0, CPython 3.11.7): every call of a
Qt method that returns nothing (``setObjectName``, ``setText``, ``emit``...)
and every Python override of a virtual that returns ``None`` (``data()`` for
a role it does not serve) leaves ``sys.getrefcount(None)`` one lower. On 3.12+
None is immortal (PEP 683, https://peps.python.org/pep-0683/) so nothing
happens; on 3.11 the count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc". True leaks the same way on some paths
(measured ~1 per poll; "bool_dealloc" after a minute-long soak at 0.1 s).
The tray app loses ~26 references to None per poll with an idle table, so
it would die after about an hour.

Until PySide6 is fixed (not yet reported upstream from here: report at
https://bugreports.qt.io/projects/PYSIDE), give None the effectively endless
count that 3.12 gives it by design, and the same to True and False. Remove
when Python >= 3.12 is required or a fixed PySide6 is the minimum.
"""

from __future__ import annotations

import ctypes
import sys

# 2**40 lost references is ~35 years of polling at the measured rate.
_BOOST = 1 << 40
_FLOOR = 1 << 39


def keep_singletons_alive() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object (non-debug builds).
        count = ctypes.c_ssize_t.from_address(id(singleton))
        if count.value < _FLOOR:
            count.value += _BOOST
