"""Many writers, killed writers, an open Settings dialog: no edit of the settings is lost.

Real processes: twenty `portwatch watch-port add` started together, and a
child that saves in a loop and is killed with SIGKILL in the middle of it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from portwatch.core import paths
from portwatch.core.files import write_atomic
from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import (
    Settings,
    WatchedPort,
    edit_settings,
    load_settings,
    merge_settings,
    save_settings,
)
from portwatch.core.settings_lock import exclusive_lock, lock_path

ROOT = Path(__file__).resolve().parent.parent


def _ports() -> list[str]:
    return [str(w.ports) for w in load_settings().settings.watched_ports]


def _kill_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_twenty_concurrent_adds_all_survive() -> None:
    save_settings(Settings(watched_ports=(WatchedPort(PortSpec(9, 9)),)))
    ports = [str(3000 + n) for n in range(20)]
    procs: list[subprocess.Popen[str]] = []
    try:
        for port in ports:
            procs.append(  # noqa: PERF401  # kept one by one for the cleanup
                subprocess.Popen(
                    [sys.executable, "-m", "portwatch", "watch-port", "add", port],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                )
            )
        results = [(proc.communicate(timeout=120), proc.returncode) for proc in procs]
    finally:
        _kill_all(procs)
    for port, ((out, err), code) in zip(ports, results, strict=True):
        assert (code, out, err) == (0, f"watching {port}\n", "")
    assert sorted(_ports()) == sorted(["9", *ports])
    assert load_settings().message is None


SAVER = textwrap.dedent(
    """
    import sys
    from portwatch.core.portspec import PortSpec
    from portwatch.core.settings import Settings, WatchedPort, save_settings

    # Two contents, each big enough (2,000 entries, ~300 KB) that a write takes a while.
    a = Settings(watched_ports=tuple(WatchedPort(PortSpec(p, p)) for p in range(1, 2001)))
    b = Settings(watched_ports=tuple(WatchedPort(PortSpec(p, p, "tcp")) for p in range(1, 2001)))
    save_settings(a)
    print("saving", flush=True)
    for turn in range(1_000_000):
        save_settings(b if turn % 2 == 0 else a)
    """
)


def test_kill_9_during_saves_leaves_the_old_or_the_new_file() -> None:
    path = paths.settings_file()
    a = Settings(watched_ports=tuple(WatchedPort(PortSpec(p, p)) for p in range(1, 2001)))
    b = Settings(watched_ports=tuple(WatchedPort(PortSpec(p, p, "tcp")) for p in range(1, 2001)))
    rng = random.Random(1234)
    seen: set[str] = set()
    for _ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "saving\n"
            time.sleep(rng.uniform(0.0, 0.3))  # lands anywhere in a save
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        loaded = load_settings()
        assert loaded.message is None, loaded.message
        assert loaded.settings in (a, b)
        seen.add("a" if loaded.settings == a else "b")
        json.loads(path.read_text())  # the file itself is whole JSON
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    # The next writer gets the lock the killed one held (the kernel dropped it) and
    # removes the temporary files that killed writers left.
    edit_settings(lambda s: replace(s, scan_interval=7.0))
    assert load_settings().settings.scan_interval == 7.0
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json", "settings.json.lock"]
    assert seen  # at least one content was seen (both, almost always)


def test_the_lock_file_is_private_and_beside_the_settings() -> None:
    path = save_settings(Settings())
    lock = lock_path(path)
    assert lock == path.with_name("settings.json.lock")
    assert oct(lock.stat().st_mode & 0o777) == "0o600"


def test_a_held_lock_makes_another_process_wait_for_it() -> None:
    """While this process holds the lock, a child's add waits, then keeps both edits."""
    path = save_settings(Settings())
    child = None
    try:
        with exclusive_lock(path):
            child = subprocess.Popen(
                [sys.executable, "-m", "portwatch", "watch-port", "add", "4000"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            # A bounded wait for the child to block on the lock (it cannot finish meanwhile).
            for _ in range(200):
                if child.poll() is not None:
                    break
                time.sleep(0.01)
            assert child.poll() is None, child.communicate()
            # Not save_settings: the lock is not re-entrant, and this process holds it.
            held = Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),))
            write_atomic(path, json.dumps(held.to_json()))
        out, err = child.communicate(timeout=60)
        assert (child.returncode, out, err) == (0, "watching 4000\n", "")
    finally:
        if child is not None and child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
    assert _ports() == ["3000", "4000"]


# --- the Settings dialog's save: my changes on top of what the file holds now ---------------


def test_merge_keeps_an_add_made_while_the_dialog_was_open() -> None:
    base = Settings(
        watched_ports=(WatchedPort(PortSpec(3000, 3000)), WatchedPort(PortSpec(5432, 5432))),
        ignore_processes=("cupsd",),
    )
    # The dialog: interval changed, 5432 given an owner, 3000 removed, 8080 added.
    mine = replace(
        base,
        scan_interval=5.0,
        watched_ports=(
            WatchedPort(PortSpec(5432, 5432), expected_owner="postgres"),
            WatchedPort(PortSpec(8080, 8080)),
        ),
    )
    # Meanwhile on the command line: 4000 added, and exposure level changed.
    theirs = replace(
        base,
        watched_ports=(*base.watched_ports, WatchedPort(PortSpec(4000, 4000))),
        exposure_level=Exposure.LAN,
        ignore_processes=("cupsd", "avahi-daemon"),
    )
    merged = merge_settings(base, mine, theirs)
    assert [str(w.ports) for w in merged.watched_ports] == ["5432", "4000", "8080"]
    assert merged.watched_ports[0].expected_owner == "postgres"
    assert merged.scan_interval == 5.0
    assert merged.exposure_level is Exposure.LAN
    assert merged.ignore_processes == ("cupsd", "avahi-daemon")
    # Nothing changed on my side: theirs as it is.
    assert merge_settings(base, base, theirs) == theirs


def test_dialog_style_save_through_edit_settings_keeps_a_cli_add() -> None:
    base = Settings(watched_ports=(WatchedPort(PortSpec(3000, 3000)),))
    save_settings(base)
    subprocess.run(
        [sys.executable, "-m", "portwatch", "watch-port", "add", "4000"],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    mine = replace(base, quiet_period=0.0)
    edit = edit_settings(lambda current: merge_settings(base, mine, current))
    assert [str(w.ports) for w in edit.after.watched_ports] == ["3000", "4000"]
    assert load_settings().settings == edit.after
    assert edit.after.quiet_period == 0.0
