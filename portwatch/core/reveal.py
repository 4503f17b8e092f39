"""Reveal an executable in the file manager, and start programs detached from portwatch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from portwatch.core.child_env import user_environment


def reveal_commands(
    path: str,
    *,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[list[str]]:
    """The commands that show ``path`` selected in the file manager, best first.

    Linux has no single answer: the FileManager1 D-Bus interface (Nautilus,
    Dolphin, Nemo, Thunar …) selects the file; xdg-open on the folder is the
    fallback every desktop has.
    """
    if platform == "darwin":
        return [["open", "-R", path]]
    if platform == "win32":
        return [["explorer", f"/select,{path}"]]
    commands = []
    if which("dbus-send"):
        commands.append(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--reply-timeout=2000",
                "--dest=org.freedesktop.FileManager1",
                "--type=method_call",
                "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1.ShowItems",
                f"array:string:{Path(path).as_uri()}",
                "string:",
            ]
        )
    if which("xdg-open"):
        commands.append(["xdg-open", str(Path(path).parent)])
    return commands


@dataclass(frozen=True, slots=True)
class RevealResult:
    command: tuple[str, ...] | None
    error: str | None = None


def reveal_in_file_manager(path: str | None) -> RevealResult:
    """Run the first reveal command that works; the file manager runs detached."""
    if not path:
        return RevealResult(None, "The executable's path is not known (it may need privileges).")
    if not Path(path).exists():
        return RevealResult(None, f"{path} does not exist any more (deleted or replaced).")
    commands = reveal_commands(path)
    if not commands:
        return RevealResult(None, "No file manager opener found (install xdg-utils).")
    errors = []
    for argv in commands:
        if argv[0] == "dbus-send":
            # A quick call that answers at once (an error when no file
            # manager provides FileManager1), so falling back is reliable.
            try:
                done = subprocess.run(
                    argv, capture_output=True, timeout=5, check=False, env=user_environment()
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
                continue
            if done.returncode == 0:
                return RevealResult(tuple(argv))
            errors.append(done.stderr.decode(errors="replace").strip())
            continue
        try:
            run_detached(argv)
        except OSError as exc:
            errors.append(f"{argv[0]}: {exc.strerror or exc}")
            continue
        return RevealResult(tuple(argv))
    return RevealResult(None, "Could not open the file manager: " + "; ".join(errors))


def run_detached(argv: Sequence[str]) -> None:
    """Start a program that outlives nothing of ours: own session, no inherited output."""
    windows = sys.platform == "win32"
    # Windows detaches by creation flags, POSIX by a new session; each ignores the other's.
    flags = (
        getattr(subprocess, "DETACHED_PROCESS", 0)
        | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        if windows
        else 0
    )
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        creationflags=flags,
        start_new_session=not windows,
        env=user_environment(),
    )
    if not windows:
        # Reap it when it ends (openers exit at once; a file manager may stay), so
        # no zombie is left behind for the life of the app.
        threading.Thread(target=proc.wait, name=f"reap-{argv[0]}", daemon=True).start()
