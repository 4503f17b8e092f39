"""Process text made safe: valid text at the boundary, visible escapes on output, masked secrets.

Process names, command lines, paths and user names come from other programs,
so they are untrusted input:

- :func:`from_os` and :func:`from_bytes` run where they are read. Bytes that
  are not UTF-8 (psutil hands them over as lone surrogates) become the visible
  text ``\\xff``, so no later layer sees a string that cannot be encoded.
- :func:`visible` is for one line of text output (a terminal, a CSV cell, a
  label): control characters (C0, C1, DEL), bidirectional overrides, line
  separators and characters that draw nothing (zero width space, BOM) become
  escapes such as ``\\x1b``, ``\\n`` or ``\\u202e``, so a name can neither
  drive the terminal, reorder or hide what is shown nor split a row.
- :func:`csv_cell` also keeps a spreadsheet from reading a cell as a formula.
- :func:`mask_argv` and :func:`mask_text` hide secrets (``--password=…``,
  ``TOKEN=…``, ``user:pass@`` in URLs) before text is stored, logged or put in
  a notification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MASK = "******"

# Bidirectional formatting characters (Unicode's Bidi_Control) and the two
# Unicode line separators: shown as escapes, never obeyed.
_BIDI_AND_SEPARATORS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Also escaped: characters that draw nothing and have no place in a name or a
# path (zero width space, word joiner, byte order mark), so "a\u200b.png" cannot
# pass for "a.png". Joiners used inside emoji (U+200C, U+200D) are kept.
_NEEDS_ESCAPE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069"
    "\u2028\u2029\ufeff\ud800-\udfff]"
)
# What a spreadsheet takes for the start of a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def from_os(text: str) -> str:
    """Text from the OS (psutil, os.readlink) with undecodable bytes shown as ``\\xNN``.

    Everything else is kept as it is: escaping for output is :func:`visible`'s job.
    """
    if text.isascii():
        return text
    return re.sub("[\ud800-\udfff]", lambda m: _escape(m.group()), text)


def from_bytes(data: bytes) -> str:
    """UTF-8 bytes as text, each invalid byte shown as ``\\xNN``."""
    return from_os(data.decode("utf-8", "surrogateescape"))


def visible(text: str) -> str:
    """One line that shows ``text`` exactly, with nothing a terminal or a layout would obey."""
    if text.isascii() and text.isprintable():
        return text
    return _NEEDS_ESCAPE.sub(lambda m: _escape(m.group()), text)


def visible_lines(text: str) -> str:
    """:func:`visible` for each line of a message that has several (a dialog, a notification)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def csv_cell(text: str) -> str:
    """:func:`visible`, with a leading apostrophe where a spreadsheet would see a formula."""
    shown = visible(text)
    # Spreadsheets skip leading spaces before they look for a formula.
    if text.startswith(_FORMULA_START) or text.lstrip(" ").startswith(_FORMULA_START[:4]):
        return "'" + shown
    return shown


def has_bidi_controls(text: str) -> bool:
    return any(char in _BIDI_AND_SEPARATORS for char in text)


# --- secrets ---

# Words in an option or variable name that say its value is a secret.
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api-key",
    "api_key",
    "access-key",
    "access_key",
    "private-key",
    "private_key",
    "credential",
)
# Options that are exactly a short secret flag, e.g. "--pass hunter2".
_SECRET_OPTIONS = frozenset({"--pass", "-pass", "--pw", "--pwd", "--auth", "-auth"})
# Clients that take the password glued to -p (mysql -phunter2).
_GLUED_P_CLIENTS = frozenset(
    {"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlcheck", "mariadb"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# scheme://user:password@host: the password part.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+(?=@)")
# After a masked flag, a value that is itself an option is not the secret.
_LOOKS_LIKE_OPTION = re.compile(r"^-{1,2}[A-Za-z]")


def _is_secret_name(name: str) -> bool:
    lowered = name.lower().lstrip("-")
    return any(word in lowered for word in _SECRET_WORDS)


def _mask_url(arg: str) -> str:
    if "://" not in arg or "@" not in arg:
        return arg
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, arg)


def _mask_one(arg: str) -> tuple[str, bool]:
    """``arg`` masked, and whether the next argument is the secret value of it."""
    if arg.startswith("-"):
        name, equals, value = arg.partition("=")
        if _is_secret_name(name) or name in _SECRET_OPTIONS:
            if equals:
                return f"{name}={MASK}" if value else arg, False
            # "--no-password" is a switch: the next argument is not its value.
            return arg, not name.lower().startswith("--no-")
        return _mask_url(arg), False
    name, equals, value = arg.partition("=")
    if equals and value and _ENV_NAME.match(name) and _is_secret_name(name):
        return f"{name}={MASK}", False
    return _mask_url(arg), False


def mask_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """A command line with its secrets replaced by ``******``; everything else unchanged."""
    masked: list[str] = []
    glued_p = bool(argv) and _program(argv[0]) in _GLUED_P_CLIENTS
    value_next = False
    for arg in argv:
        if value_next and not _LOOKS_LIKE_OPTION.match(arg):
            masked.append(MASK)
            value_next = False
            continue
        if glued_p and arg.startswith("-p") and len(arg) > 2 and not arg.startswith("-p="):
            masked.append("-p" + MASK)
            value_next = False
            continue
        text, value_next = _mask_one(arg)
        masked.append(text)
    return tuple(masked)


def mask_text(text: str) -> str:
    """:func:`mask_argv` for a command line already joined with spaces (a log line, a body)."""
    if not text:
        return text
    parts = re.split(r"(\s+)", text)
    words = parts[0::2]
    masked = mask_argv(words)
    parts[0::2] = masked
    return "".join(parts)


def _program(arg0: str) -> str:
    return arg0.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
