"""safetext: valid text at the boundary, visible escapes on output, masked secrets."""

from __future__ import annotations

import csv
import io
import os
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.core.safetext import (
    MASK,
    csv_cell,
    from_bytes,
    from_os,
    mask_argv,
    mask_text,
    visible,
    visible_lines,
)

# What may never survive visible(): C0, DEL, C1, bidi controls, line separators, surrogates.
_NEVER = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))] + list(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060"
    "\u2066\u2067\u2068\u2069\u2028\u2029\ufeff"
)


def _bad(text: str) -> list[str]:
    return [c for c in text if c in _NEVER or unicodedata.category(c) == "Cs"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("a\u200b.png\ufeff", "a\\u200b.png\\ufeff"),
        ("\x85\x9b\x7f", "\\x85\\x9b\\x7f"),
        ("\udcff", "\\xff"),
        ("café 日本 👩\u200d💻", "café 日本 👩\u200d💻"),  # ordinary text (and emoji joiners) stays
    ],
)
def test_visible_escapes_what_a_terminal_or_a_layout_would_obey(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_from_os_and_from_bytes_keep_invalid_bytes_visibly() -> None:
    assert from_os(os.fsdecode(b"\xff\xfeok")) == "\\xff\\xfeok"
    assert from_bytes(b"caf\xc3\xa9 \xff") == "café \\xff"
    assert from_os("\x1b[2J") == "\x1b[2J"  # escaping is for output, not for storage
    assert from_os(os.fsdecode(b"\xed\xa0\x80")) == "\\xed\\xa0\\x80"  # an encoded surrogate


def test_csv_cell_prefixes_formulas_even_after_spaces() -> None:
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("  +1") == "'  +1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-e") == "'-e"
    assert csv_cell("\tcmd") == "'\\tcmd"
    assert csv_cell("node") == "node"
    assert csv_cell("a=b") == "a=b"


def test_visible_lines_keeps_line_breaks_only() -> None:
    assert visible_lines("one \x1b[2J\ntwo\u202e") == "one \\x1b[2J\ntwo\\u202e"


@pytest.mark.parametrize(
    ("argv", "masked"),
    [
        (["app", "--password=hunter2"], ["app", f"--password={MASK}"]),
        (["app", "--token", "abc", "--port", "1"], ["app", "--token", MASK, "--port", "1"]),
        (["app", "DB_PASSWORD=x", "HOME=/root"], ["app", f"DB_PASSWORD={MASK}", "HOME=/root"]),
        (["mysql", "-phunter2", "db"], ["mysql", f"-p{MASK}", "db"]),
        (["ssh", "-p", "22"], ["ssh", "-p", "22"]),
        (["app", "postgres://me:hunter2@db/x"], ["app", f"postgres://me:{MASK}@db/x"]),
        # A switch that turns a password off takes no value: the next argument is kept.
        (["app", "--no-password", "serve"], ["app", "--no-password", "serve"]),
        (["app", "--password", "--verbose"], ["app", "--password", "--verbose"]),
    ],
)
def test_mask_argv(argv: list[str], masked: list[str]) -> None:
    assert list(mask_argv(argv)) == masked


def test_mask_text_keeps_the_spacing() -> None:
    assert mask_text("app  --password=hunter2\tx") == f"app  --password={MASK}\tx"


@given(st.text())
def test_visible_output_is_one_safe_line(text: str) -> None:
    shown = visible(text)
    assert _bad(shown) == []
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8")
    assert visible(shown) == shown  # nothing left to escape


@given(st.binary())
def test_from_bytes_is_always_valid_text(data: bytes) -> None:
    text = from_bytes(data)
    text.encode("utf-8")
    if data.isascii():
        assert text == data.decode("ascii")


@given(st.lists(st.text(), max_size=8))
def test_csv_cells_never_split_a_row_nor_start_a_formula(cells: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([csv_cell(c) for c in cells])
    assert out.getvalue().count("\n") == 1
    for cell in next(csv.reader(io.StringIO(out.getvalue())), []):
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@"))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"))))
def test_mask_argv_never_lets_a_password_value_through(secret: str) -> None:
    masked = mask_argv(["app", f"--password={secret}", "--api-key", secret or "x"])
    if secret:
        assert masked[1] == f"--password={MASK}"
    assert masked[2:] == ("--api-key", MASK) or (secret or "x").startswith("-")
