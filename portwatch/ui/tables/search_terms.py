"""The search box's words, parsed once per keystroke for the search proxies."""

from __future__ import annotations

from dataclasses import dataclass

from portwatch.core.services import ports_for_name


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """The search box's words, lower-case.

    A word of digits is a number: it matches a port or PID exactly. Any other
    word matches any text of the row, and an alphabetic one also the ports of
    the services whose names contain it ("postgres" → 5432).
    """

    text: str = ""
    words: tuple[tuple[str, frozenset[int]], ...] = ()
    numbers: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SearchTerms:
        normalised = " ".join(text.lower().split())
        words: list[tuple[str, frozenset[int]]] = []
        numbers: list[int] = []
        for word in normalised.split():
            if word.isdigit():
                numbers.append(int(word))
            else:
                ports = frozenset(ports_for_name(word)) if word.isalpha() else frozenset()
                words.append((word, ports))
        return cls(normalised, tuple(words), tuple(numbers))

    def narrows(self, wider: SearchTerms) -> bool:
        """True if every row these terms accept, ``wider`` accepted too.

        Typing on extends a word or adds one: then each number of ``wider`` is
        still here, and each of its words lies inside one of these words (a
        longer word matches fewer texts and fewer service names).
        """
        if not set(wider.numbers) <= set(self.numbers):
            return False
        return all(any(word in mine for mine, _ in self.words) for word, _ in wider.words)


def is_port_or_pid(number: int, ports_and_pid: tuple[tuple[int, ...], int | None]) -> bool:
    """Whether a number the search box holds is one of a row's ports or its PID."""
    ports, pid = ports_and_pid
    return number in ports or number == pid


def terms_match(
    terms: SearchTerms, haystack: str, ports_and_pid: tuple[tuple[int, ...], int | None]
) -> bool:
    """Whether a row with this search text, ports and PID matches every word of ``terms``."""
    for number in terms.numbers:
        if not is_port_or_pid(number, ports_and_pid):
            return False
    for word, service_ports in terms.words:
        if word in haystack:
            continue
        if service_ports and not service_ports.isdisjoint(ports_and_pid[0]):
            continue
        return False
    return True
