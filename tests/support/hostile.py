"""Real hostile children: listeners whose name, command line and folder attack the output.

A hostile child is ``listener_child.py`` started through this file: run as a
script, it renames its own process (``prctl(PR_SET_NAME)``, bytes that are not
UTF-8 plus an ESC sequence and U+202E), optionally moves into a folder with a
hostile name, then runs the listener child in the same process, so the name
stays. Its command line carries the hostile arguments below. Parent side:
:func:`hostile_listener` starts one on 127.0.0.1 and ends it afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.procs import ListenerProcess

# Run as a script, this file cannot import the tests package: only the standard library.
CHILD = Path(__file__).with_name("listener_child.py")

# The kernel keeps 15 bytes of a process name: two invalid UTF-8 bytes, a
# "clear screen" sequence and U+202E (right-to-left override) in UTF-8.
HOSTILE_NAME = b"\xff\xfe\x1b[2J\xe2\x80\xaepwn"
# What that name shows as, everywhere portwatch prints or draws it.
HOSTILE_NAME_SHOWN = "\\xff\\xfe\\x1b[2J\\u202epwn"

PASSWORD = "hunter2"
BIG = "A" * 100_000
# Each starts with "--" so listener_child.py does not take it for a socket.
HOSTILE_ARGS = (
    "--title=\x1b]0;pwned\x07",
    "--clear=\x1b[2J",
    "--link=\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "--note=first line\nsecond line",
    "--file=\u202egnp.exe",
    "--html=<h1>FAKE</h1><img src=x>",
    "--raw=\udcff\udcfe",  # bytes that are not UTF-8 (os.fsencode makes them \xff\xfe)
    f"--password={PASSWORD}",
    f"--big={BIG}",
)
# How the joined command line shows these, in visible form (safetext.visible).
SHOWN_PARTS = (
    "--title=\\x1b]0;pwned\\x07",
    "--clear=\\x1b[2J",
    "--link=\\x1b]8;;http://x\\x07link\\x1b]8;;\\x07",
    "--note=first line\\nsecond line",
    "--file=\\u202egnp.exe",
    "--html=<h1>FAKE</h1><img src=x>",
    "--raw=\\xff\\xfe",
)
# Characters that must never reach a terminal, a CSV file or a label raw.
FORBIDDEN = ("\x1b", "\x07", "\u202e", "\x9b")
HOSTILE_DIR_NAME = "dir\x1b[2J\u202e"

_PR_SET_NAME = 15


@contextlib.contextmanager
def hostile_listener(
    folder: Path | None = None, *, name: bytes = HOSTILE_NAME
) -> Iterator[ListenerProcess]:
    """A hostile child listening on 127.0.0.1 (TCP, a port the OS picks); stopped after.

    With ``folder``, it runs in a subfolder of it with a hostile name.
    """
    from tests.support.procs import ListenerProcess

    prefix = [sys.executable, __file__, *HOSTILE_ARGS, f"--name-hex={name.hex()}"]
    if folder is not None:
        target = folder / HOSTILE_DIR_NAME
        target.mkdir(exist_ok=True)
        prefix.append(f"--chdir-hex={os.fsencode(target).hex()}")
    child = ListenerProcess(["tcp:127.0.0.1:0"], prefix=prefix)
    try:
        yield child
    finally:
        child.stop()


def _run_child(argv: list[str]) -> None:
    """Rename this process, then become listener_child.py (argv: ours, then its)."""
    start = argv.index(str(CHILD))
    for arg in argv[:start]:
        if arg.startswith("--name-hex="):
            libc = ctypes.CDLL(None, use_errno=True)
            name = bytes.fromhex(arg.removeprefix("--name-hex="))
            if libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME) failed")
        elif arg.startswith("--chdir-hex="):
            os.chdir(bytes.fromhex(arg.removeprefix("--chdir-hex=")))
    sys.argv = argv[start:]
    runpy.run_path(str(CHILD), run_name="__main__")


if __name__ == "__main__":
    # argv: this file's options, then "python listener_child.py SPEC..." (the
    # prefix form of ListenerProcess); the interpreter path is skipped.
    _run_child(sys.argv[1:])
