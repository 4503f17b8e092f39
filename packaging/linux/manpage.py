"""Write portwatch(1), a man page generated from the command line's own argparse definitions.

    python packaging/linux/manpage.py OUT_FILE

Every command and option comes from portwatch.cli.build_parser, so the page cannot
drift from the program. The date is SOURCE_DATE_EPOCH's, for reproducible builds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from portwatch import __version__
from portwatch.cli import build_parser


def roff(text: str) -> str:
    """Plain text made safe for roff: backslashes, leading dots and quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines()
    )


def options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            names = ", ".join(f"\\fB{roff(name)}\\fR" for name in action.option_strings)
            if action.nargs != 0:
                names += f" \\fI{roff(action.metavar or action.dest.upper())}\\fR"
        else:
            names = f"\\fI{roff(str(action.metavar or action.dest))}\\fR"
        out += [".TP", names, roff(action.help or "")]
    return out


def page() -> str:
    parser = build_parser()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    date = datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        f'.TH PORTWATCH 1 "{date}" "portwatch {__version__}" "User Commands"',
        ".SH NAME",
        "portwatch \\- see which programs listen on which ports, and how exposed they are",
        ".SH SYNOPSIS",
        "\\fBportwatch\\fR [\\fIOPTIONS\\fR]",
        ".br",
        "\\fBportwatch\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        ".SH OPTIONS",
        *options(parser),
    ]
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if commands:
        lines.append(".SH COMMANDS")
        helps = {choice.dest: choice.help for choice in commands[0]._choices_actions}
        for name, sub in commands[0].choices.items():
            lines += [".SS " + roff(name), roff(helps.get(name) or sub.description or "")]
            lines += options(sub)
    lines += [
        ".SH FILES",
        ".TP",
        "\\fI~/.config/portwatch/settings.json\\fR",
        "Settings.",
        ".TP",
        "\\fI~/.local/share/portwatch/history.sqlite3\\fR",
        "The port history.",
        ".TP",
        "\\fI~/.local/state/portwatch/log/portwatch.log\\fR",
        "The tray app's log.",
        ".SH SEE ALSO",
        "\\fBss\\fR(8), \\fBlsof\\fR(8)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: manpage.py OUT_FILE\n")
        raise SystemExit(2)
    Path(sys.argv[1]).write_text(page(), encoding="utf-8")
