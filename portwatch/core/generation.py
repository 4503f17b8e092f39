"""Generation numbers: how a layer says "my output changed" without handing out new objects.

Each layer that keeps its last answer for quiet polls (the datagram memo, the
row caches, the owner cache, the scanner) tags that answer with a number
from here, taken anew only when the answer changed. One counter for the
whole process: two answers with the same number are the same answer, even
from two instances (a reopened netlink socket, a second scanner).
"""

from __future__ import annotations

import itertools

_NUMBERS = itertools.count(1)


def next_generation() -> int:
    """A number no answer in this process has had yet (greater than all before)."""
    return next(_NUMBERS)


class GenerationByKey:
    """The generation of an answer known by a key: a new number when the key differs.

    The key is what the answer is made of: the generations of its inputs, or
    the answer itself where its maker gives none (compared by value then).
    """

    def __init__(self) -> None:
        self._key: object = None
        self.value = 0

    def of(self, key: object) -> int:
        if self.value == 0 or key != self._key:
            self._key = key
            self.value = next_generation()
        return self.value


__all__ = ["GenerationByKey", "next_generation"]
