"""The words the history is told in: durations as a person says them, and what --since means."""

from __future__ import annotations

import pytest

from portwatch.core.formats import format_duration
from portwatch.core.history import parse_since, since_words


@pytest.mark.parametrize(
    ("seconds", "words", "short"),
    [
        (0, "0 s", "0s"),
        (12, "12 s", "12s"),
        (12.9, "12 s", "12s"),
        (60, "1 min", "1m 00s"),
        (279, "4 min 39 s", "4m 39s"),
        (3600, "1 h", "1h 00m"),
        (7500, "2 h 5 min", "2h 05m"),
        (7509, "2 h 5 min", "2h 05m"),  # two units, as the short form
        (86400, "1 day", "1d 0h"),
        (90000, "1 day 1 h", "1d 1h"),
        (3 * 86400 + 4 * 3600, "3 days 4 h", "3d 4h"),
        (-5, "0 s", "0s"),
    ],
)
def test_one_duration_formatter_in_words_and_short(seconds: float, words: str, short: str) -> None:
    assert format_duration(seconds, words=True) == words
    assert format_duration(seconds) == short


def test_an_unknown_duration_is_empty_either_way() -> None:
    assert format_duration(None) == format_duration(None, words=True) == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2h", "in the last 2 hours"),
        (" 1h ", "in the last hour"),
        ("30m", "in the last 30 minutes"),
        ("1.5d", "in the last 1.5 days"),
        ("45S", "in the last 45 seconds"),
        ("2w", "in the last 2 weeks"),
        ("2026-11-21", "since 2026-11-21"),
        ("2026-11-21T14:00 ", "since 2026-11-21T14:00"),
    ],
)
def test_since_words_say_what_parse_since_reads(text: str, words: str) -> None:
    parse_since(text)  # a text the search takes
    assert since_words(text) == words
