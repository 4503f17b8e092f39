"""Who portwatch runs as, and which user owns a process: for the safety rules and copy texts."""

from __future__ import annotations

import getpass
import os
import sys

import psutil

IS_WINDOWS = sys.platform == "win32"


def my_identity() -> tuple[int | None, str | None]:
    """portwatch's effective uid (None on Windows) and user name (DOMAIN\\user on Windows)."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):
        user = None
    if IS_WINDOWS and user is not None:
        domain = os.environ.get("USERDOMAIN")
        user = f"{domain}\\{user}" if domain else user
    return uid, user


def owner_uid(pid: int) -> int | None:
    """The real uid of process ``pid``; None on Windows or when it cannot be read."""
    if sys.platform == "win32":  # spelled out so mypy --platform win32 sees the branch
        return None
    try:
        return int(psutil.Process(pid).uids().real)
    except (psutil.Error, OSError):
        return None
