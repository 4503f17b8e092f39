"""`free` and `suggest`: end whoever holds a port; find a free one."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from portwatch.cli.common import format_listeners, load_labels
from portwatch.core.arguments import interval_seconds, port_number
from portwatch.core.free import TERMINATE_WAIT_SECONDS, FreePlan, free_port
from portwatch.core.naming import NO_LABELS, Labels
from portwatch.core.portcheck import suggest_free_port
from portwatch.core.safetext import visible, visible_lines


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "free",
        help="end the process(es) holding PORT (asks first)",
        description="Ask the process(es) holding PORT (TCP and UDP, every address) to terminate "
        "and wait for them. Never ends PID 0/1, portwatch or the shell that started it. "
        "Exit status: 0 when the port is free afterwards, 1 when it is not, 2 on bad input.",
    )
    p.add_argument("port", type=port_number, metavar="PORT")
    p.add_argument("--force", action="store_true", help="kill what is still running after the wait")
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask (not even the second question for other users' processes and services)",
    )
    p.add_argument(
        "--wait",
        type=interval_seconds,
        default=TERMINATE_WAIT_SECONDS,
        metavar="S",
        help=f"seconds to wait for a graceful exit (default {TERMINATE_WAIT_SECONDS:g})",
    )
    p.set_defaults(func=cmd_free)

    p = sub.add_parser(
        "suggest", help="print the nearest free TCP port at or above PORT (default 8000)"
    )
    p.add_argument("port", type=port_number, metavar="PORT", nargs="?", default=8000)
    p.set_defaults(func=cmd_suggest)


def describe_plan(plan: FreePlan, labels: Labels = NO_LABELS) -> str:
    """What will be ended, with the full command line, so a person can decide."""
    lines = [f"Port {plan.port} is held by:", ""]
    rows = [row for h in plan.holders for row in h.listeners] + list(plan.ownerless)
    lines.append(format_listeners(rows, labels))
    for holder in plan.allowed:
        lines.append("")
        lines.append(f"  {visible(holder.label)}  user {visible(holder.user or '-')}")
        if holder.command_text:
            lines.append(f"    {visible(holder.command_text)}")
    problems = plan.problems()
    if problems:
        lines.append("")
        lines += [visible(line) for line in problems]
    return "\n".join(lines)


def ask(question: str, *, stdin: TextIO, stdout: TextIO) -> bool:
    stdout.write(f"{question} [y/N] ")
    stdout.flush()
    answer = stdin.readline()
    if not answer:
        stdout.write("\n")
    return answer.strip().lower() in {"y", "yes"}


class TerminalConfirm:
    """Asks on the terminal; a second question for other users' processes and services."""

    def __init__(
        self, *, assume_yes: bool, stdin: TextIO, stdout: TextIO, labels: Labels = NO_LABELS
    ) -> None:
        self.assume_yes = assume_yes
        self.stdin = stdin
        self.stdout = stdout
        self.labels = labels
        self.refused_no_tty = False

    def __call__(self, plan: FreePlan) -> bool:
        print(describe_plan(plan, self.labels), file=self.stdout)
        if self.assume_yes:
            return True
        if not self.stdin.isatty():
            self.refused_no_tty = True
            return False
        count = len(plan.allowed)
        noun = "this process" if count == 1 else f"these {count} processes"
        if not ask(f"\nEnd {noun}?", stdin=self.stdin, stdout=self.stdout):
            return False
        for holder in plan.needs_second_confirmation:
            question = visible(f"{holder.label}: {holder.second_confirmation}. Really end it?")
            if not ask(question, stdin=self.stdin, stdout=self.stdout):
                return False
        return True


def cmd_free(args: argparse.Namespace) -> int:
    confirm = TerminalConfirm(
        assume_yes=args.yes, stdin=sys.stdin, stdout=sys.stdout, labels=load_labels()
    )
    outcome = free_port(args.port, force=args.force, timeout=args.wait, confirm=confirm)
    if confirm.refused_no_tty:
        print(
            f"portwatch: not ending anything: there is no terminal to confirm on. "
            f"Run `portwatch free {args.port} --yes` to end it without asking.",
            file=sys.stderr,
        )
        return 1
    stream = sys.stdout if outcome.free_after else sys.stderr
    print(visible_lines(outcome.message()), file=stream)
    if not outcome.free_after and not args.force:
        alive = any(r.alive for r in outcome.results)
        if alive:
            print(
                f"Run `portwatch free {args.port} --force` to kill what is still running.",
                file=sys.stderr,
            )
    return 0 if outcome.free_after else 1


def cmd_suggest(args: argparse.Namespace) -> int:
    suggestion = suggest_free_port(args.port)
    if suggestion.port is None:
        print(f"portwatch: {suggestion.message()}", file=sys.stderr)
        return 1
    print(suggestion.port)
    return 0
